//! Asks one broker for a topic's Metadata over and over, as a client
//! refreshing its metadata would, and counts what it answers: the topic with
//! its partitions, the topic reported unknown, another error, or no answer
//! (connection refused or closed: a broker that is down or starting).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

const VERSION: i16 = 9;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// What one broker answered.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    /// The topic with every partition.
    pub(crate) complete: AtomicU64,
    /// UNKNOWN_TOPIC_OR_PARTITION for the topic.
    pub(crate) unknown: AtomicU64,
    /// Any other topic error, or fewer partitions (retriable for clients).
    pub(crate) other: AtomicU64,
    /// No answer: refused, reset or closed.
    pub(crate) unanswered: AtomicU64,
}

impl Answers {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

pub(crate) struct MetadataPoller {
    pub(crate) answers: Arc<Answers>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetadataPoller {
    /// Polls `broker` every `every` for `topic`, which has `partitions`.
    pub(crate) fn start(
        broker: SocketAddr,
        topic: &str,
        partitions: usize,
        every: Duration,
    ) -> Self {
        let answers = Arc::new(Answers::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (answers, stop, topic) =
                (Arc::clone(&answers), Arc::clone(&stop), topic.to_owned());
            move || {
                let mut connection: Option<TcpStream> = None;
                let mut correlation = 0;
                while !stop.load(Ordering::Relaxed) {
                    correlation += 1;
                    let answer =
                        connection
                            .take()
                            .or_else(|| connect(broker))
                            .and_then(|mut stream| {
                                let answer = ask(&mut stream, &topic, correlation)?;
                                connection = Some(stream);
                                Some(answer)
                            });
                    let counter = match answer {
                        None => &answers.unanswered,
                        Some(response) => classify(&answers, &response, &topic, partitions),
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(every);
                }
            }
        });
        Self {
            answers,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for MetadataPoller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn connect(broker: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&broker, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(stream)
}

fn classify<'a>(
    answers: &'a Answers,
    response: &MetadataResponse,
    topic: &str,
    partitions: usize,
) -> &'a AtomicU64 {
    let found = response
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|name| name.0.as_str() == topic));
    match found {
        Some(t) if t.error_code == UNKNOWN_TOPIC_OR_PARTITION => &answers.unknown,
        Some(t) if t.error_code == 0 && t.partitions.len() == partitions => &answers.complete,
        _ => &answers.other,
    }
}

/// One Metadata request and its answer; `None` if the connection failed.
fn ask(stream: &mut TcpStream, topic: &str, correlation: i32) -> Option<MetadataResponse> {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]))
        .with_allow_auto_topic_creation(false);
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(VERSION)
        .with_correlation_id(correlation)
        .with_client_id(Some(StrBytes::from_static_str("metadata-poller")));
    let mut buffer = BytesMut::new();
    buffer.put_i32(0);
    header
        .encode(
            &mut buffer,
            ApiKey::Metadata.request_header_version(VERSION),
        )
        .ok()?;
    request.encode(&mut buffer, VERSION).ok()?;
    let length = i32::try_from(buffer.len() - 4).ok()?;
    buffer[..4].copy_from_slice(&length.to_be_bytes());
    stream.write_all(&buffer).ok()?;
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).ok()?;
    let mut payload = vec![0u8; usize::try_from(i32::from_be_bytes(length)).ok()?];
    stream.read_exact(&mut payload).ok()?;
    let mut bytes = bytes::Bytes::from(payload);
    let header = ResponseHeader::decode(
        &mut bytes,
        ApiKey::Metadata.response_header_version(VERSION),
    )
    .ok()?;
    assert_eq!(header.correlation_id, correlation, "answers come in order");
    MetadataResponse::decode(&mut bytes, VERSION).ok()
}
