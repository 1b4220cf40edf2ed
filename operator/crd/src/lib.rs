//! Fjord's custom resources. The CRD manifests users install are generated
//! from these types ([`crd_yaml`]) and committed in `operator/crd/yaml/`; a
//! test keeps the committed file equal to the generated one.

mod stream_cluster;

pub use stream_cluster::{
    Condition, ConditionStatus, StorageSpec, StreamCluster, StreamClusterPhase, StreamClusterSpec,
    StreamClusterStatus,
};

use kube::CustomResourceExt;

/// The API group of every Fjord resource.
pub const GROUP: &str = "fjord.dev";

/// Every CRD as one multi-document YAML stream, as `fjord-operator crd` prints it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    let crds = [StreamCluster::crd()];
    let mut text = String::new();
    for crd in &crds {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(crd)?);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crd_yaml_matches_the_rust_types() {
        let committed = include_str!("../yaml/crds.yaml");
        let generated = crd_yaml().unwrap();
        assert!(
            committed == generated,
            "operator/crd/yaml/crds.yaml is stale: regenerate it with \
             `cargo run -p fjord-operator -- crd > operator/crd/yaml/crds.yaml`"
        );
    }
}
