//! Newtypes for what the metadata talks about.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Kafka's limit on topic name length.
pub const TOPIC_NAME_MAX: usize = 249;

/// A broker's id (the Kafka broker id, the Raft node id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BrokerId(pub u32);

/// A topic's id, stable across renames and distinct across re-creations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TopicId(pub uuid::Uuid);

/// Identifies one run of a broker process: a restart registers a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Incarnation(pub uuid::Uuid);

/// Milliseconds on the controller leader's clock; only differences matter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

/// A partition's leader epoch (its Raft term).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LeaderEpoch(pub i32);

impl LeaderEpoch {
    pub fn next(self) -> LeaderEpoch {
        LeaderEpoch(
            self.0
                .checked_add(1)
                .expect("leader epochs stay far below i32::MAX"),
        )
    }
}

/// A valid Kafka topic name: 1..=249 ASCII letters, digits, `.`, `_`, `-`,
/// not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

impl TopicName {
    pub fn new(name: impl Into<String>) -> Result<TopicName, Error> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name == "." || name == ".." {
            Some("'.' and '..' are not allowed")
        } else if name.len() > TOPIC_NAME_MAX {
            Some("it is longer than 249 characters")
        } else if !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
        {
            Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidTopicName { name, reason }),
            None => Ok(TopicName(name)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is still valid (asserted by the image invariants).
    pub fn is_valid(&self) -> bool {
        TopicName::new(self.0.clone()).is_ok()
    }
}

impl TryFrom<String> for TopicName {
    type Error = Error;
    fn try_from(name: String) -> Result<Self, Error> {
        TopicName::new(name)
    }
}

impl From<TopicName> for String {
    fn from(name: TopicName) -> String {
        name.0
    }
}

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionRef {
    pub topic: TopicName,
    pub partition: u32,
}

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for PartitionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
