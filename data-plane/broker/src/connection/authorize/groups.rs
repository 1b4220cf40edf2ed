//! Consumer groups, offsets and producer ids: joining, syncing,
//! heartbeating, leaving and committing need READ on the group (and a
//! commit READ on each topic); FindCoordinator, DescribeGroups and
//! OffsetFetch need DESCRIBE (OffsetFetch also on each topic); DeleteGroups
//! DELETE; ListGroups lists the groups the principal may describe (all
//! with DESCRIBE on the cluster). InitProducerId needs WRITE on its
//! transactional id, or, for an idempotent producer, WRITE on some topic
//! (or IDEMPOTENT_WRITE on the cluster).

use fjord_metadata::acl::{AclOperation, CLUSTER_NAME, ResourceType};
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, InitProducerIdRequest,
    InitProducerIdResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, ProducerId, RequestKind, ResponseKind,
    SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{
    CLUSTER_AUTHORIZATION_FAILED, Checked, GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};
use crate::security::acl::Access;

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

fn group_allowed(access: &Access, operation: AclOperation, group: &str) -> bool {
    access.allowed(operation, ResourceType::Group, group)
}

/// The error for looking up the coordinator of `key`, if refused.
fn coordinator_refusal(access: &Access, key_type: i8, key: &str) -> Option<i16> {
    match key_type {
        GROUP_KEY => (!group_allowed(access, AclOperation::Describe, key))
            .then_some(GROUP_AUTHORIZATION_FAILED),
        TRANSACTION_KEY => {
            (!access.allowed(AclOperation::Describe, ResourceType::TransactionalId, key))
                .then_some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        }
        _ => None,
    }
}

pub(super) fn find_coordinator(
    mut request: FindCoordinatorRequest,
    version: i16,
    access: &Access,
) -> Checked {
    if version < 4 {
        return match coordinator_refusal(access, request.key_type, &request.key) {
            Some(code) => Checked::Refuse(ResponseKind::FindCoordinator(
                FindCoordinatorResponse::default()
                    .with_error_code(code)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1),
            )),
            None => Checked::serve(RequestKind::FindCoordinator(request)),
        };
    }
    let key_type = request.key_type;
    let mut refused: Vec<(StrBytes, i16)> = Vec::new();
    request.coordinator_keys.retain(|key| {
        let refusal = coordinator_refusal(access, key_type, key);
        if let Some(code) = refusal {
            refused.push((key.clone(), code));
        }
        refusal.is_none()
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::FindCoordinator(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::FindCoordinator(mut response) => {
                response
                    .coordinators
                    .extend(refused.into_iter().map(|(key, code)| {
                        Coordinator::default()
                            .with_key(key)
                            .with_node_id(BrokerId(-1))
                            .with_port(-1)
                            .with_error_code(code)
                    }));
                ResponseKind::FindCoordinator(response)
            }
            other => other,
        }),
    )
}

pub(super) fn join_group(request: JoinGroupRequest, access: &Access) -> Checked {
    if group_allowed(access, AclOperation::Read, &request.group_id) {
        return Checked::serve(RequestKind::JoinGroup(request));
    }
    Checked::Refuse(ResponseKind::JoinGroup(
        JoinGroupResponse::default()
            .with_error_code(GROUP_AUTHORIZATION_FAILED)
            .with_generation_id(-1)
            .with_member_id(request.member_id),
    ))
}

pub(super) fn sync_group(request: SyncGroupRequest, access: &Access) -> Checked {
    if group_allowed(access, AclOperation::Read, &request.group_id) {
        return Checked::serve(RequestKind::SyncGroup(request));
    }
    Checked::Refuse(ResponseKind::SyncGroup(
        SyncGroupResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
    ))
}

pub(super) fn heartbeat(request: HeartbeatRequest, access: &Access) -> Checked {
    if group_allowed(access, AclOperation::Read, &request.group_id) {
        return Checked::serve(RequestKind::Heartbeat(request));
    }
    Checked::Refuse(ResponseKind::Heartbeat(
        HeartbeatResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
    ))
}

pub(super) fn leave_group(request: LeaveGroupRequest, access: &Access) -> Checked {
    if group_allowed(access, AclOperation::Read, &request.group_id) {
        return Checked::serve(RequestKind::LeaveGroup(request));
    }
    Checked::Refuse(ResponseKind::LeaveGroup(
        LeaveGroupResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
    ))
}

pub(super) fn offset_commit(mut request: OffsetCommitRequest, access: &Access) -> Checked {
    let group_refused = !group_allowed(access, AclOperation::Read, &request.group_id);
    let mut refused: Vec<(TopicName, Vec<i32>, i16)> = Vec::new();
    request.topics.retain(|topic| {
        let code = if group_refused {
            Some(GROUP_AUTHORIZATION_FAILED)
        } else if !access.allowed(AclOperation::Read, ResourceType::Topic, &topic.name) {
            Some(TOPIC_AUTHORIZATION_FAILED)
        } else {
            None
        };
        if let Some(code) = code {
            let partitions = topic.partitions.iter().map(|p| p.partition_index).collect();
            refused.push((topic.name.clone(), partitions, code));
        }
        code.is_none()
    });
    let answer = move |mut response: OffsetCommitResponse| {
        for (name, partitions, code) in refused {
            let partitions = partitions
                .into_iter()
                .map(|index| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(code)
                })
                .collect();
            response.topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(name)
                    .with_partitions(partitions),
            );
        }
        response
    };
    if group_refused {
        // Nothing reaches the group coordinator.
        return Checked::Refuse(ResponseKind::OffsetCommit(answer(
            OffsetCommitResponse::default(),
        )));
    }
    Checked::Serve(
        RequestKind::OffsetCommit(request),
        Some(Box::new(move |response| match response {
            ResponseKind::OffsetCommit(response) => ResponseKind::OffsetCommit(answer(response)),
            other => other,
        })),
    )
}

