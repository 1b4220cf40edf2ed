//! CreateTopics, DeleteTopics and CreatePartitions.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{Handler, blocking};
use crate::topic_config::{self, ConfigSource, Overrides};
use crate::topics::{self, TopicError};

fn message(error: &TopicError) -> Option<StrBytes> {
    Some(StrBytes::from_string(error.to_string()))
}

impl Handler {
    pub(super) async fn create_topics(&self, request: CreateTopicsRequest) -> CreateTopicsResponse {
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let live = self.live.current();
            let partitions = if topic.num_partitions == -1 {
                live.default_partitions
            } else {
                topic.num_partitions
            };
            let replication_factor = if topic.replication_factor == -1 {
                live.default_replication_factor
            } else {
                topic.replication_factor
            };
            let name = topic.name.to_string();
            let configs = topic_config::validate_all(
                topic
                    .configs
                    .iter()
                    .map(|config| (config.name.as_str(), config.value.as_deref())),
                replication_factor,
            );
            let outcome = if !topic.assignments.is_empty() {
                Err(TopicError::InvalidPartitions(
                    "manual replica assignments are not supported".to_owned(),
                ))
            } else {
                match configs {
                    Ok(configs) => {
                        let (name, validate_only) = (name, request.validate_only);
                        self.create_one(
                            name,
                            partitions,
                            replication_factor,
                            configs,
                            validate_only,
                        )
                        .await
                    }
                    Err(error) => Err(TopicError::from(error)),
                }
            };
            let result = CreatableTopicResult::default().with_name(topic.name);
            results.push(match outcome {
                Ok((id, configs)) => result
                    .with_topic_id(id)
                    .with_num_partitions(partitions)
                    .with_replication_factor(replication_factor)
                    .with_configs(Some(self.created_configs(&configs))),
                Err(error) => result
                    .with_error_code(error.kafka_error().code())
                    .with_error_message(message(&error))
                    .with_num_partitions(-1)
                    .with_replication_factor(-1)
                    .with_configs(Some(Vec::new())),
            });
        }
        CreateTopicsResponse::default().with_topics(results)
    }

    /// The effective configs of a created topic (CreateTopics v5+).
    fn created_configs(&self, configs: &Overrides) -> Vec<CreatableTopicConfigs> {
        let defaults = self.topics.defaults();
        topic_config::TOPIC_CONFIGS
            .iter()
            .map(|key| {
                let source = if configs.contains_key(key.name) {
                    ConfigSource::DynamicTopic
                } else {
                    ConfigSource::Default
                };
                CreatableTopicConfigs::default()
                    .with_name(StrBytes::from_static_str(key.name))
                    .with_value(Some(StrBytes::from_string(topic_config::effective(
                        configs, &defaults, key.name,
                    ))))
                    .with_config_source(source as i8)
            })
            .collect()
    }

    async fn create_one(
        &self,
        name: String,
        partitions: i32,
        replication_factor: i16,
        configs: Overrides,
        validate_only: bool,
    ) -> Result<(uuid::Uuid, Overrides), TopicError> {
        topics::validate_name(&name)?;
        // In a cluster the controller checks the factor against the brokers.
        let replicas_max = if self.cluster.is_some() {
            usize::MAX
        } else {
            1
        };
        topics::validate_shape(partitions, replication_factor, replicas_max)?;
        let registry = Arc::clone(&self.topics);
        let created = blocking(move || {
            let created = registry.create_replicated(
                &name,
                partitions,
                replication_factor,
                configs.clone(),
                validate_only,
            );
            if let Ok(Some(topic)) = &created {
                tracing::info!(topic = name, partitions, configs = ?topic.configs, "topic created");
                return Ok((topic.id, configs));
            }
            created.map(|_| (uuid::Uuid::nil(), configs))
        })
        .await;
        created.unwrap_or_else(|| Err(TopicError::Unknown(String::new())))
    }

    pub(super) async fn delete_topics(&self, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        // v0-5 name topics in `topic_names`, v6 in `topics` (by name or id).
        let mut targets: Vec<(Option<String>, uuid::Uuid)> = request
            .topic_names
            .iter()
            .map(|name| (Some(name.to_string()), uuid::Uuid::nil()))
            .collect();
        targets.extend(request.topics.iter().map(|state| {
            (
                state.name.as_ref().map(|name| name.0.to_string()),
                state.topic_id,
            )
        }));
        let mut responses = Vec::with_capacity(targets.len());
        for (name, id) in targets {
            let name = name.or_else(|| {
                self.topics
                    .list()
                    .into_iter()
                    .find(|topic| topic.id == id && !id.is_nil())
                    .map(|topic| topic.name.clone())
            });
            let result = DeletableTopicResult::default()
                .with_name(
                    name.clone()
                        .map(|name| TopicName(StrBytes::from_string(name))),
                )
                .with_topic_id(id);
            let Some(name) = name else {
                responses.push(result.with_error_code(ResponseError::UnknownTopicId.code()));
                continue;
            };
            let registry = Arc::clone(&self.topics);
            let deleted = blocking(move || {
                let deleted = registry.delete(&name);
                if deleted.is_ok() {
                    tracing::info!(topic = name, "topic deleted");
                }
                deleted
            })
            .await
            .unwrap_or_else(|| Err(TopicError::Unknown(String::new())));
            responses.push(match deleted {
                Ok(id) => result.with_topic_id(id),
                Err(error) => result
                    .with_error_code(error.kafka_error().code())
                    .with_error_message(message(&error)),
            });
        }
        DeleteTopicsResponse::default().with_responses(responses)
    }

    pub(super) async fn create_partitions(
        &self,
        request: CreatePartitionsRequest,
    ) -> CreatePartitionsResponse {
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let (registry, name, count) = (
                Arc::clone(&self.topics),
                topic.name.to_string(),
                topic.count,
            );
            let validate_only = request.validate_only;
            let outcome = if topic.assignments.is_some() {
                Err(TopicError::InvalidPartitions(
                    "manual replica assignments are not supported".to_owned(),
                ))
            } else if topic.name.as_str() == crate::cluster::GROUP_LOG_TOPIC {
                // Every group's partition follows from the count.
                Err(TopicError::InvalidPartitions(
                    "the group log's partition count is fixed at creation".to_owned(),
                ))
            } else {
                blocking(move || registry.add_partitions(&name, count, validate_only))
                    .await
                    .unwrap_or_else(|| Err(TopicError::Unknown(String::new())))
            };
            let result = CreatePartitionsTopicResult::default().with_name(topic.name);
            results.push(match outcome {
                Ok(()) => result,
                Err(error) => result
                    .with_error_code(error.kafka_error().code())
                    .with_error_message(message(&error)),
            });
        }
        CreatePartitionsResponse::default().with_results(results)
    }
}
