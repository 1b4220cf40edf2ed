//! ListOffsets (earliest, latest, by timestamp) and OffsetForLeaderEpoch.

use std::cell::Cell;

use bytes::Bytes;
use fjord_storage::{LeaderEpoch, Timestamp};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};
use kafka_protocol::records::{Compression, RecordBatchDecoder};

use super::{Handler, blocking};
use crate::inflate::{self, InflateError};
use crate::partition::PartitionReplica;

/// Most bytes a batch may decompress to in a timestamp lookup: far above
/// what producers batch (librdkafka's `batch.size` is 1 MB), far below what
/// would hurt the broker.
const DECOMPRESSED_BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

impl Handler {
    pub(super) async fn list_offsets(
        &self,
        request: ListOffsetsRequest,
        version: i16,
    ) -> ListOffsetsResponse {
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let resolved = self.topics.get(&topic.name);
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in topic.partitions {
                let answer = ListOffsetsPartitionResponse::default()
                    .with_partition_index(partition.partition_index)
                    .with_timestamp(-1)
                    .with_offset(-1)
                    .with_leader_epoch(-1);
                let replica = resolved
                    .as_ref()
                    .and_then(|topic| topic.partition(partition.partition_index))
                    .cloned();
                let Some(replica) = replica else {
                    partitions.push(
                        answer.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                    );
                    continue;
                };
                let timestamp = partition.timestamp;
                let found = blocking(move || offset_at(&*replica, timestamp)).await;
                partitions.push(match found {
                    Some(Ok((offset, timestamp, epoch))) => answer
                        .with_offset(offset)
                        .with_timestamp(timestamp)
                        // Before v4 the field does not exist and must stay default.
                        .with_leader_epoch(if version >= 4 { epoch } else { -1 }),
                    Some(Err(error)) => {
                        if error == ResponseError::MessageTooLarge {
                            self.metrics.timestamp_lookups_refused.inc();
                        }
                        answer.with_error_code(error.code())
                    }
                    None => answer.with_error_code(ResponseError::UnknownServerError.code()),
                });
            }
            topics.push(
                ListOffsetsTopicResponse::default()
                    .with_name(topic.name)
                    .with_partitions(partitions),
            );
        }
        ListOffsetsResponse::default().with_topics(topics)
    }

    /// Looks the epochs up on a blocking thread (a replicated partition asks
    /// its log on the node's driver).
    pub(super) async fn offset_for_leader_epoch(
        &self,
        request: OffsetForLeaderEpochRequest,
    ) -> OffsetForLeaderEpochResponse {
        let handler = self.clone();
        blocking(move || handler.offset_for_leader_epoch_now(&request))
            .await
            .unwrap_or_default()
    }

    fn offset_for_leader_epoch_now(
        &self,
        request: &OffsetForLeaderEpochRequest,
    ) -> OffsetForLeaderEpochResponse {
        let topics = request
            .topics
            .iter()
            .map(|topic| {
                let resolved = self.topics.get(&topic.topic);
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|partition| {
                        let answer = EpochEndOffset::default()
                            .with_partition(partition.partition)
                            .with_leader_epoch(-1)
                            .with_end_offset(-1);
                        let replica = resolved
                            .as_ref()
                            .and_then(|topic| topic.partition(partition.partition));
                        match replica {
                            None => answer
                                .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                            Some(replica) if replica.serves().is_err() => {
                                answer.with_error_code(ResponseError::NotLeaderOrFollower.code())
                            }
                            Some(replica) => {
                                match replica.epoch_end_offset(LeaderEpoch(partition.leader_epoch))
                                {
                                    Some((epoch, end)) => {
                                        answer.with_leader_epoch(epoch.0).with_end_offset(end.0)
                                    }
                                    None => answer,
                                }
                            }
                        }
                    })
                    .collect();
                OffsetForLeaderTopicResult::default()
                    .with_topic(topic.topic.clone())
                    .with_partitions(partitions)
            })
            .collect();
        OffsetForLeaderEpochResponse::default().with_topics(topics)
    }
}

