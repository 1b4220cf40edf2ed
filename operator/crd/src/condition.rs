//! Status conditions shared by every Fjord resource, following the Kubernetes API
//! conventions (`type`, `status`, `reason`, `message`, `lastTransitionTime`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A status condition. The types Fjord writes are listed in [`ConditionType`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// CamelCase condition name: `Ready`, `Progressing`, `Degraded` or `Stable`.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// Whether the condition holds: `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64")]
    pub observed_generation: Option<i64>,
    /// RFC 3339 time of the last change of `status`.
    pub last_transition_time: String,
    /// CamelCase machine-readable reason for the last transition.
    pub reason: String,
    /// Explanation for a person.
    #[serde(default)]
    pub message: String,
}

/// Value of a condition: `True`, `False` or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// The condition types the operator maintains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// Every declared broker (or the topic) exists and serves.
    Ready,
    /// The operator is changing something: creating, scaling or rolling.
    Progressing,
    /// Something is wrong that the operator is waiting out or cannot fix alone.
    Degraded,
    /// Ready, not progressing, and the observed generation is the latest:
    /// the one automation waits on.
    Stable,
}

impl ConditionType {
    /// The name written in `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
            Self::Stable => "Stable",
        }
    }
}
