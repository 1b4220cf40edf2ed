//! `StreamCluster`: one Kafka-compatible broker cluster.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a Fjord broker cluster.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "fjord.dev",
    version = "v1alpha1",
    kind = "StreamCluster",
    namespaced,
    shortname = "sc",
    status = "StreamClusterStatus",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Brokers","type":"integer","jsonPath":".spec.brokers"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.readyBrokers"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct StreamClusterSpec {
    /// Fjord release the brokers run, e.g. `0.1.0`; must be in the catalog.
    pub version: String,
    /// Number of brokers.
    #[schemars(range(min = 1, max = 64))]
    pub brokers: u16,
    /// Persistent storage of each broker.
    pub storage: StorageSpec,
    /// Broker configuration overrides (`retention.ms`, `segment.bytes`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// Persistent volume of each broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Volume size as a Kubernetes quantity, e.g. `100Gi`.
    pub size: String,
    /// StorageClass of the volume; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Observed state, written by the operator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Coarse lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<StreamClusterPhase>,
    /// Release every broker runs once a roll completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// Brokers that are up and caught up.
    #[serde(default)]
    pub ready_brokers: u16,
    /// Detailed conditions; `Stable` is the one automation waits on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Coarse lifecycle phase of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StreamClusterPhase {
    Pending,
    Provisioning,
    Ready,
    Upgrading,
    Degraded,
    Failed,
}

/// A status condition, following the Kubernetes API conventions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// CamelCase condition name, e.g. `Stable`, `Ready`.
    #[serde(rename = "type")]
    pub condition_type: String,
    pub status: ConditionStatus,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// RFC 3339 time of the last change of `status`.
    pub last_transition_time: String,
    /// CamelCase machine-readable reason.
    pub reason: String,
    /// Explanation for a person.
    #[serde(default)]
    pub message: String,
}

/// Value of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;

    use super::*;

    #[test]
    fn crd_has_short_name_status_subresource_and_printer_columns() {
        let crd = StreamCluster::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("streamclusters.fjord.dev")
        );
        assert_eq!(crd.spec.names.short_names, Some(vec!["sc".to_owned()]));
        let version = &crd.spec.versions[0];
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        let columns: Vec<&str> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|column| column.name.as_str())
            .collect();
        assert_eq!(columns, ["Version", "Brokers", "Ready", "Phase", "Age"]);
    }

    #[test]
    fn spec_round_trips_in_camel_case() {
        let json = serde_json::json!({
            "version": "0.1.0",
            "brokers": 3,
            "storage": {"size": "10Gi", "storageClassName": "gp3"},
        });
        let spec: StreamClusterSpec = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(spec.storage.storage_class_name.as_deref(), Some("gp3"));
        assert_eq!(serde_json::to_value(&spec).unwrap(), json);
    }
}
