//! A small Kafka admin client over the `kafka-protocol` codec: what the
//! Topic controller needs, spoken to any broker of the cluster as a Kafka
//! admin tool would (Metadata, CreateTopics, CreatePartitions,
//! DescribeConfigs, IncrementalAlterConfigs, DeleteTopics), and what the
//! agent's consumer-lag report needs (see `groups`).
//!
//! On connect it asks ApiVersions (v0, which every broker answers) and then
//! uses, per API, the highest version both sides speak within the range
//! this client encodes correctly (see [`RANGES`]).

mod connection;
mod groups;

pub use groups::Partition;

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::KafkaError;
use connection::Connection;

/// Kafka's `ConfigResource.Type` of a topic.
const RESOURCE_TOPIC: i8 = 2;
/// IncrementalAlterConfigs operation SET.
const OPERATION_SET: i8 = 0;

/// The versions this client encodes correctly, per API: the lower bounds
/// are where the fields it sets first exist (Metadata v4:
/// `allow_auto_topic_creation`), the upper ones where a field it leaves at
/// its default would change meaning (DeleteTopics v6 names topics in
/// `topics`, not `topic_names`).
const RANGES: &[(ApiKey, RangeInclusive<i16>)] = &[
    (ApiKey::Metadata, 4..=12),
    (ApiKey::CreateTopics, 2..=7),
    (ApiKey::CreatePartitions, 0..=3),
    (ApiKey::DescribeConfigs, 1..=4),
    (ApiKey::IncrementalAlterConfigs, 0..=1),
    (ApiKey::DeleteTopics, 1..=5),
    // Consumer groups (the lag report): ListOffsets v1 has the single
    // `offset`; OffsetFetch v2 takes null topics (all partitions) and v8+
    // batches groups; OffsetCommit v2 has the retention the broker ignores
    // and v9+ needs member epochs.
    (ApiKey::ListGroups, 0..=4),
    (ApiKey::OffsetFetch, 2..=7),
    (ApiKey::ListOffsets, 1..=6),
    (ApiKey::OffsetCommit, 2..=8),
];

/// A topic as the brokers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub partitions: u32,
    /// Replicas of its first partition (every partition has as many).
    pub replication_factor: u16,
}

/// A connected admin client.
#[derive(Debug)]
pub struct AdminClient {
    connection: Connection,
    versions: BTreeMap<i16, i16>,
    timeout: Duration,
}

