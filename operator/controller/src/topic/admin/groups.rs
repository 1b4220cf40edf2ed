//! Consumer groups through the Kafka protocol: the cluster's brokers
//! (Metadata), the groups a broker
//! coordinates (ListGroups), a group's committed offsets (OffsetFetch, all
//! partitions), the partitions' latest offsets (ListOffsets) and a
//! standalone offset commit (OffsetCommit without a generation, as a tool
//! resetting a group's offsets sends it).

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, GroupId, ListGroupsRequest, ListOffsetsRequest, MetadataRequest,
    OffsetCommitRequest, OffsetFetchRequest,
};

use super::{AdminClient, refused, strbytes, topic_name};
use crate::error::KafkaError;

/// ListOffsets' "latest" timestamp.
const LATEST: i64 = -1;
/// A consumer's replica id in ListOffsets.
const CONSUMER: i32 = -1;

/// A partition: topic name and index.
pub type Partition = (String, i32);

impl AdminClient {
    /// The `host:port` of every broker of the cluster (Metadata).
    pub async fn broker_addresses(&mut self) -> Result<Vec<String>, KafkaError> {
        const API: &str = "Metadata";
        let version = self.version(ApiKey::Metadata, API)?;
        let request = MetadataRequest::default()
            .with_topics(Some(Vec::new()))
            .with_allow_auto_topic_creation(false);
        let response = self.connection.send(API, version, &request).await?;
        Ok(response
            .brokers
            .iter()
            .map(|broker| {
                let host = broker.host.as_str();
                if host.contains(':') {
                    format!("[{host}]:{}", broker.port)
                } else {
                    format!("{host}:{}", broker.port)
                }
            })
            .collect())
    }

    /// The ids of the groups the connected broker coordinates.
    pub async fn list_groups(&mut self) -> Result<Vec<String>, KafkaError> {
        const API: &str = "ListGroups";
        let version = self.version(ApiKey::ListGroups, API)?;
        let response = self
            .connection
            .send(API, version, &ListGroupsRequest::default())
            .await?;
        if response.error_code != 0 {
            return Err(refused(API, "groups", response.error_code, None));
        }
        Ok(response
            .groups
            .iter()
            .map(|group| group.group_id.0.to_string())
            .collect())
    }

    /// The group's committed offsets on every partition it committed on
    /// (partitions without a commit, offset −1, are left out).
    pub async fn committed_offsets(
        &mut self,
        group: &str,
    ) -> Result<BTreeMap<Partition, i64>, KafkaError> {
        const API: &str = "OffsetFetch";
        let version = self.version(ApiKey::OffsetFetch, API)?;
        // Null topics: every partition the group committed on (v2+).
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(strbytes(group)))
            .with_topics(None);
        let response = self.connection.send(API, version, &request).await?;
        if response.error_code != 0 {
            return Err(refused(API, group, response.error_code, None));
        }
        let mut offsets = BTreeMap::new();
        for topic in &response.topics {
            for partition in &topic.partitions {
                if partition.error_code == 0 && partition.committed_offset >= 0 {
                    offsets.insert(
                        (topic.name.0.to_string(), partition.partition_index),
                        partition.committed_offset,
                    );
                }
            }
        }
        Ok(offsets)
    }

    /// The latest offset (the next one to be written) of each of
    /// `partitions` that the connected broker answers for; a partition it
    /// refuses (not its leader, unknown) is left out.
    pub async fn latest_offsets(
        &mut self,
        partitions: impl IntoIterator<Item = &Partition>,
    ) -> Result<BTreeMap<Partition, i64>, KafkaError> {
        const API: &str = "ListOffsets";
        let version = self.version(ApiKey::ListOffsets, API)?;
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, index) in partitions {
            by_topic.entry(topic.as_str()).or_default().push(*index);
        }
        if by_topic.is_empty() {
            return Ok(BTreeMap::new());
        }
        let topics = by_topic
            .into_iter()
            .map(|(name, indexes)| {
                ListOffsetsTopic::default()
                    .with_name(topic_name(name))
                    .with_partitions(
                        indexes
                            .into_iter()
                            .map(|index| {
                                ListOffsetsPartition::default()
                                    .with_partition_index(index)
                                    .with_timestamp(LATEST)
                            })
                            .collect(),
                    )
            })
            .collect();
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(CONSUMER))
            .with_topics(topics);
        let response = self.connection.send(API, version, &request).await?;
        let mut offsets = BTreeMap::new();
        for topic in &response.topics {
            for partition in &topic.partitions {
                if partition.error_code == 0 && partition.offset >= 0 {
                    offsets.insert(
                        (topic.name.0.to_string(), partition.partition_index),
                        partition.offset,
                    );
                }
            }
        }
        Ok(offsets)
    }

    /// Commits `offset` for `group` on one partition, outside any group
    /// generation (the group must have no active members).
    pub async fn commit_offset(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), KafkaError> {
        const API: &str = "OffsetCommit";
        let version = self.version(ApiKey::OffsetCommit, API)?;
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(strbytes(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(topic_name(topic))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(partition)
                            .with_committed_offset(offset),
                    ]),
            ]);
        let response = self.connection.send(API, version, &request).await?;
        let code = response
            .topics
            .iter()
            .flat_map(|topic| topic.partitions.iter())
            .find(|answer| answer.partition_index == partition)
            .map(|answer| answer.error_code)
            .ok_or_else(|| KafkaError::BadResponse {
                api: API,
                reason: "no result for the partition".to_owned(),
            })?;
        if code != 0 {
            return Err(refused(API, group, code, None));
        }
        Ok(())
    }
}
