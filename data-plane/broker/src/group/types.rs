//! Inputs and outputs of the group coordinator.

use bytes::Bytes;
use kafka_protocol::ResponseError;

/// Milliseconds on the broker's monotonic clock.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Millis(pub u64);

impl Millis {
    pub fn plus(self, milliseconds: u64) -> Self {
        Self(self.0.saturating_add(milliseconds))
    }
}

/// Identifies a request whose reply may come later (JoinGroup, SyncGroup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestToken(pub u64);

/// Limits and timings of the coordinator (Kafka's names in brackets).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Shortest session timeout a member may ask for [group.min.session.timeout.ms].
    pub session_timeout_min_ms: u64,
    /// Longest session timeout a member may ask for [group.max.session.timeout.ms].
    pub session_timeout_max_ms: u64,
    /// How long a new group waits for more members before its first
    /// rebalance completes [group.initial.rebalance.delay.ms].
    pub initial_rebalance_delay_ms: u64,
    /// Most members in one group [group.max.size].
    pub members_max: usize,
    /// Longest metadata string on a committed offset [offset.metadata.max.bytes].
    pub offset_metadata_bytes_max: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            session_timeout_min_ms: 6_000,
            session_timeout_max_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            members_max: 1_000,
            offset_metadata_bytes_max: 4_096,
        }
    }
}

/// A JoinGroup request.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    /// Empty on a member's first join.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    pub protocol_type: String,
    /// Supported assignment protocols, most preferred first: (name, metadata).
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: an unknown member first gets an id to rejoin with (KIP-394).
    pub require_known_member_id: bool,
}

/// One member as the leader sees it in its JoinGroup reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// A JoinGroup reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinReply {
    pub error: Option<ResponseError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only.
    pub members: Vec<JoinedMember>,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment: (member id, assignment bytes); empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReply {
    pub error: Option<ResponseError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

/// A topic partition.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_time: Millis,
}

/// An OffsetCommit request.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub group_id: String,
    /// -1 for a consumer outside any group generation (manual assignment).
    pub generation_id: i32,
    pub member_id: String,
    pub offsets: Vec<(TopicPartition, CommittedOffset)>,
}

/// A member of a persisted group generation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberRecord {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    #[serde(with = "super::serde_bytes::pairs")]
    pub protocols: Vec<(String, Bytes)>,
    #[serde(with = "super::serde_bytes")]
    pub assignment: Bytes,
}

/// What the coordinator asks the broker to persist, in order, in the
/// internal group log; replayed through `Coordinator::replay` on start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GroupRecord {
    /// A generation completed (or the group became empty).
    Metadata {
        group_id: String,
        generation_id: i32,
        protocol_type: Option<String>,
        protocol_name: Option<String>,
        leader: Option<String>,
        members: Vec<MemberRecord>,
    },
    Offset {
        group_id: String,
        partition: TopicPartition,
        committed: CommittedOffset,
    },
    /// The group and all its offsets were deleted.
    Deleted { group_id: String },
}

/// What the broker must do as a result of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Join(RequestToken, JoinReply),
    Sync(RequestToken, SyncReply),
    Persist(GroupRecord),
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol_name: String,
    pub members: Vec<MemberDescription>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}