fn strbytes(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

fn topic_name(name: &str) -> TopicName {
    TopicName(strbytes(name))
}

fn refused(api: &'static str, resource: &str, code: i16, message: Option<&StrBytes>) -> KafkaError {
    let name = ResponseError::try_from_code(code)
        .map(|error| format!("{error:?}"))
        .unwrap_or_else(|| "UNKNOWN".to_owned());
    KafkaError::Refused {
        api,
        resource: resource.to_owned(),
        code,
        name,
        message: message
            .map(|message| message.to_string())
            .unwrap_or_default(),
    }
}

fn timeout_ms(timeout: Duration) -> i32 {
    i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
}

impl AdminClient {
    /// Connects to a broker of `bootstrap` (`host:port[,host:port...]`) and
    /// learns which versions it serves. `timeout` bounds each request.
    pub async fn connect(bootstrap: &str, timeout: Duration) -> Result<Self, KafkaError> {
        let mut connection = Connection::open(bootstrap, timeout).await?;
        let response = connection
            .send("ApiVersions", 0, &ApiVersionsRequest::default())
            .await?;
        if response.error_code != 0 {
            return Err(refused(
                "ApiVersions",
                connection.address(),
                response.error_code,
                None,
            ));
        }
        let mut versions = BTreeMap::new();
        for (key, ours) in RANGES {
            let key = *key as i16;
            let served = response.api_keys.iter().find(|api| api.api_key == key);
            let Some(served) = served else { continue };
            let best = served.max_version.min(*ours.end());
            if best >= *ours.start() && best >= served.min_version {
                versions.insert(key, best);
            }
        }
        Ok(Self {
            connection,
            versions,
            timeout,
        })
    }

    fn version(&self, key: ApiKey, api: &'static str) -> Result<i16, KafkaError> {
        self.versions.get(&(key as i16)).copied().ok_or_else(|| {
            let ours = RANGES
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, range)| format!("v{}..v{}", range.start(), range.end()))
                .unwrap_or_default();
            KafkaError::UnsupportedApi { api, ours }
        })
    }

    /// The topic's partition count and replication factor; `None` when the
    /// brokers do not know it.
    pub async fn describe_topic(
        &mut self,
        name: &str,
    ) -> Result<Option<TopicDescription>, KafkaError> {
        const API: &str = "Metadata";
        let version = self.version(ApiKey::Metadata, API)?;
        let request = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(name))),
            ]))
            .with_allow_auto_topic_creation(false);
        let response = self.connection.send(API, version, &request).await?;
        let topic = response.topics.iter().find(|topic| {
            topic
                .name
                .as_ref()
                .is_some_and(|found| found.0.as_str() == name)
        });
        let Some(topic) = topic else {
            return Ok(None);
        };
        if topic.error_code == ResponseError::UnknownTopicOrPartition.code() {
            return Ok(None);
        }
        if topic.partitions.is_empty() {
            // Known but without partitions yet (LEADER_NOT_AVAILABLE while
            // being created): not describable, ask again.
            return Err(refused(API, name, topic.error_code, None));
        }
        let partitions = u32::try_from(topic.partitions.len()).unwrap_or(u32::MAX);
        let replicas = topic
            .partitions
            .iter()
            .map(|partition| partition.replica_nodes.len())
            .max()
            .unwrap_or(0);
        Ok(Some(TopicDescription {
            partitions,
            replication_factor: u16::try_from(replicas).unwrap_or(u16::MAX),
        }))
    }

    /// Creates the topic; `Ok(false)` when it already exists.
    pub async fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        replication_factor: u16,
        config: &BTreeMap<String, String>,
    ) -> Result<bool, KafkaError> {
        const API: &str = "CreateTopics";
        let version = self.version(ApiKey::CreateTopics, API)?;
        let bad = |what: &str| KafkaError::BadResponse {
            api: API,
            reason: format!("{what} out of range"),
        };
        let configs = config
            .iter()
            .map(|(key, value)| {
                CreatableTopicConfig::default()
                    .with_name(strbytes(key))
                    .with_value(Some(strbytes(value)))
            })
            .collect();
        let topic = CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(i32::try_from(partitions).map_err(|_| bad("partitions"))?)
            .with_replication_factor(
                i16::try_from(replication_factor).map_err(|_| bad("replication factor"))?,
            )
            .with_configs(configs);
        let request = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(timeout_ms(self.timeout));
        let response = self.connection.send(API, version, &request).await?;
        let result = response
            .topics
            .iter()
            .find(|result| result.name.0.as_str() == name)
            .ok_or_else(|| bad("the topic's result"))?;
        match result.error_code {
            0 => Ok(true),
            code if code == ResponseError::TopicAlreadyExists.code() => Ok(false),
            code => Err(refused(API, name, code, result.error_message.as_ref())),
        }
    }

    /// Raises the topic's partition count to `count`.
    pub async fn create_partitions(&mut self, name: &str, count: u32) -> Result<(), KafkaError> {
        const API: &str = "CreatePartitions";
        let version = self.version(ApiKey::CreatePartitions, API)?;
        let count = i32::try_from(count).map_err(|_| KafkaError::BadResponse {
            api: API,
            reason: "partition count out of range".to_owned(),
        })?;
        let request = CreatePartitionsRequest::default()
            .with_topics(vec![
                CreatePartitionsTopic::default()
                    .with_name(topic_name(name))
                    .with_count(count)
                    // Null: the brokers place the new partitions (the
                    // codec's default is an empty, i.e. manual, list).
                    .with_assignments(None),
            ])
            .with_timeout_ms(timeout_ms(self.timeout));
        let response = self.connection.send(API, version, &request).await?;
        match response
            .results
            .iter()
            .find(|result| result.name.0.as_str() == name)
        {
            Some(result) if result.error_code == 0 => Ok(()),
            Some(result) => Err(refused(
                API,
                name,
                result.error_code,
                result.error_message.as_ref(),
            )),
            None => Err(KafkaError::BadResponse {
                api: API,
                reason: "no result for the topic".to_owned(),
            }),
        }
    }

    /// The current values of `keys` on the topic; a key the brokers do not
    /// know is absent from the answer.
    pub async fn describe_configs(
        &mut self,
        name: &str,
        keys: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeMap<String, String>, KafkaError> {
        const API: &str = "DescribeConfigs";
        let version = self.version(ApiKey::DescribeConfigs, API)?;
        let keys: Vec<StrBytes> = keys.into_iter().map(strbytes).collect();
        if keys.is_empty() {
            return Ok(BTreeMap::new());
        }
        let request = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(strbytes(name))
                .with_configuration_keys(Some(keys)),
        ]);
        let response = self.connection.send(API, version, &request).await?;
        let result = response
            .results
            .first()
            .ok_or_else(|| KafkaError::BadResponse {
                api: API,
                reason: "no result for the topic".to_owned(),
            })?;
        if result.error_code != 0 {
            return Err(refused(
                API,
                name,
                result.error_code,
                result.error_message.as_ref(),
            ));
        }
        Ok(result
            .configs
            .iter()
            .map(|config| {
                let value = config
                    .value
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                (config.name.to_string(), value)
            })
            .collect())
    }

    /// Sets each of `values` on the topic, leaving every other setting alone
    /// (IncrementalAlterConfigs SET).
    pub async fn set_configs(
        &mut self,
        name: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<(), KafkaError> {
        const API: &str = "IncrementalAlterConfigs";
        let version = self.version(ApiKey::IncrementalAlterConfigs, API)?;
        let configs = values
            .iter()
            .map(|(key, value)| {
                AlterableConfig::default()
                    .with_name(strbytes(key))
                    .with_config_operation(OPERATION_SET)
                    .with_value(Some(strbytes(value)))
            })
            .collect();
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(strbytes(name))
                .with_configs(configs),
        ]);
        let response = self.connection.send(API, version, &request).await?;
        match response.responses.first() {
            Some(result) if result.error_code == 0 => Ok(()),
            Some(result) => Err(refused(
                API,
                name,
                result.error_code,
                result.error_message.as_ref(),
            )),
            None => Err(KafkaError::BadResponse {
                api: API,
                reason: "no result for the topic".to_owned(),
            }),
        }
    }

    /// Deletes the topic; `Ok(false)` when it did not exist.
    pub async fn delete_topic(&mut self, name: &str) -> Result<bool, KafkaError> {
        const API: &str = "DeleteTopics";
        let version = self.version(ApiKey::DeleteTopics, API)?;
        let request = DeleteTopicsRequest::default()
            .with_topic_names(vec![topic_name(name)])
            .with_timeout_ms(timeout_ms(self.timeout));
        let response = self.connection.send(API, version, &request).await?;
        let result = response.responses.iter().find(|result| {
            result
                .name
                .as_ref()
                .is_some_and(|found| found.0.as_str() == name)
        });
        match result {
            Some(result) if result.error_code == 0 => Ok(true),
            Some(result) if result.error_code == ResponseError::UnknownTopicOrPartition.code() => {
                Ok(false)
            }
            Some(result) => Err(refused(
                API,
                name,
                result.error_code,
                result.error_message.as_ref(),
            )),
            None => Err(KafkaError::BadResponse {
                api: API,
                reason: "no result for the topic".to_owned(),
            }),
        }
    }
}
