//! Checks every request against the ACLs before the handler serves it, the
//! way Kafka's `KafkaApis` does: a request naming several resources is
//! split; the handler serves the authorized part, and the answers for the
//! refused part (TOPIC_AUTHORIZATION_FAILED per topic or partition,
//! GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED) are merged into its response by
//! a [`Patch`]. Listings (Metadata of all topics, ListGroups, OffsetFetch of
//! all topics) are filtered to what the principal may describe.
//!
//! The operations asked per API are in `docs/security.md`
//! ("Authorization"). With `--authorizer=none` nothing is checked here.

mod admin;
mod groups;
#[cfg(test)]
mod groups_test;
#[cfg(test)]
mod tests;
mod topics;

use fjord_metadata::acl::{AclOperation, ResourceType};
use kafka_protocol::messages::{RequestKind, ResponseKind};

use crate::handler::{Answer, Handler};
use crate::security::acl::Access;

pub(super) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub(super) const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
pub(super) const GROUP_AUTHORIZATION_FAILED: i16 = 30;
pub(super) const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
pub(super) const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

/// Merges the refused part's answers into the handler's response.
pub(crate) type Patch = Box<dyn FnOnce(ResponseKind) -> ResponseKind + Send>;

/// What the check decided.
pub(crate) enum Checked {
    /// Serve this (possibly narrowed) request, then apply the patch.
    Serve(RequestKind, Option<Patch>),
    /// Refused as a whole: answer this.
    Refuse(ResponseKind),
}

impl Checked {
    fn serve(body: RequestKind) -> Self {
        Checked::Serve(body, None)
    }

    /// Serves `body`, patching the response when anything was refused.
    fn serve_patched(body: RequestKind, refused: bool, patch: Patch) -> Self {
        Checked::Serve(body, refused.then_some(patch))
    }
}

/// Checks `body` for `access`'s principal.
pub(crate) fn check(
    body: RequestKind,
    version: i16,
    access: &Access,
    handler: &Handler,
) -> Checked {
    if !access.enforced() {
        return Checked::serve(body);
    }
    match body {
        RequestKind::Produce(request) => topics::produce(request, access, handler),
        RequestKind::Fetch(request) => topics::fetch(request, access),
        RequestKind::ListOffsets(request) => topics::list_offsets(request, access),
        RequestKind::OffsetForLeaderEpoch(request) => {
            topics::offset_for_leader_epoch(request, access)
        }
        RequestKind::Metadata(request) => topics::metadata(request, version, access, handler),
        RequestKind::CreateTopics(request) => admin::create_topics(request, access),
        RequestKind::DeleteTopics(request) => admin::delete_topics(request, access, handler),
        RequestKind::CreatePartitions(request) => admin::create_partitions(request, access),
        RequestKind::DescribeConfigs(request) => admin::describe_configs(request, access),
        RequestKind::AlterConfigs(request) => admin::alter_configs(request, access),
        RequestKind::IncrementalAlterConfigs(request) => {
            admin::incremental_alter_configs(request, access)
        }
        RequestKind::FindCoordinator(request) => groups::find_coordinator(request, version, access),
        RequestKind::JoinGroup(request) => groups::join_group(request, access),
        RequestKind::SyncGroup(request) => groups::sync_group(request, access),
        RequestKind::Heartbeat(request) => groups::heartbeat(request, access),
        RequestKind::LeaveGroup(request) => groups::leave_group(request, access),
        RequestKind::OffsetCommit(request) => groups::offset_commit(request, access),
        RequestKind::OffsetFetch(request) => groups::offset_fetch(request, access),
        RequestKind::DescribeGroups(request) => groups::describe_groups(request, access),
        RequestKind::ListGroups(request) => groups::list_groups(request, access),
        RequestKind::DeleteGroups(request) => groups::delete_groups(request, access),
        RequestKind::InitProducerId(request) => groups::init_producer_id(request, access),
        // ApiVersions and DescribeCluster need nothing (as in Kafka); the
        // user and ACL APIs were checked by the gate.
        other => Checked::serve(other),
    }
}

/// Applies `patch` to the response, once the answer settles.
pub(crate) fn patched(answer: Answer, patch: Option<Patch>) -> Answer {
    let Some(patch) = patch else {
        return answer;
    };
    match answer {
        Answer::Respond(response) => Answer::Respond(patch(response)),
        Answer::NoResponse => Answer::NoResponse,
        Answer::Later(rest) => {
            Answer::Later(Box::pin(async move { patched(rest.await, Some(patch)) }))
        }
    }
}

/// Whether the principal may create topic `name`: CREATE on the cluster,
/// or on the topic (Kafka checks both, in that order).
fn may_create_topic(access: &Access, name: &str) -> bool {
    access.may(
        AclOperation::Create,
        ResourceType::Cluster,
        fjord_metadata::acl::CLUSTER_NAME,
    ) || access.allowed(AclOperation::Create, ResourceType::Topic, name)
}
