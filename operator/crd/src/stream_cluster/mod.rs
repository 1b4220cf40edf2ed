//! `StreamCluster`: one Kafka-compatible broker cluster.

mod status;

pub use status::{
    BrokerState, BrokerStatus, RollProgress, RollStep, StreamClusterPhase, StreamClusterStatus,
};

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Fjord broker cluster: brokers that speak the Apache Kafka protocol, their
/// storage, configuration, listeners and how the operator rolls them.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "fjord.dev",
    version = "v1alpha1",
    kind = "StreamCluster",
    namespaced,
    // `sc` is the built-in StorageClass's short name; see crd_test.rs.
    shortname = "fsc",
    category = "fjord",
    status = "StreamClusterStatus",
    printcolumn = r#"{"name":"Version","type":"string","description":"Fjord release the brokers run","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Brokers","type":"integer","description":"Declared broker count","jsonPath":".spec.brokers"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","description":"Brokers up and caught up","jsonPath":".status.readyBrokers"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","description":"Coarse lifecycle phase","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Bootstrap","type":"string","description":"Bootstrap address for Kafka clients","jsonPath":".status.bootstrapAddress","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct StreamClusterSpec {
    /// Fjord release the brokers run, e.g. `0.1.0`; changing it rolls the brokers
    /// one at a time (see `rollout`).
    pub version: String,
    /// Number of brokers. Removing brokers waits until each one's replicas have moved away.
    #[schemars(range(min = 1, max = 64))]
    pub brokers: u16,
    /// CPU and memory of each broker container.
    #[serde(default, skip_serializing_if = "BrokerResources::is_empty")]
    pub resources: BrokerResources,
    /// Persistent volume of each broker.
    pub storage: StorageSpec,
    /// Broker configuration overrides (`log.retention.ms`, `log.segment.bytes`, ...).
    /// Settings brokers take live are applied live; the others roll the brokers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Kafka listeners the brokers open, besides the internal replication one.
    /// Without any, one `ClusterIP` listener named `plain` on port 9092.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub listeners: Vec<Listener>,
    /// Spread replicas across racks: each broker's rack is its node's value of
    /// `topologyKey`. Absent: no rack awareness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RackAwareness")]
    pub rack_awareness: Option<RackAwareness>,
    /// How the operator restarts brokers for a version or configuration change.
    #[serde(default)]
    pub rollout: RolloutPolicy,
    /// While true the operator changes nothing in this cluster (it still reports status).
    #[serde(default)]
    pub paused: bool,
}

/// CPU and memory requests and limits of each broker container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerResources {
    /// Amounts the scheduler reserves for each broker.
    #[serde(default, skip_serializing_if = "ResourceAmounts::is_empty")]
    pub requests: ResourceAmounts,
    /// Amounts no broker may exceed.
    #[serde(default, skip_serializing_if = "ResourceAmounts::is_empty")]
    pub limits: ResourceAmounts,
}

impl BrokerResources {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.limits.is_empty()
    }
}

/// CPU and memory as Kubernetes quantities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAmounts {
    /// CPU as a Kubernetes quantity, e.g. `2` or `500m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub cpu: Option<String>,
    /// Memory as a Kubernetes quantity, e.g. `4Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub memory: Option<String>,
}

impl ResourceAmounts {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// Persistent volume of each broker. Both fields are fixed at creation: a
/// StatefulSet's volume claim templates cannot change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Volume size as a Kubernetes quantity, e.g. `100Gi`. Cannot change after creation.
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "storage.size cannot change: volume expansion is not supported yet"
    }]))]
    pub size: String,
    /// StorageClass of the volumes; the cluster default when absent. Cannot change
    /// after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "storage.storageClassName cannot change"
    }]))]
    pub storage_class_name: Option<String>,
}

/// One Kafka listener of every broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Listener name, unique in the cluster, e.g. `plain` or `external`.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// Port the brokers listen on.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// How clients reach this listener: `ClusterIP` (inside the Kubernetes
    /// cluster), `NodePort` or `LoadBalancer`.
    #[serde(default)]
    pub exposure: ListenerExposure,
}

/// How clients reach a listener: `ClusterIP`, `NodePort` or `LoadBalancer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ListenerExposure {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

/// Rack awareness: which node label names a broker's rack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RackAwareness {
    /// Node label whose value is the rack, e.g. `topology.kubernetes.io/zone`.
    #[schemars(length(min = 1))]
    pub topology_key: String,
}

/// How the operator restarts brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPolicy {
    /// `OneBroker` restarts one broker at a time; `OneRack` restarts every
    /// broker of one rack at a time (needs `rackAwareness`).
    #[serde(default)]
    pub strategy: RolloutStrategy,
    /// Seconds a restarted broker has to serve again with no under-replicated
    /// partition before the roll pauses with a `Degraded` condition.
    #[serde(default = "RolloutPolicy::default_health_timeout_seconds")]
    #[schemars(range(min = 1))]
    pub health_timeout_seconds: u32,
    /// Seconds to wait after one broker (or rack) is healthy before restarting the next.
    #[serde(default = "RolloutPolicy::default_pause_seconds")]
    pub pause_seconds: u32,
}

impl RolloutPolicy {
    fn default_health_timeout_seconds() -> u32 {
        600
    }

    fn default_pause_seconds() -> u32 {
        30
    }
}

impl Default for RolloutPolicy {
    fn default() -> Self {
        Self {
            strategy: RolloutStrategy::default(),
            health_timeout_seconds: Self::default_health_timeout_seconds(),
            pause_seconds: Self::default_pause_seconds(),
        }
    }
}

/// Unit of a roll: `OneBroker` or `OneRack`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RolloutStrategy {
    #[default]
    OneBroker,
    OneRack,
}
