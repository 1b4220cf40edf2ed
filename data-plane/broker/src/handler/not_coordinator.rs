//! Cluster mode: group requests reaching a broker that does not coordinate
//! groups (it does not lead the group log's partition) are answered
//! NOT_COORDINATOR, every partition or group of them, so the client finds
//! the coordinator again.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    DeleteGroupsResponse, DescribeGroupsResponse, HeartbeatResponse, JoinGroupResponse,
    LeaveGroupResponse, ListGroupsResponse, OffsetCommitResponse, OffsetFetchResponse, RequestKind,
    ResponseKind, SyncGroupResponse,
};

const CODE: i16 = ResponseError::NotCoordinator.code();

/// The NOT_COORDINATOR answer to a group request; `None` for any other.
pub(super) fn answer(body: &RequestKind) -> Option<ResponseKind> {
    Some(match body {
        RequestKind::JoinGroup(_) => {
            ResponseKind::JoinGroup(JoinGroupResponse::default().with_error_code(CODE))
        }
        RequestKind::SyncGroup(_) => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(CODE))
        }
        RequestKind::Heartbeat(_) => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(CODE))
        }
        RequestKind::LeaveGroup(_) => {
            ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(CODE))
        }
        RequestKind::ListGroups(_) => {
            ResponseKind::ListGroups(ListGroupsResponse::default().with_error_code(CODE))
        }
        RequestKind::DescribeGroups(request) => ResponseKind::DescribeGroups(
            DescribeGroupsResponse::default().with_groups(
                request
                    .groups
                    .iter()
                    .map(|group| {
                        DescribedGroup::default()
                            .with_group_id(group.clone())
                            .with_error_code(CODE)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteGroups(request) => ResponseKind::DeleteGroups(
            DeleteGroupsResponse::default().with_results(
                request
                    .groups_names
                    .iter()
                    .map(|group| {
                        DeletableGroupResult::default()
                            .with_group_id(group.clone())
                            .with_error_code(CODE)
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetCommit(request) => ResponseKind::OffsetCommit(
            OffsetCommitResponse::default().with_topics(
                request
                    .topics
                    .iter()
                    .map(|topic| {
                        OffsetCommitResponseTopic::default()
                            .with_name(topic.name.clone())
                            .with_partitions(
                                topic
                                    .partitions
                                    .iter()
                                    .map(|p| {
                                        OffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(CODE)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetFetch(request) => {
            let topics = request
                .topics
                .iter()
                .flatten()
                .map(|topic| {
                    OffsetFetchResponseTopic::default()
                        .with_name(topic.name.clone())
                        .with_partitions(
                            topic
                                .partition_indexes
                                .iter()
                                .map(|index| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(*index)
                                        .with_committed_offset(-1)
                                        .with_error_code(CODE)
                                })
                                .collect(),
                        )
                })
                .collect();
            let groups = request
                .groups
                .iter()
                .map(|group| {
                    OffsetFetchResponseGroup::default()
                        .with_group_id(group.group_id.clone())
                        .with_error_code(CODE)
                        .with_topics(
                            group
                                .topics
                                .iter()
                                .flatten()
                                .map(|topic| {
                                    OffsetFetchResponseTopics::default()
                                        .with_name(topic.name.clone())
                                        .with_partitions(
                                            topic
                                                .partition_indexes
                                                .iter()
                                                .map(|index| {
                                                    OffsetFetchResponsePartitions::default()
                                                        .with_partition_index(*index)
                                                        .with_committed_offset(-1)
                                                        .with_error_code(CODE)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect();
            ResponseKind::OffsetFetch(
                OffsetFetchResponse::default()
                    .with_error_code(CODE)
                    .with_topics(topics)
                    .with_groups(groups),
            )
        }
        _ => return None,
    })
}
