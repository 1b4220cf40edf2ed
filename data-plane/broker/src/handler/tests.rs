//! Handler behaviour per request, without a socket: error codes of the data
//! path and the exact-record timestamp lookup.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use clap::Parser;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::{Answer, Handler};
use crate::BrokerConfig;
use crate::config::BrokerArgs;
use crate::disk::DataDisk;
use crate::topics::Topics;

struct Fixture {
    handler: Handler,
    _directory: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().to_str().unwrap().to_owned();
    let args = BrokerArgs::try_parse_from(["fjord-broker", "--data-dir", &path]).unwrap();
    let config = BrokerConfig::from_args(&args).unwrap();
    let disk = DataDisk::new();
    let defaults = crate::topic_config::TopicDefaults {
        message_bytes_max: config.message_bytes_max,
    };
    let topics = Arc::new(Topics::open(directory.path(), Arc::clone(&disk), defaults).unwrap());
    let groups = super::Groups::open(directory.path(), &disk).unwrap();
    Fixture {
        handler: Handler::new(
            &config,
            "cluster",
            topics,
            Default::default(),
            groups,
            Arc::new(crate::producer::ProducerIds::open(directory.path()).unwrap()),
        ),
        _directory: directory,
    }
}

fn name(text: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(text))
}

async fn call(handler: &Handler, api_key: ApiKey, version: i16, body: RequestKind) -> ResponseKind {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version);
    let answer = handler.handle(api_key, &header, body).await;
    match answer.map(Answer::settled) {
        Some(settling) => match settling.await {
            Answer::Respond(response) => response,
            other => panic!("expected a response, got {other:?}"),
        },
        None => panic!("expected a response, got none"),
    }
}

fn records(timestamps: &[i64], compression: Compression) -> Bytes {
    let records: Vec<Record> = timestamps
        .iter()
        .zip(0..)
        .map(|(&timestamp, offset)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
        })
        .collect();
    let mut buffer = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buffer, records.iter(), &options).unwrap();
    buffer.freeze()
}

async fn produce(handler: &Handler, acks: i16, topic: &'static str, data: Option<Bytes>) -> i16 {
    let request = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            produce_request::TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default().with_records(data),
                ]),
        ]);
    let ResponseKind::Produce(response) =
        call(handler, ApiKey::Produce, 9, RequestKind::Produce(request)).await
    else {
        panic!("expected Produce");
    };
    response.responses[0].partition_responses[0].error_code
}

#[tokio::test]
async fn produce_maps_each_failure_to_its_kafka_error() {
    let fixture = fixture();
    let handler = &fixture.handler;
    let valid = records(&[1, 2], Compression::None);
    assert_eq!(produce(handler, 1, "t", Some(valid.clone())).await, 0);
    assert_eq!(
        produce(handler, 2, "t", Some(valid.clone())).await,
        ResponseError::InvalidRequiredAcks.code()
    );
    let mut corrupt = valid.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(
        produce(handler, 1, "t", Some(Bytes::from(corrupt))).await,
        ResponseError::CorruptMessage.code()
    );
    assert_eq!(
        produce(handler, 1, "t", Some(Bytes::from_static(b"short"))).await,
        ResponseError::CorruptMessage.code()
    );
    assert_eq!(
        produce(
            handler,
            1,
            "t",
            Some(Bytes::from(vec![0u8; 2 * 1024 * 1024]))
        )
        .await,
        ResponseError::MessageTooLarge.code()
    );
    assert_eq!(
        produce(handler, 1, "bad name!", Some(valid)).await,
        ResponseError::UnknownTopicOrPartition.code()
    );
    let header = RequestHeader::default().with_request_api_version(9);
    let silent = ProduceRequest::default().with_acks(0);
    assert!(matches!(
        handler
            .handle(ApiKey::Produce, &header, RequestKind::Produce(silent))
            .await,
        Some(Answer::NoResponse)
    ));
}

#[tokio::test]
async fn fetch_out_of_range_and_list_offsets_by_time_finds_the_exact_record() {
    let fixture = fixture();
    let handler = &fixture.handler;
    for (timestamps, compression) in [
        ([10, 20, 30], Compression::None),
        ([40, 50, 60], Compression::Zstd),
    ] {
        let data = records(&timestamps, compression);
        assert_eq!(produce(handler, 1, "t", Some(data)).await, 0);
    }
    let fetch = FetchRequest::default()
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            fetch_request::FetchTopic::default()
                .with_topic(name("t"))
                .with_partitions(vec![
                    fetch_request::FetchPartition::default()
                        .with_fetch_offset(99)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let ResponseKind::Fetch(response) =
        call(handler, ApiKey::Fetch, 12, RequestKind::Fetch(fetch)).await
    else {
        panic!("expected Fetch");
    };
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, ResponseError::OffsetOutOfRange.code());
    assert_eq!(partition.high_watermark, 6);

    for (timestamp, offset) in [
        (0, 0),
        (15, 1),
        (30, 2),
        (31, 3),
        (45, 4),
        (-2, 0),
        (-1, 6),
        (61, -1),
    ] {
        let request = ListOffsetsRequest::default().with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(timestamp),
                ]),
        ]);
        let ResponseKind::ListOffsets(response) = call(
            handler,
            ApiKey::ListOffsets,
            5,
            RequestKind::ListOffsets(request),
        )
        .await
        else {
            panic!("expected ListOffsets");
        };
        assert_eq!(
            response.topics[0].partitions[0].offset, offset,
            "timestamp {timestamp}"
        );
    }
}

