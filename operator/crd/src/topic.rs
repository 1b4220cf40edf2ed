//! `Topic`: one Kafka topic on a `StreamCluster`.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Condition;

/// A Kafka topic the operator creates and keeps configured on a `StreamCluster`
/// of the same namespace. The topic's name is the resource's name.
#[derive(
    CustomResource, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "fjord.dev",
    version = "v1alpha1",
    kind = "Topic",
    namespaced,
    shortname = "ftopic",
    category = "fjord",
    status = "TopicStatus",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"StreamCluster holding the topic","jsonPath":".spec.clusterRef"}"#,
    printcolumn = r#"{"name":"Partitions","type":"integer","description":"Declared partition count","jsonPath":".spec.partitions"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","description":"Replication factor","jsonPath":".spec.replicationFactor"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","description":"Whether the topic exists as declared","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TopicSpec {
    /// Name of the `StreamCluster`, in this namespace, that holds the topic.
    /// Cannot change after creation.
    #[schemars(length(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "clusterRef cannot change"
    }]))]
    pub cluster_ref: String,
    /// Number of partitions. Kafka can add partitions but never remove them.
    #[schemars(range(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self >= oldSelf",
        "message": "partitions cannot shrink: Kafka cannot remove partitions"
    }]))]
    pub partitions: u32,
    /// Copies of each partition, on distinct brokers. Cannot change after creation.
    #[schemars(range(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "replicationFactor cannot change"
    }]))]
    pub replication_factor: u16,
    /// Topic configuration the operator enforces (`retention.ms`,
    /// `cleanup.policy`, ...). Settings not listed here are left alone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// Observed state of a topic, written by the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64")]
    pub observed_generation: Option<i64>,
    /// Partitions the topic has on the brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub partitions: Option<u32>,
    /// Declared settings whose value on the brokers differs (drift the operator
    /// is repairing or cannot repair), as `key` → value on the brokers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drift: BTreeMap<String, String>,
    /// `Ready`, `Progressing` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
