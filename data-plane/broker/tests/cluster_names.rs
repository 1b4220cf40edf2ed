//! Three real brokers that know each other only by DNS-style names
//! (`--peers 2=broker-2.fjord.test:PORT`, `--controller-voters
//! 1@broker-1.fjord.test:PORT`) resolved through `--hosts-file`, as a
//! StreamCluster's brokers know each other by Pod DNS names on Kubernetes;
//! each reads its rack from `--rack-file`, and clients see the racks in
//! Metadata.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use harness::cluster::BrokerCluster;
use serde_json::{Value, json};

#[test]
fn brokers_named_in_a_hosts_file_form_a_cluster_and_report_their_racks() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    let racks = dir.path().to_owned();
    let rack_flag = move |id: u32| {
        let file = racks.join(format!("rack-{id}"));
        // As the operator's init container writes it: the node's label.
        std::fs::write(&file, format!("zone-{}\n", (id - 1) % 2)).unwrap();
        vec![format!("--rack-file={}", file.display())]
    };
    // Start-up waits until all three registered with the controller, which
    // they reach by name only.
    let cluster = BrokerCluster::start_named(3, &hosts, &rack_flag);
    let described = harness::run_client("confluent", &cluster.bootstrap(), &["cluster"]);
    let mut brokers: Vec<Value> = described["brokers"].as_array().unwrap().clone();
    brokers.sort_by_key(|broker| broker[0].as_i64());
    let seen: Vec<(i64, String)> = brokers
        .iter()
        .map(|b| {
            (
                b[0].as_i64().unwrap(),
                b[3].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "zone-0".to_owned()),
            (2, "zone-1".to_owned()),
            (3, "zone-0".to_owned())
        ],
        "{described}"
    );
    // Replication works over the named peer connections.
    let created = harness::run_client(
        "confluent",
        &cluster.bootstrap(),
        &["create-replicated", "named", "3", "3"],
    );
    assert_eq!(created, json!("ok"), "{created}");
    let health = cluster.wait_for("three in-sync replicas everywhere", |health| {
        health["healthy"] == true
            && health["under_replicated"]
                .as_array()
                .is_some_and(Vec::is_empty)
    });
    assert_eq!(health["brokers"].as_array().unwrap().len(), 3, "{health}");
    // acks=all commits on a quorum reached over the named connections.
    let produced = harness::run_client(
        "confluent",
        &cluster.bootstrap(),
        &["produce-keyed", "named", "300"],
    );
    assert_eq!(produced, json!("ok"), "{produced}");
}
