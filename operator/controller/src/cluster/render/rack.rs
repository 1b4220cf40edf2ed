//! Rack awareness (docs/operator.md, "Racks"): a broker's rack is its
//! node's value of `spec.rackAwareness.topologyKey`. A Pod cannot read its
//! node's labels through the downward API, so an init container
//! (`fjord-operator broker-rack`) reads the Node object and writes the
//! value to [`RACK_FILE`], which the broker reads at start (`--rack-file`).
//! The init container runs under a per-cluster ServiceAccount
//! (`NAME-broker`) bound by a ClusterRoleBinding to the ClusterRole
//! [`RACK_CLUSTER_ROLE`] (installed with the operator), which may only `get`
//! nodes.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Desired;

/// Where the init container writes the rack and the broker reads it.
pub const RACK_FILE: &str = "/var/run/fjord/rack/rack";
/// Directory of [`RACK_FILE`] (an `emptyDir` shared by both containers).
pub const RACK_DIR: &str = "/var/run/fjord/rack";
/// The ClusterRole (operator/deploy/rbac.yaml) allowing only `get` on nodes.
pub const RACK_CLUSTER_ROLE: &str = "fjord-broker-rack";

impl Desired {
    /// The ServiceAccount broker Pods run as when rack awareness is on.
    pub fn broker_service_account_name(&self) -> String {
        format!("{}-broker", self.name)
    }
}

/// The brokers' ServiceAccount (namespaced, owned by the cluster).
pub fn broker_service_account(desired: &Desired) -> ServiceAccount {
    ServiceAccount {
        metadata: desired.metadata(desired.broker_service_account_name()),
        ..ServiceAccount::default()
    }
}

/// Name of the cluster's ClusterRoleBinding. Namespaces cannot contain
/// `:`, so `NS:NAME` names one cluster unambiguously.
pub fn rack_binding_name(namespace: &str, cluster: &str) -> String {
    format!("{RACK_CLUSTER_ROLE}:{namespace}:{cluster}")
}

/// Binds the brokers' ServiceAccount to [`RACK_CLUSTER_ROLE`]. Cluster
/// scoped, so it cannot be owned by the (namespaced) cluster: the
/// reconciler deletes it when the cluster is deleted.
pub fn rack_binding(desired: &Desired) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(rack_binding_name(&desired.namespace, &desired.name)),
            labels: Some(desired.labels()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: RACK_CLUSTER_ROLE.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: desired.broker_service_account_name(),
            namespace: Some(desired.namespace.clone()),
            api_group: None,
        }]),
    }
}
