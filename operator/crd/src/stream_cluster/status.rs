//! Observed state of a `StreamCluster`, written by the operator.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Condition;

/// Observed state, written by the operator through the status subresource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64")]
    pub observed_generation: Option<i64>,
    /// Coarse lifecycle phase: `Pending`, `Provisioning`, `Ready`, `Upgrading`,
    /// `Degraded` or `Failed`. The conditions say more.
    #[serde(default)]
    pub phase: StreamClusterPhase,
    /// Release every broker runs once a roll completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub current_version: Option<String>,
    /// Brokers that are up and caught up.
    #[serde(default)]
    pub ready_brokers: u16,
    /// `host:port` list Kafka clients bootstrap from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub bootstrap_address: Option<String>,
    /// Each broker's version and state, by broker id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["id"]))]
    pub brokers: Vec<BrokerStatus>,
    /// Broker ids of the controller group's voters, fixed when the cluster is
    /// created (the cluster's identity derives from them); later brokers are observers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub controller_voters: Vec<u32>,
    /// The roll in progress; absent when none is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RollProgress")]
    pub roll: Option<RollProgress>,
    /// `Ready`, `Progressing`, `Degraded` and `Stable`; `Stable` is the one
    /// automation waits on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Coarse lifecycle phase of a cluster: `Pending`, `Provisioning`, `Ready`,
/// `Upgrading`, `Degraded` or `Failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StreamClusterPhase {
    #[default]
    Pending,
    Provisioning,
    Ready,
    Upgrading,
    Degraded,
    Failed,
}

/// One broker as the operator last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerStatus {
    /// Broker id (the StatefulSet ordinal).
    pub id: u32,
    /// Name of the broker's Pod.
    pub pod: String,
    /// Release the broker reports running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub version: Option<String>,
    /// `Pending`, `Starting`, `Serving`, `Maintenance`, `Restarting`,
    /// `Decommissioning` or `Failed`.
    pub state: BrokerState,
    /// The broker's rack (its node's topology label), when rack awareness is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub rack: Option<String>,
}

/// State of one broker: `Pending`, `Starting`, `Serving`, `Maintenance`,
/// `Restarting`, `Decommissioning` or `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BrokerState {
    Pending,
    Starting,
    Serving,
    Maintenance,
    Restarting,
    Decommissioning,
    Failed,
}

/// Progress of a rolling restart, kept in the API server so a restarted
/// operator resumes it instead of starting another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollProgress {
    /// Release (or configuration revision) the roll moves the brokers to.
    pub target_revision: String,
    /// Brokers already restarted onto the target, in roll order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub done: Vec<u32>,
    /// Broker being restarted now; absent between brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub current: Option<u32>,
    /// Rack being restarted now (`OneRack` rollouts): every broker of it not yet
    /// in `done`. Absent between racks and in `OneBroker` rollouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub rack: Option<String>,
    /// Step the current broker is at: `Probe`, `EnterMaintenance`, `DeletePod`,
    /// `WaitServing`, `ExitMaintenance` or `Pause`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RollStep")]
    pub step: Option<RollStep>,
    /// RFC 3339 time the current step began, for the health timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub step_started_at: Option<String>,
    /// Why the roll is paused; absent while it proceeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub paused_reason: Option<String>,
}

/// Step of restarting one broker: `Probe`, `EnterMaintenance`, `DeletePod`,
/// `WaitServing`, `ExitMaintenance` or `Pause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RollStep {
    Probe,
    EnterMaintenance,
    DeletePod,
    WaitServing,
    ExitMaintenance,
    Pause,
}