/// (offset, timestamp, leader epoch) for a ListOffsets query.
fn offset_at(
    replica: &dyn PartitionReplica,
    timestamp: i64,
) -> Result<(i64, i64, i32), ResponseError> {
    replica.serves().map_err(|error| error.kafka_error())?;
    let offsets = replica.offsets();
    let epoch = replica.leader_epoch().0;
    match timestamp {
        LATEST => Ok((offsets.high_watermark.0, -1, epoch)),
        EARLIEST => Ok((offsets.log_start.0, -1, epoch)),
        target if target >= 0 => {
            let mut batch = Vec::new();
            let found = replica
                .batch_for_time(Timestamp(target), &mut batch)
                .map_err(|error| error.kafka_error())?;
            let Some(base) = found else {
                // No record that new: Kafka answers offset -1.
                return Ok((-1, -1, -1));
            };
            match first_record_at(Bytes::from(batch), target, DECOMPRESSED_BATCH_BYTES_MAX) {
                Ok(Some((offset, time))) => Ok((offset, time, epoch)),
                Ok(None) => Ok((base.0, target, epoch)),
                Err(error) => {
                    tracing::warn!(%error, base_offset = base.0, "timestamp lookup refused");
                    Err(ResponseError::MessageTooLarge)
                }
            }
        }
        // Max timestamp (-3) and tiered-storage queries are not served.
        _ => Err(ResponseError::UnsupportedVersion),
    }
}

/// The first record of a batch with timestamp >= `target` (the batch is
/// decoded, and decompressed, here: the storage indexes batches only).
///
/// `Ok(None)` when the batch does not decode or holds no such record (the
/// caller answers with the batch's base offset); `Err` when its records
/// would decompress to more than `limit` bytes, which is refused rather
/// than allocated.
fn first_record_at(
    mut batch: Bytes,
    target: i64,
    limit: usize,
) -> Result<Option<(i64, i64)>, InflateError> {
    let refused = Cell::new(None);
    let decompress = |records: &mut Bytes, codec: Compression| -> anyhow::Result<Bytes> {
        inflate::decompress(codec, records, limit).map_err(|error| {
            let message = error.to_string();
            if matches!(error, InflateError::TooLarge { .. }) {
                refused.set(Some(error));
            }
            anyhow::anyhow!(message)
        })
    };
    let set = match RecordBatchDecoder::decode_with_custom_compression(&mut batch, Some(decompress))
    {
        Ok(set) => set,
        Err(error) => {
            if let Some(refusal) = refused.take() {
                return Err(refusal);
            }
            tracing::warn!(%error, "cannot decode a batch to refine a timestamp lookup");

            return Ok(None);
        }
    };
    Ok(set
        .records
        .iter()
        .find(|record| record.timestamp >= target)
        .map(|record| (record.offset, record.timestamp)))
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    use super::*;

    fn batch(compression: Compression, value_bytes: usize) -> Bytes {
        let records: Vec<Record> = (0..3)
            .map(|index| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: index,
                // One batch needs offset - sequence constant.
                sequence: i32::try_from(index).unwrap(),
                timestamp: 1_000 + index,
                key: None,
                value: Some(Bytes::from(vec![0u8; value_bytes])),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buffer = bytes::BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buffer, records.iter(), &options).unwrap();
        buffer.freeze()
    }

    #[test]
    fn the_exact_record_is_found_in_a_compressed_batch() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let found = first_record_at(batch(codec, 100), 1_001, 1 << 20).unwrap();
            assert_eq!(found, Some((1, 1_001)), "{codec:?}");
        }
    }

    #[test]
    fn a_batch_that_decompresses_past_the_bound_is_refused_not_inflated() {
        // 3 x 1 MiB of zeros compress to a few KiB each.
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let bomb = batch(codec, 1 << 20);
            assert!(
                bomb.len() < 256 * 1024,
                "{codec:?} compressed to {}",
                bomb.len()
            );
            let refused = first_record_at(bomb, 1_001, 1 << 20).unwrap_err();
            assert!(
                matches!(
                    refused,
                    InflateError::TooLarge {
                        limit: 1_048_576,
                        ..
                    }
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_batch_that_does_not_decode_falls_back_to_the_base_offset() {
        let mut garbage = batch(Compression::Gzip, 10).to_vec();
        let last = garbage.len() - 1;
        garbage[last] ^= 0xff;
        assert_eq!(
            first_record_at(Bytes::from(garbage), 1_001, 1 << 20).unwrap(),
            None
        );
    }
}