#[tokio::test]
async fn create_topics_validates_name_partitions_and_replication_factor() {
    let fixture = fixture();
    let handler = &fixture.handler;
    let topic = |text: &'static str, partitions: i32, replication_factor: i16| {
        create_topics_request::CreatableTopic::default()
            .with_name(name(text))
            .with_num_partitions(partitions)
            .with_replication_factor(replication_factor)
    };
    let request = CreateTopicsRequest::default().with_topics(vec![
        topic("ok", 2, 1),
        topic("ok", 2, 1),
        topic("bad/name", 1, 1),
        topic("zero", 0, 1),
        topic("replicated", 1, 3),
        topic("defaults", -1, -1),
    ]);
    let ResponseKind::CreateTopics(response) = call(
        handler,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(request),
    )
    .await
    else {
        panic!("expected CreateTopics");
    };
    let codes: Vec<i16> = response
        .topics
        .iter()
        .map(|topic| topic.error_code)
        .collect();
    assert_eq!(
        codes,
        [
            0,
            ResponseError::TopicAlreadyExists.code(),
            ResponseError::InvalidTopicException.code(),
            ResponseError::InvalidPartitions.code(),
            ResponseError::InvalidReplicationFactor.code(),
            0,
        ]
    );
}

#[tokio::test]
async fn fetch_long_polls_until_an_append_wakes_it() {
    let fixture = fixture();
    let handler = fixture.handler.clone();
    assert_eq!(
        produce(&handler, 1, "t", Some(records(&[1], Compression::None))).await,
        0
    );
    let fetch = FetchRequest::default()
        .with_max_wait_ms(10_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            fetch_request::FetchTopic::default()
                .with_topic(name("t"))
                .with_partitions(vec![
                    fetch_request::FetchPartition::default()
                        .with_fetch_offset(1)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let started = std::time::Instant::now();
    let waiting = {
        let handler = handler.clone();
        tokio::spawn(
            async move { call(&handler, ApiKey::Fetch, 12, RequestKind::Fetch(fetch)).await },
        )
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "fetch returned before any data");
    assert_eq!(
        produce(&handler, 1, "t", Some(records(&[2], Compression::Lz4))).await,
        0
    );
    let ResponseKind::Fetch(response) = waiting.await.unwrap() else {
        panic!("expected Fetch");
    };
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.high_watermark, 2);
    assert!(!partition.records.as_ref().unwrap().is_empty());
}

#[tokio::test]
async fn init_producer_id_hands_out_fresh_ids_and_refuses_transactions() {
    let Fixture { handler, .. } = &fixture();
    let mut ids = Vec::new();
    for version in [0, 4] {
        let ResponseKind::InitProducerId(response) = call(
            handler,
            ApiKey::InitProducerId,
            version,
            RequestKind::InitProducerId(
                InitProducerIdRequest::default().with_transactional_id(None),
            ),
        )
        .await
        else {
            panic!("not an InitProducerId response");
        };
        assert_eq!(response.error_code, 0);
        assert_eq!(response.producer_epoch, 0);
        ids.push(response.producer_id.0);
    }
    assert!(ids[0] >= 0 && ids[1] > ids[0], "{ids:?}");
    let transactional = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("tx"))));
    let ResponseKind::InitProducerId(refused) = call(
        handler,
        ApiKey::InitProducerId,
        4,
        RequestKind::InitProducerId(transactional),
    )
    .await
    else {
        panic!("not an InitProducerId response");
    };
    assert_eq!(
        refused.error_code,
        ResponseError::TransactionalIdAuthorizationFailed.code()
    );
    assert_eq!(refused.producer_id.0, -1);
    let empty = InitProducerIdRequest::default();
    let ResponseKind::InitProducerId(refused) = call(
        handler,
        ApiKey::InitProducerId,
        4,
        RequestKind::InitProducerId(empty),
    )
    .await
    else {
        panic!("not an InitProducerId response");
    };
    assert_eq!(refused.error_code, ResponseError::InvalidRequest.code());
}
