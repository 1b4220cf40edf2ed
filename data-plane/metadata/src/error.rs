//! Why a record was refused or could not be decoded.

use crate::types::{BrokerId, TopicName};

/// A refused proposal or an undecodable record; broken invariants are
/// assertions instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("cannot decode metadata record: {0}")]
    Decode(String),
    #[error("unsupported metadata record version {0}")]
    UnsupportedVersion(u32),
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName { name: String, reason: &'static str },
    #[error("broker {0} is not registered")]
    UnknownBroker(BrokerId),
    #[error("broker {broker} has incarnation {current}, not {given}")]
    StaleIncarnation {
        broker: BrokerId,
        current: uuid::Uuid,
        given: uuid::Uuid,
    },
    #[error("topic {0} already exists")]
    TopicExists(TopicName),
    #[error("topic id {0} is already in use")]
    TopicIdInUse(uuid::Uuid),
    #[error("topic {0} does not exist")]
    UnknownTopic(TopicName),
    #[error("topic {topic} has no partition {partition}")]
    UnknownPartition { topic: TopicName, partition: u32 },
    #[error("invalid replica assignment: {0}")]
    InvalidAssignment(String),
    #[error("replication factor {replication_factor} exceeds the {brokers} registered brokers")]
    ReplicationAboveBrokers {
        replication_factor: usize,
        brokers: usize,
    },
    #[error("invalid leader: {0}")]
    InvalidLeader(String),
    #[error("invalid in-sync replica set: {0}")]
    InvalidIsr(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("broker {broker} cannot be removed: {reason}")]
    Decommission { broker: BrokerId, reason: String },
    #[error("invalid acl binding: {0}")]
    InvalidAcl(String),
    #[error("cannot plan: {0}")]
    Unplaceable(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
