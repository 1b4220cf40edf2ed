//! Fjord's custom resources. The CRD manifests users install are generated
//! from these types ([`crd_yaml`]) and committed in `operator/crd/yaml/` (and, for
//! `kubectl apply -k operator/deploy`, in `operator/deploy/crds.yaml`); tests keep
//! the committed files equal to the generated ones.
//!
//! Every schema stays valid for a real API server and for kubectl's client-side
//! validation: structural, no `null` in an `enum`, no `nullable` (an optional
//! field is simply not required; its schema is that of the value), CEL rules
//! (`x-kubernetes-validations`) only where a field must not change or shrink.

mod condition;
mod stream_cluster;
mod topic;

pub use condition::{Condition, ConditionStatus, ConditionType};
pub use stream_cluster::{
    BrokerResources, BrokerState, BrokerStatus, Listener, ListenerExposure, RackAwareness,
    ResourceAmounts, RollProgress, RollStep, RolloutPolicy, RolloutStrategy, StorageSpec,
    StreamCluster, StreamClusterPhase, StreamClusterSpec, StreamClusterStatus,
};
pub use topic::{Topic, TopicSpec, TopicStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every Fjord resource.
pub const GROUP: &str = "fjord.dev";

/// Every CRD Fjord defines.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![StreamCluster::crd(), Topic::crd()];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            // kube-derive's root type holds `status: Option<_>`, which schemars
            // renders `nullable`; the status is simply optional.
            let status = version
                .schema
                .as_mut()
                .and_then(|schema| schema.open_api_v3_schema.as_mut())
                .and_then(|schema| schema.properties.as_mut())
                .and_then(|properties| properties.get_mut("status"));
            if let Some(status) = status {
                status.nullable = None;
            }
        }
    }
    crds
}

/// Every CRD as one multi-document YAML stream, as `fjord-operator crd` prints it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    let mut text = String::new();
    for crd in &crds() {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(crd)?);
    }
    Ok(text)
}

#[cfg(test)]
mod crd_test;
