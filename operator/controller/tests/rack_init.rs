//! `fjord-operator broker-rack` (the rack init container) against the
//! in-memory API server through `kube::Client`: it reads the Pod's Node and
//! writes the topology label's value where the broker reads its rack.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;

use fjord_kube_sim::ApiServer;
use fjord_operator::rack::{RackArgs, run};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::PostParams;

const ZONE: &str = "topology.kubernetes.io/zone";

async fn node(server: &ApiServer, name: &str, labels: &[(&str, &str)]) {
    let mut node = Node::default();
    node.metadata.name = Some(name.into());
    node.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    );
    let nodes: Api<Node> = Api::all(server.client());
    nodes.create(&PostParams::default(), &node).await.unwrap();
}

fn args(node: &str, output: &std::path::Path, timeout_seconds: u64) -> RackArgs {
    RackArgs {
        node: node.into(),
        label: ZONE.into(),
        output: output.to_owned(),
        timeout_seconds,
    }
}

#[tokio::test]
async fn the_init_container_writes_its_nodes_zone_for_the_broker() {
    let server = ApiServer::default();
    node(&server, "node-a", &[(ZONE, "eu-west-1b")]).await;
    node(&server, "node-b", &[("kubernetes.io/os", "linux")]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rack");

    let rack = run(server.client(), &args("node-a", &file, 5))
        .await
        .unwrap();
    assert_eq!(rack.as_deref(), Some("eu-west-1b"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "eu-west-1b\n");

    // A node without the label: the broker runs without a rack.
    let rack = run(server.client(), &args("node-b", &file, 5))
        .await
        .unwrap();
    assert_eq!(rack, None);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "\n");

    // A node that does not exist fails the container once the timeout is
    // spent (the kubelet runs it again).
    let missing = dir.path().join("never");
    assert!(
        run(server.client(), &args("node-z", &missing, 0))
            .await
            .is_err()
    );
    assert!(!missing.exists());
}
