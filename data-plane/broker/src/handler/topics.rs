//! CreateTopics, DeleteTopics and CreatePartitions.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{Handler, blocking};
use crate::topics::{self, TopicError};

fn message(error: &TopicError) -> Option<StrBytes> {
    Some(StrBytes::from_string(error.to_string()))
}

impl Handler {
    pub(super) async fn create_topics(&self, request: CreateTopicsRequest) -> CreateTopicsResponse {
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let partitions = if topic.num_partitions == -1 {
                self.default_partitions
            } else {
                topic.num_partitions
            };
            let replication_factor = if topic.replication_factor == -1 {
                self.default_replication_factor
            } else {
                topic.replication_factor
            };
            let name = topic.name.to_string();
            let outcome = if topic.assignments.is_empty() {
                self.create_one(name, partitions, replication_factor, request.validate_only)
                    .await
            } else {
                Err(TopicError::InvalidPartitions(
                    "manual replica assignments are not supported".to_owned(),
                ))
            };
            let result = CreatableTopicResult::default()
                .with_name(topic.name)
                .with_configs(Some(Vec::new()));
            results.push(match outcome {
                Ok(id) => result
                    .with_topic_id(id)
                    .with_num_partitions(partitions)
                    .with_replication_factor(replication_factor),
                Err(error) => result
                    .with_error_code(error.kafka_error().code())
                    .with_error_message(message(&error))
                    .with_num_partitions(-1)
                    .with_replication_factor(-1),
            });
        }
        CreateTopicsResponse::default().with_topics(results)
    }

    async fn create_one(
        &self,
        name: String,
        partitions: i32,
        replication_factor: i16,
        validate_only: bool,
    ) -> Result<uuid::Uuid, TopicError> {
        topics::validate_name(&name)?;
        topics::validate_shape(partitions, replication_factor)?;
        let registry = Arc::clone(&self.topics);
        let created = blocking(move || {
            let created = registry.create(&name, partitions, validate_only);
            if let Ok(Some(topic)) = &created {
                tracing::info!(topic = name, partitions, "topic created");
                return Ok(topic.id);
            }
            created.map(|_| uuid::Uuid::nil())
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
