//! ListOffsets (earliest, latest, by timestamp) and OffsetForLeaderEpoch.

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
use kafka_protocol::records::RecordBatchDecoder;

use super::{Handler, blocking};
use crate::partition::PartitionReplica;

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
                    Some(Err(error)) => answer.with_error_code(error.code()),
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

    pub(super) fn offset_for_leader_epoch(
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
            Ok(first_record_at(Bytes::from(batch), target)
                .map_or((base.0, target, epoch), |(offset, time)| {
                    (offset, time, epoch)
                }))
        }
        // Max timestamp (-3) and tiered-storage queries are not served.
        _ => Err(ResponseError::UnsupportedVersion),
    }
}

/// The first record of a batch with timestamp >= `target` (the batch is
/// decoded, and decompressed, here: the storage indexes batches only).
fn first_record_at(mut batch: Bytes, target: i64) -> Option<(i64, i64)> {
    let set = match RecordBatchDecoder::decode(&mut batch) {
        Ok(set) => set,
        Err(error) => {
            tracing::warn!(%error, "cannot decode a batch to refine a timestamp lookup");
            return None;
        }
    };
    set.records
        .iter()
        .find(|record| record.timestamp >= target)
        .map(|record| (record.offset, record.timestamp))
}
