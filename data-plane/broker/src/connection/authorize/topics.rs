//! The data path and Metadata: Produce needs WRITE on each topic (and
//! CREATE to create a missing one), Fetch READ, ListOffsets and
//! OffsetForLeaderEpoch DESCRIBE; Metadata lists only the topics the
//! principal may DESCRIBE and creates a missing one only with CREATE.

use fjord_metadata::acl::{AclOperation, ResourceType};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    FetchRequest, ListOffsetsRequest, MetadataRequest, OffsetForLeaderEpochRequest, ProduceRequest,
    RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{
    Checked, TOPIC_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    UNKNOWN_TOPIC_OR_PARTITION, may_create_topic,
};
use crate::handler::Handler;
use crate::security::acl::Access;

/// A refused topic: its name, the partitions asked, the error.
type Refused = (TopicName, Vec<i32>, i16);

fn topic_allowed(access: &Access, operation: AclOperation, name: &str) -> bool {
    access.allowed(operation, ResourceType::Topic, name)
}

pub(super) fn produce(mut request: ProduceRequest, access: &Access, handler: &Handler) -> Checked {
    let transactional = request.transactional_id.as_ref().map(|id| id.to_string());
    let transaction_refused = transactional
        .is_some_and(|id| !access.allowed(AclOperation::Write, ResourceType::TransactionalId, &id));
    let mut refused: Vec<Refused> = Vec::new();
    request.topic_data.retain(|topic| {
        let name: &str = &topic.name;
        let code = if transaction_refused {
            Some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        } else if !topic_allowed(access, AclOperation::Write, name) {
            Some(TOPIC_AUTHORIZATION_FAILED)
        } else if handler.topics().get(name).is_none() && !may_create_topic(access, name) {
            Some(UNKNOWN_TOPIC_OR_PARTITION)
        } else {
            None
        };
        if let Some(code) = code {
            let partitions = topic.partition_data.iter().map(|p| p.index).collect();
            refused.push((topic.name.clone(), partitions, code));
        }
        code.is_none()
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::Produce(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::Produce(mut response) => {
                for (name, partitions, code) in refused {
                    let partitions = partitions
                        .into_iter()
                        .map(|index| {
                            PartitionProduceResponse::default()
                                .with_index(index)
                                .with_error_code(code)
                                .with_base_offset(-1)
                        })
                        .collect();
                    response.responses.push(
                        TopicProduceResponse::default()
                            .with_name(name)
                            .with_partition_responses(partitions),
                    );
                }
                ResponseKind::Produce(response)
            }
            other => other,
        }),
    )
}

