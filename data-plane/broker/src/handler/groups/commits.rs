//! OffsetCommit and OffsetFetch, served by the coordinator of the group's
//! group-log partition. A commit is answered once its records are
//! committed by the group log's quorum.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};

use super::{code, refusal, str_bytes, text};
use crate::group::{CommitRequest, CommittedOffset, TopicPartition};
use crate::handler::Handler;

impl Handler {
    pub(in crate::handler) async fn offset_commit(
        &self,
        request: &OffsetCommitRequest,
    ) -> OffsetCommitResponse {
        let commit_time = self.groups.now();
        let commit = CommitRequest {
            group_id: text(&request.group_id),
            generation_id: request.generation_id_or_member_epoch,
            member_id: text(&request.member_id),
            offsets: request
                .topics
                .iter()
                .flat_map(|topic| {
                    topic.partitions.iter().map(move |partition| {
                        (
                            TopicPartition {
                                topic: text(&topic.name),
                                partition: partition.partition_index,
                            },
                            CommittedOffset {
                                offset: partition.committed_offset,
                                leader_epoch: partition.committed_leader_epoch,
                                metadata: partition
                                    .committed_metadata
                                    .as_ref()
                                    .map(text)
                                    .unwrap_or_default(),
                                commit_time,
                            },
                        )
                    })
                })
                .collect(),
        };
        let group_id = commit.group_id.clone();
        let committed = self.groups.with_persisted(&group_id, |runtime, now| {
            runtime.coordinator.commit(now, commit)
        });
        let (results, persisted) = match committed {
            Ok(committed) => committed,
            Err(error) => return refusal::offset_commit(request, error),
        };
        let durable = persisted.durable().await;
        let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
        for (partition, error) in results {
            let error = match (error, durable) {
                (None, Err(not_durable)) => Some(not_durable),
                (other, _) => other,
            };
            let answer = OffsetCommitResponsePartition::default()
                .with_partition_index(partition.partition)
                .with_error_code(code(error));
            match topics.last_mut() {
                Some(topic) if topic.name.as_str() == partition.topic => {
                    topic.partitions.push(answer);
                }
                _ => topics.push(
                    OffsetCommitResponseTopic::default()
                        .with_name(TopicName(str_bytes(partition.topic)))
                        .with_partitions(vec![answer]),
                ),
            }
        }
        OffsetCommitResponse::default().with_topics(topics)
    }

    pub(in crate::handler) fn offset_fetch(
        &self,
        request: &OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        let wanted: Option<Vec<TopicPartition>> = request.topics.as_ref().map(|topics| {
            topics
                .iter()
                .flat_map(|topic| {
                    topic
                        .partition_indexes
                        .iter()
                        .map(move |&partition| TopicPartition {
                            topic: text(&topic.name),
                            partition,
                        })
                })
                .collect()
        });
        let found = self.groups.with(request.group_id.as_str(), |runtime, _| {
            (
                runtime
                    .coordinator
                    .fetch_offsets(request.group_id.as_str(), wanted.as_deref()),
                Vec::new(),
            )
        });
        let found = match found {
            Ok(found) => found,
            Err(error) => return refusal::offset_fetch(request, error),
        };
        let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
        for (partition, committed) in found {
            let answer = OffsetFetchResponsePartition::default()
                .with_partition_index(partition.partition)
                .with_committed_offset(committed.as_ref().map_or(-1, |c| c.offset))
                .with_committed_leader_epoch(if version >= 5 {
                    committed.as_ref().map_or(-1, |c| c.leader_epoch)
                } else {
                    -1
                })
                .with_metadata(Some(str_bytes(
                    committed.map(|c| c.metadata).unwrap_or_default(),
                )));
            match topics.last_mut() {
                Some(topic) if topic.name.as_str() == partition.topic => {
                    topic.partitions.push(answer);
                }
                _ => topics.push(
                    OffsetFetchResponseTopic::default()
                        .with_name(TopicName(str_bytes(partition.topic)))
                        .with_partitions(vec![answer]),
                ),
            }
        }
        OffsetFetchResponse::default().with_topics(topics)
    }
}
