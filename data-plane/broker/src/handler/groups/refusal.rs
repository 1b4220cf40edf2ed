//! Answers to a group request this broker cannot serve now, each carrying
//! one retriable code (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS or
//! COORDINATOR_NOT_AVAILABLE, see `docs/kafka-protocol.md` "Consumer groups
//! in a cluster") on every group or partition of the request, so the client
//! finds the coordinator again and retries.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupResponse,
};

/// Whether `error` is one of the codes a coordinator move may produce.
pub(super) fn is_retriable_move(error: ResponseError) -> bool {
    matches!(
        error,
        ResponseError::NotCoordinator
            | ResponseError::CoordinatorLoadInProgress
            | ResponseError::CoordinatorNotAvailable
    )
}

pub(super) fn join(error: ResponseError) -> JoinGroupResponse {
    debug_assert!(is_retriable_move(error));
    JoinGroupResponse::default().with_error_code(error.code())
}

pub(super) fn sync(error: ResponseError) -> SyncGroupResponse {
    debug_assert!(is_retriable_move(error));
    SyncGroupResponse::default().with_error_code(error.code())
}

pub(super) fn heartbeat(error: ResponseError) -> HeartbeatResponse {
    debug_assert!(is_retriable_move(error));
    HeartbeatResponse::default().with_error_code(error.code())
}

/// LeaveGroup: the top-level code (v3+ clients read it before the members).
pub(super) fn leave(error: ResponseError) -> LeaveGroupResponse {
    debug_assert!(is_retriable_move(error));
    LeaveGroupResponse::default().with_error_code(error.code())
}

pub(super) fn offset_commit(
    request: &OffsetCommitRequest,
    error: ResponseError,
) -> OffsetCommitResponse {
    debug_assert!(is_retriable_move(error));
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
                            .map(|partition| {
                                OffsetCommitResponsePartition::default()
                                    .with_partition_index(partition.partition_index)
                                    .with_error_code(error.code())
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

/// OffsetFetch up to v7 (one group): the top-level code (v2+) and, for v1
/// clients that read only those, every requested partition's.
pub(super) fn offset_fetch(
    request: &OffsetFetchRequest,
    error: ResponseError,
) -> OffsetFetchResponse {
    debug_assert!(is_retriable_move(error));
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
                                .with_error_code(error.code())
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default()
        .with_error_code(error.code())
        .with_topics(topics)
}