/// OffsetFetch v1–v7 (one group): DESCRIBE on the group, then on each
/// topic; a request for every topic gets those the principal may describe.
pub(super) fn offset_fetch(mut request: OffsetFetchRequest, access: &Access) -> Checked {
    if !group_allowed(access, AclOperation::Describe, &request.group_id) {
        let topics = request
            .topics
            .unwrap_or_default()
            .into_iter()
            .map(|topic| {
                refused_offsets(
                    topic.name,
                    topic.partition_indexes,
                    GROUP_AUTHORIZATION_FAILED,
                )
            })
            .collect();
        return Checked::Refuse(ResponseKind::OffsetFetch(
            OffsetFetchResponse::default()
                .with_error_code(GROUP_AUTHORIZATION_FAILED)
                .with_topics(topics),
        ));
    }
    let Some(topics) = request.topics.as_mut() else {
        let access = access.clone();
        return Checked::Serve(
            RequestKind::OffsetFetch(request),
            Some(Box::new(move |response| match response {
                ResponseKind::OffsetFetch(mut response) => {
                    response
                        .topics
                        .retain(|topic| access.may_see(ResourceType::Topic, &topic.name));
                    ResponseKind::OffsetFetch(response)
                }
                other => other,
            })),
        );
    };
    let mut refused: Vec<OffsetFetchResponseTopic> = Vec::new();
    topics.retain(|topic| {
        let allowed = access.allowed(AclOperation::Describe, ResourceType::Topic, &topic.name);
        if !allowed {
            refused.push(refused_offsets(
                topic.name.clone(),
                topic.partition_indexes.clone(),
                TOPIC_AUTHORIZATION_FAILED,
            ));
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::OffsetFetch(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::OffsetFetch(mut response) => {
                response.topics.extend(refused);
                ResponseKind::OffsetFetch(response)
            }
            other => other,
        }),
    )
}

fn refused_offsets(name: TopicName, partitions: Vec<i32>, code: i16) -> OffsetFetchResponseTopic {
    OffsetFetchResponseTopic::default()
        .with_name(name)
        .with_partitions(
            partitions
                .into_iter()
                .map(|index| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(index)
                        .with_committed_offset(-1)
                        .with_error_code(code)
                })
                .collect(),
        )
}

pub(super) fn describe_groups(mut request: DescribeGroupsRequest, access: &Access) -> Checked {
    let mut refused: Vec<GroupId> = Vec::new();
    request.groups.retain(|group| {
        let allowed = group_allowed(access, AclOperation::Describe, group);
        if !allowed {
            refused.push(group.clone());
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::DescribeGroups(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::DescribeGroups(mut response) => {
                response.groups.extend(refused.into_iter().map(|group| {
                    DescribedGroup::default()
                        .with_group_id(group)
                        .with_error_code(GROUP_AUTHORIZATION_FAILED)
                }));
                ResponseKind::DescribeGroups(response)
            }
            other => other,
        }),
    )
}

pub(super) fn list_groups(request: ListGroupsRequest, access: &Access) -> Checked {
    if access.may(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME) {
        return Checked::serve(RequestKind::ListGroups(request));
    }
    let access = access.clone();
    Checked::Serve(
        RequestKind::ListGroups(request),
        Some(Box::new(move |response| match response {
            ResponseKind::ListGroups(mut response) => {
                response
                    .groups
                    .retain(|group| access.may_see(ResourceType::Group, &group.group_id));
                ResponseKind::ListGroups(response)
            }
            other => other,
        })),
    )
}

pub(super) fn delete_groups(mut request: DeleteGroupsRequest, access: &Access) -> Checked {
    let mut refused: Vec<GroupId> = Vec::new();
    request.groups_names.retain(|group| {
        let allowed = group_allowed(access, AclOperation::Delete, group);
        if !allowed {
            refused.push(group.clone());
        }
        allowed
    });
    let any = !refused.is_empty();
    Checked::serve_patched(
        RequestKind::DeleteGroups(request),
        any,
        Box::new(move |response| match response {
            ResponseKind::DeleteGroups(mut response) => {
                response.results.extend(refused.into_iter().map(|group| {
                    DeletableGroupResult::default()
                        .with_group_id(group)
                        .with_error_code(GROUP_AUTHORIZATION_FAILED)
                }));
                ResponseKind::DeleteGroups(response)
            }
            other => other,
        }),
    )
}

pub(super) fn init_producer_id(request: InitProducerIdRequest, access: &Access) -> Checked {
    let refusal = match request.transactional_id.as_ref() {
        Some(id) => (!access.allowed(AclOperation::Write, ResourceType::TransactionalId, id))
            .then_some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        None => (!access.allowed_idempotent_write()).then_some(CLUSTER_AUTHORIZATION_FAILED),
    };
    match refusal {
        None => Checked::serve(RequestKind::InitProducerId(request)),
        Some(code) => Checked::Refuse(ResponseKind::InitProducerId(
            InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )),
    }
}