pub(super) fn fetch(mut request: FetchRequest, access: &Access) -> Checked {
    let mut refused: Vec<Refused> = Vec::new();
    request.topics.retain(|topic| {
        let allowed = topic_allowed(access, AclOperation::Read, &topic.topic);
        if !allowed {
            let partitions = topic.partitions.iter().map(|p| p.partition).collect();
            refused.push((topic.topic.clone(), partitions, TOPIC_AUTHORIZATION_FAILED));
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::Fetch(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::Fetch(mut response) => {
                for (name, partitions, code) in refused {
                    let partitions = partitions
                        .into_iter()
                        .map(|index| {
                            PartitionData::default()
                                .with_partition_index(index)
                                .with_error_code(code)
                                .with_high_watermark(-1)
                        })
                        .collect();
                    response.responses.push(
                        FetchableTopicResponse::default()
                            .with_topic(name)
                            .with_partitions(partitions),
                    );
                }
                ResponseKind::Fetch(response)
            }
            other => other,
        }),
    )
}

pub(super) fn list_offsets(mut request: ListOffsetsRequest, access: &Access) -> Checked {
    let mut refused: Vec<Refused> = Vec::new();
    request.topics.retain(|topic| {
        let allowed = topic_allowed(access, AclOperation::Describe, &topic.name);
        if !allowed {
            let partitions = topic.partitions.iter().map(|p| p.partition_index).collect();
            refused.push((topic.name.clone(), partitions, TOPIC_AUTHORIZATION_FAILED));
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::ListOffsets(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::ListOffsets(mut response) => {
                for (name, partitions, code) in refused {
                    let partitions = partitions
                        .into_iter()
                        .map(|index| {
                            ListOffsetsPartitionResponse::default()
                                .with_partition_index(index)
                                .with_error_code(code)
                                .with_timestamp(-1)
                                .with_offset(-1)
                        })
                        .collect();
                    response.topics.push(
                        ListOffsetsTopicResponse::default()
                            .with_name(name)
                            .with_partitions(partitions),
                    );
                }
                ResponseKind::ListOffsets(response)
            }
            other => other,
        }),
    )
}

pub(super) fn offset_for_leader_epoch(
    mut request: OffsetForLeaderEpochRequest,
    access: &Access,
) -> Checked {
    let mut refused: Vec<Refused> = Vec::new();
    request.topics.retain(|topic| {
        let allowed = topic_allowed(access, AclOperation::Describe, &topic.topic);
        if !allowed {
            let partitions = topic.partitions.iter().map(|p| p.partition).collect();
            refused.push((topic.topic.clone(), partitions, TOPIC_AUTHORIZATION_FAILED));
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::OffsetForLeaderEpoch(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::OffsetForLeaderEpoch(mut response) => {
                for (name, partitions, code) in refused {
                    let partitions = partitions
                        .into_iter()
                        .map(|index| {
                            EpochEndOffset::default()
                                .with_partition(index)
                                .with_error_code(code)
                                .with_leader_epoch(-1)
                                .with_end_offset(-1)
                        })
                        .collect();
                    response.topics.push(
                        OffsetForLeaderTopicResult::default()
                            .with_topic(name)
                            .with_partitions(partitions),
                    );
                }
                ResponseKind::OffsetForLeaderEpoch(response)
            }
            other => other,
        }),
    )
}

/// Metadata: a request for every topic is answered with those the
/// principal may describe; a named topic it may not describe is answered
/// TOPIC_AUTHORIZATION_FAILED, a missing one it may not create
/// UNKNOWN_TOPIC_OR_PARTITION.
pub(super) fn metadata(
    mut request: MetadataRequest,
    version: i16,
    access: &Access,
    handler: &Handler,
) -> Checked {
    let every_topic = match &request.topics {
        None => true,
        Some(topics) => topics.is_empty() && version == 0,
    };
    if every_topic {
        let access = access.clone();
        return Checked::Serve(
            RequestKind::Metadata(request),
            Some(Box::new(move |response| match response {
                ResponseKind::Metadata(mut response) => {
                    response.topics.retain(|topic| {
                        topic
                            .name
                            .as_ref()
                            .is_some_and(|name| access.may_see(ResourceType::Topic, name))
                    });
                    ResponseKind::Metadata(response)
                }
                other => other,
            })),
        );
    }
    let creating = request.allow_auto_topic_creation || version < 4;
    let mut refused: Vec<(Option<TopicName>, i16)> = Vec::new();
    if let Some(topics) = request.topics.as_mut() {
        topics.retain(|topic| {
            let name = topic.name.as_ref().map_or("", |name| name.as_str());
            let code = if !topic_allowed(access, AclOperation::Describe, name) {
                Some(TOPIC_AUTHORIZATION_FAILED)
            } else if creating
                && handler.topics().get(name).is_none()
                && !may_create_topic(access, name)
            {
                Some(UNKNOWN_TOPIC_OR_PARTITION)
            } else {
                None
            };
            if let Some(code) = code {
                refused.push((topic.name.clone(), code));
            }
            code.is_none()
        });
    }
    // An empty list would mean "every topic" to a v0 handler.
    let nothing_left = request.topics.as_ref().is_some_and(Vec::is_empty);
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::Metadata(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::Metadata(mut response) => {
                if nothing_left {
                    response.topics.clear();
                }
                for (name, code) in refused {
                    response.topics.push(
                        MetadataResponseTopic::default()
                            .with_name(Some(
                                name.unwrap_or_else(|| TopicName(StrBytes::from_static_str(""))),
                            ))
                            .with_error_code(code)
                            .with_topic_authorized_operations(i32::MIN),
                    );
                }
                ResponseKind::Metadata(response)
            }
            other => other,
        }),
    )
}
