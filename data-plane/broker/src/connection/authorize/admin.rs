//! Topic administration and configs: CreateTopics needs CREATE (cluster
//! or topic), DeleteTopics DELETE, CreatePartitions ALTER on the topic;
//! DescribeConfigs needs DESCRIBE_CONFIGS and AlterConfigs /
//! IncrementalAlterConfigs ALTER_CONFIGS, on the topic for a topic's
//! configs and on the cluster for a broker's.

use fjord_metadata::acl::{AclOperation, ResourceType};
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResult;
use kafka_protocol::messages::{
    AlterConfigsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{CLUSTER_AUTHORIZATION_FAILED, Checked, TOPIC_AUTHORIZATION_FAILED, may_create_topic};
use crate::handler::Handler;
use crate::security::acl::Access;

const TOPIC_RESOURCE: i8 = 2;
const BROKER_RESOURCE: i8 = 4;

fn message(code: i16) -> Option<StrBytes> {
    Some(StrBytes::from_static_str(
        if code == CLUSTER_AUTHORIZATION_FAILED {
            "cluster authorization failed"
        } else {
            "topic authorization failed"
        },
    ))
}

pub(super) fn create_topics(mut request: CreateTopicsRequest, access: &Access) -> Checked {
    let mut refused: Vec<TopicName> = Vec::new();
    request.topics.retain(|topic| {
        let allowed = may_create_topic(access, &topic.name);
        if !allowed {
            refused.push(topic.name.clone());
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::CreateTopics(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::CreateTopics(mut response) => {
                response.topics.extend(refused.into_iter().map(|name| {
                    CreatableTopicResult::default()
                        .with_name(name)
                        .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                        .with_error_message(message(TOPIC_AUTHORIZATION_FAILED))
                }));
                ResponseKind::CreateTopics(response)
            }
            other => other,
        }),
    )
}

pub(super) fn delete_topics(
    mut request: DeleteTopicsRequest,
    access: &Access,
    handler: &Handler,
) -> Checked {
    let allowed = |name: &str| access.allowed(AclOperation::Delete, ResourceType::Topic, name);
    let mut refused: Vec<(Option<TopicName>, uuid::Uuid)> = Vec::new();
    // v0–v5 name topics in `topic_names`, v6 in `topics` (by name or id).
    request.topic_names.retain(|name| {
        let ok = allowed(name);
        if !ok {
            refused.push((Some(name.clone()), uuid::Uuid::nil()));
        }
        ok
    });
    request.topics.retain(|topic| {
        let name = topic
            .name
            .as_ref()
            .map(|name| name.to_string())
            .or_else(|| {
                handler
                    .topics()
                    .list()
                    .into_iter()
                    .find(|known| known.id == topic.topic_id)
                    .map(|known| known.name.clone())
            });
        // An unknown id names nothing the principal could be refused.
        let ok = name.as_deref().is_none_or(allowed);
        if !ok {
            refused.push((topic.name.clone(), topic.topic_id));
        }
        ok
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::DeleteTopics(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::DeleteTopics(mut response) => {
                response
                    .responses
                    .extend(refused.into_iter().map(|(name, id)| {
                        DeletableTopicResult::default()
                            .with_name(name)
                            .with_topic_id(id)
                            .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                            .with_error_message(message(TOPIC_AUTHORIZATION_FAILED))
                    }));
                ResponseKind::DeleteTopics(response)
            }
            other => other,
        }),
    )
}

pub(super) fn create_partitions(mut request: CreatePartitionsRequest, access: &Access) -> Checked {
    let mut refused: Vec<TopicName> = Vec::new();
    request.topics.retain(|topic| {
        let allowed = access.allowed(AclOperation::Alter, ResourceType::Topic, &topic.name);
        if !allowed {
            refused.push(topic.name.clone());
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::CreatePartitions(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::CreatePartitions(mut response) => {
                response.results.extend(refused.into_iter().map(|name| {
                    CreatePartitionsTopicResult::default()
                        .with_name(name)
                        .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                        .with_error_message(message(TOPIC_AUTHORIZATION_FAILED))
                }));
                ResponseKind::CreatePartitions(response)
            }
            other => other,
        }),
    )
}

/// The error for `operation` on a config resource, or `None` if allowed
/// (resource types other than topics and brokers are left to the handler).
fn config_refusal(access: &Access, operation: AclOperation, kind: i8, name: &str) -> Option<i16> {
    match kind {
        TOPIC_RESOURCE => (!access.allowed(operation, ResourceType::Topic, name))
            .then_some(TOPIC_AUTHORIZATION_FAILED),
        BROKER_RESOURCE => {
            (!access.allowed_on_cluster(operation)).then_some(CLUSTER_AUTHORIZATION_FAILED)
        }
        _ => None,
    }
}

/// A refused config resource: type, name, error.
type RefusedResource = (i8, StrBytes, i16);

pub(super) fn describe_configs(mut request: DescribeConfigsRequest, access: &Access) -> Checked {
    let mut refused: Vec<RefusedResource> = Vec::new();
    request.resources.retain(|resource| {
        let refusal = config_refusal(
            access,
            AclOperation::DescribeConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        if let Some(code) = refusal {
            refused.push((resource.resource_type, resource.resource_name.clone(), code));
        }
        refusal.is_none()
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::DescribeConfigs(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::DescribeConfigs(mut response) => {
                response
                    .results
                    .extend(refused.into_iter().map(|(kind, name, code)| {
                        DescribeConfigsResult::default()
                            .with_resource_type(kind)
                            .with_resource_name(name)
                            .with_error_code(code)
                            .with_error_message(message(code))
                    }));
                ResponseKind::DescribeConfigs(response)
            }
            other => other,
        }),
    )
}

pub(super) fn alter_configs(mut request: AlterConfigsRequest, access: &Access) -> Checked {
    let mut refused: Vec<RefusedResource> = Vec::new();
    request.resources.retain(|resource| {
        let refusal = config_refusal(
            access,
            AclOperation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        if let Some(code) = refusal {
            refused.push((resource.resource_type, resource.resource_name.clone(), code));
        }
        refusal.is_none()
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::AlterConfigs(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::AlterConfigs(mut response) => {
                response
                    .responses
                    .extend(refused.into_iter().map(|(kind, name, code)| {
                        AlterConfigsResourceResponse::default()
                            .with_resource_type(kind)
                            .with_resource_name(name)
                            .with_error_code(code)
                            .with_error_message(message(code))
                    }));
                ResponseKind::AlterConfigs(response)
            }
            other => other,
        }),
    )
}

pub(super) fn incremental_alter_configs(
    mut request: IncrementalAlterConfigsRequest,
    access: &Access,
) -> Checked {
    let mut refused: Vec<RefusedResource> = Vec::new();
    request.resources.retain(|resource| {
        let refusal = config_refusal(
            access,
            AclOperation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        if let Some(code) = refusal {
            refused.push((resource.resource_type, resource.resource_name.clone(), code));
        }
        refusal.is_none()
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::IncrementalAlterConfigs(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::IncrementalAlterConfigs(mut response) => {
                response
                    .responses
                    .extend(refused.into_iter().map(|(kind, name, code)| {
                        IncrementalResult::default()
                            .with_resource_type(kind)
                            .with_resource_name(name)
                            .with_error_code(code)
                            .with_error_message(message(code))
                    }));
                ResponseKind::IncrementalAlterConfigs(response)
            }
            other => other,
        }),
    )
}
