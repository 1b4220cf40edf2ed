//! Request pipelining on one connection, over a raw socket: requests
//! written back to back are answered in request order even when an earlier
//! one waits (a fetch long-poll), and a connection's unanswered request
//! bytes stay within `--in-flight-bytes-max` (the broker stops reading).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use harness::BrokerProcess;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, FetchRequest, MetadataRequest, RequestHeader,
    RequestKind, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

const TOPIC: &str = "pipelined";

fn frame(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &RequestKind,
) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())));
    let mut buffer = BytesMut::new();
    buffer.put_i32(0);
    header
        .encode(&mut buffer, api_key.request_header_version(version))
        .unwrap();
    body.encode(&mut buffer, version).unwrap();
    let length = i32::try_from(buffer.len() - 4).unwrap();
    buffer[..4].copy_from_slice(&length.to_be_bytes());
    buffer.to_vec()
}

fn metadata(correlation_id: i32) -> Vec<u8> {
    let body = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC)))),
        ]))
        .with_allow_auto_topic_creation(true);
    frame(
        ApiKey::Metadata,
        4,
        correlation_id,
        "raw",
        &RequestKind::Metadata(body),
    )
}

fn api_versions(correlation_id: i32) -> Vec<u8> {
    let body = RequestKind::ApiVersions(ApiVersionsRequest::default());
    frame(ApiKey::ApiVersions, 2, correlation_id, "raw", &body)
}

/// A fetch at the end of the empty topic that long-polls `max_wait_ms`.
fn long_poll(correlation_id: i32, max_wait_ms: i32, client_id: &str) -> Vec<u8> {
    let body = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1024 * 1024)
        .with_max_bytes(1024 * 1024)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1024 * 1024),
                ]),
        ]);
    frame(
        ApiKey::Fetch,
        4,
        correlation_id,
        client_id,
        &RequestKind::Fetch(body),
    )
}

/// Reads one response frame and returns its correlation id.
fn read_correlation_id(stream: &mut TcpStream) -> i32 {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).unwrap();
    let mut payload = vec![0u8; usize::try_from(i32::from_be_bytes(length)).unwrap()];
    stream.read_exact(&mut payload).unwrap();
    i32::from_be_bytes(payload[..4].try_into().unwrap())
}

fn connect(broker: &BrokerProcess) -> TcpStream {
    let mut stream = TcpStream::connect(broker.kafka).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Create the topic, so the fetches below long-poll on it.
    stream.write_all(&metadata(0)).unwrap();
    assert_eq!(read_correlation_id(&mut stream), 0);
    stream
}

#[test]
fn requests_written_back_to_back_are_answered_in_request_order() {
    let broker = BrokerProcess::start();
    let mut stream = connect(&broker);
    // The long-polls finish last, but their answers must come first.
    let mut burst = Vec::new();
    burst.extend(long_poll(1, 800, "raw"));
    burst.extend(api_versions(2));
    burst.extend(metadata(3));
    burst.extend(long_poll(4, 300, "raw"));
    burst.extend(api_versions(5));
    burst.extend(metadata(6));
    stream.write_all(&burst).unwrap();
    // While the first long-poll waits, the broker has read (and served)
    // everything behind it: all six requests are in flight at once.
    std::thread::sleep(Duration::from_millis(200));
    let in_flight = broker.metric("fjord_broker_in_flight_request_bytes");
    // Counted without the six 4-byte length prefixes.
    assert_eq!(
        in_flight,
        (burst.len() - 6 * 4) as f64,
        "requests read ahead"
    );
    let answered: Vec<i32> = (0..6).map(|_| read_correlation_id(&mut stream)).collect();
    assert_eq!(answered, vec![1, 2, 3, 4, 5, 6]);
    // The connection is still good for more.
    stream.write_all(&api_versions(7)).unwrap();
    assert_eq!(read_correlation_id(&mut stream), 7);
}

#[test]
fn a_connection_stops_reading_at_its_in_flight_byte_bound() {
    const BOUND: usize = 1024;
    let broker = BrokerProcess::start_with(&["--in-flight-bytes-max", "1024"]);
    let mut stream = connect(&broker);
    // ~300-byte requests that each stay unanswered for 400 ms: only three
    // fit in the bound at a time.
    let padding = "p".repeat(200);
    let requests: Vec<Vec<u8>> = (1..=12).map(|id| long_poll(id, 400, &padding)).collect();
    let request_bytes = requests[0].len();
    assert!(
        request_bytes * 4 > BOUND && request_bytes < BOUND,
        "{request_bytes}"
    );
    for request in &requests {
        stream.write_all(request).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let in_flight = broker.metric("fjord_broker_in_flight_request_bytes");
    assert!(in_flight > 0.0, "nothing in flight");
    assert!(in_flight <= BOUND as f64, "{in_flight} bytes in flight");
    assert!(broker.metric("fjord_broker_connection_read_pauses_total") >= 1.0);
    let answered: Vec<i32> = (0..12).map(|_| read_correlation_id(&mut stream)).collect();
    assert_eq!(answered, (1..=12).collect::<Vec<_>>());
    assert_eq!(broker.metric("fjord_broker_in_flight_request_bytes"), 0.0);
}

#[test]
fn a_connection_stops_reading_at_its_in_flight_request_bound() {
    let broker = BrokerProcess::start_with(&["--in-flight-requests-max", "2"]);
    let mut stream = connect(&broker);
    let requests: Vec<Vec<u8>> = (1..=6).map(|id| long_poll(id, 400, "raw")).collect();
    let payload_bytes = requests[0].len() - 4;
    for request in &requests {
        stream.write_all(request).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    // Two long-polls are read and waiting; the other four stay unread.
    let in_flight = broker.metric("fjord_broker_in_flight_request_bytes");
    assert_eq!(in_flight, (2 * payload_bytes) as f64);
    assert!(broker.metric("fjord_broker_connection_read_pauses_total") >= 1.0);
    let answered: Vec<i32> = (0..6).map(|_| read_correlation_id(&mut stream)).collect();
    assert_eq!(answered, (1..=6).collect::<Vec<_>>());
}
