//! A StatefulSet of three real `fjord-broker` processes in cluster mode, run
//! by the StatefulSet controller and the process kubelet against the
//! in-memory API server: the set becomes Ready through the brokers' own
//! `/readyz`, `kcat -L` lists all three, a deleted Pod comes back with the
//! same data directory, and a killed process is restarted.
//!
//! Needs Debian's `kcat` and a built `fjord-broker` beside this test binary
//! (`cargo build -p fjord-broker`; `cargo xtask test` builds it), or
//! `FJORD_BROKER_BIN` naming one.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod kubelet_support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fjord_kube_sim::kubelet::address::pod_address;
use fjord_kube_sim::kubelet::image::ImageTable;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::api::{DeleteParams, PostParams};
use kubelet_support::{Cluster, eventually};
use serde_json::json;

const BROKERS: usize = 3;
const IMAGE: &str = "fjord/broker:test";

/// `FJORD_BROKER_BIN`, or `fjord-broker` in the profile directory this test
/// binary was built into (`target/<profile>/deps/<test>`).
fn broker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FJORD_BROKER_BIN") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().unwrap();
    let profile = test.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile.join("fjord-broker");
    assert!(
        binary.exists(),
        "no {}: build it (cargo build -p fjord-broker) or set FJORD_BROKER_BIN",
        binary.display()
    );
    binary
}

/// The "image": an entrypoint script, as container images often have, that
/// turns the Pod's ordinal into the broker's node id and its peer list into
/// `--peers` without itself (one Pod template serves every ordinal).
fn broker_image(dir: &Path) -> ImageTable {
    let script = dir.join("broker-entrypoint.sh");
    let text = format!(
        "#!/bin/sh\nset -eu\nid=$(( ${{POD_NAME##*-}} + 1 ))\n\
         peers=$(printf '%s' \"$ALL_PEERS\" | tr ',' '\\n' | grep -v \"^$id=\" | paste -sd, -)\n\
         exec '{}' --node-id \"$id\" --peers \"$peers\" \"$@\"\n",
        broker_binary().display()
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut images = ImageTable::default();
    images.insert(IMAGE, &script);
    images
}

fn addresses(namespace: &str) -> Vec<Ipv4Addr> {
    (0..BROKERS)
        .map(|ordinal| pod_address(namespace, &format!("broker-{ordinal}"), |_| false))
        .collect()
}

fn statefulset(addresses: &[Ipv4Addr]) -> StatefulSet {
    let peers: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}={a}:9093", i + 1))
        .collect();
    let voters: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}@{a}:9644", i + 1))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": "broker" },
        "spec": {
            "replicas": BROKERS,
            "serviceName": "broker",
            "podManagementPolicy": "Parallel",
            "selector": { "matchLabels": { "app": "broker" } },
            "template": {
                "metadata": { "labels": { "app": "broker" } },
                "spec": {
                    "terminationGracePeriodSeconds": 10,
                    "containers": [{
                        "name": "broker",
                        "image": IMAGE,
                        "env": [
                            { "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                            { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                            { "name": "ALL_PEERS", "value": peers.join(",") },
                        ],
                        "args": [
                            "--data-dir", "/var/lib/fjord/data",
                            "--listen", "$(POD_IP):9092",
                            "--admin-listen", "$(POD_IP):9644",
                            "--peer-listen", "$(POD_IP):9093",
                            "--controller-voters", voters.join(","),
                            "--default-replication-factor", "3",
                        ],
                        "ports": [
                            { "name": "kafka", "containerPort": 9092 },
                            { "name": "admin", "containerPort": 9644 },
                        ],
                        "volumeMounts": [{ "name": "data", "mountPath": "/var/lib/fjord" }],
                        "readinessProbe": {
                            "httpGet": { "path": "/readyz", "port": "admin" },
                            "periodSeconds": 1,
                        },
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": "1Gi" } },
                },
            }],
        },
    }))
    .unwrap()
}

fn headless_service() -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": "broker" },
        "spec": {
            "clusterIP": "None",
            "selector": { "app": "broker" },
            "ports": [{ "name": "kafka", "port": 9092 }],
        },
    }))
    .unwrap()
}

/// The brokers `kcat -L` against `bootstrap` lists, by node id.
fn kcat_brokers(bootstrap: &str) -> Option<BTreeMap<u32, String>> {
    let output = std::process::Command::new("kcat")
        .args(["-L", "-b", bootstrap, "-m", "5"])
        .output()
        .expect("kcat must be installed (cargo xtask test installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    let brokers: BTreeMap<u32, String> = text
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("broker ")?;
            let (id, address) = rest.split_once(" at ")?;
            Some((
                id.parse().ok()?,
                address.split_whitespace().next()?.to_owned(),
            ))
        })
        .collect();
    Some(brokers).filter(|brokers| brokers.len() == BROKERS)
}

fn pod_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_broker_pods_become_ready_list_each_other_and_keep_their_data_when_replaced() {
    let tools = tempfile::tempdir().unwrap();
    let cluster = Cluster::start("brokers", broker_image(tools.path())).await;
    let namespace = cluster.namespace.clone();
    let addresses = addresses(&namespace);
    cluster
        .api::<Service>()
        .create(&PostParams::default(), &headless_service())
        .await
        .unwrap();
    cluster
        .api::<StatefulSet>()
        .create(&PostParams::default(), &statefulset(&addresses))
        .await
        .unwrap();

    scenario(&cluster, addresses).await;
}

async fn scenario(cluster: &Cluster, addresses: Vec<Ipv4Addr>) {
    let namespace = &cluster.namespace;
    let kubelet = &cluster.kubelet;
    let sets = cluster.api::<StatefulSet>();
    let pods = cluster.api::<Pod>();
    let claims = cluster.api::<PersistentVolumeClaim>();

    // The set turns Ready through each broker's /readyz.
    let status = eventually("three ready brokers", Duration::from_secs(60), || async {
        let set = sets.get("broker").await.ok()?;
        let status = set.status?;
        (status.ready_replicas == Some(3) && status.available_replicas == Some(3)).then_some(status)
    })
    .await;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.current_revision, status.update_revision);
    assert_eq!(status.observed_generation, Some(1));

    // Every Pod listens on its own loopback address, which DNS resolves.
    for (ordinal, address) in addresses.iter().enumerate() {
        let pod = pods.get(&format!("broker-{ordinal}")).await.unwrap();
        assert_eq!(
            pod.status.as_ref().unwrap().pod_ip.as_deref(),
            Some(address.to_string().as_str())
        );
    }
    let dns = eventually("the pods' DNS names", Duration::from_secs(10), || async {
        let dns = kubelet.dns().ok()?;
        (dns.resolve(&format!("broker.{namespace}.svc.cluster.local"))
            .len()
            == 3)
            .then_some(dns)
    })
    .await;
    assert_eq!(
        dns.resolve(&format!("broker-1.broker.{namespace}.svc.cluster.local")),
        vec![addresses[1]]
    );

    // kcat sees the three brokers, each at its Pod's address.
    let bootstrap = format!("{}:9092", addresses[0]);
    let listed = eventually(
        "kcat -L to list three brokers",
        Duration::from_secs(60),
        || {
            let bootstrap = bootstrap.clone();
            async move {
                tokio::task::spawn_blocking(move || kcat_brokers(&bootstrap))
                    .await
                    .ok()
                    .flatten()
            }
        },
    )
    .await;
    for (ordinal, address) in addresses.iter().enumerate() {
        let id = u32::try_from(ordinal + 1).unwrap();
        assert_eq!(listed[&id], format!("{address}:9092"));
    }

    // A deleted Pod comes back under its name with the same claim and data.
    let claim_dir = kubelet.layout().claim_dir(namespace, "data-broker-1");
    assert!(
        claim_dir.join("data").is_dir(),
        "broker-1 writes into its claim's directory"
    );
    std::fs::write(claim_dir.join("marker"), "before").unwrap();
    let old = pods.get("broker-1").await.unwrap();
    pods.delete("broker-1", &DeleteParams::default())
        .await
        .unwrap();
    let new = eventually(
        "broker-1 to come back ready",
        Duration::from_secs(60),
        || async {
            let pod = pods.get("broker-1").await.ok()?;
            (pod.metadata.uid != old.metadata.uid && pod_ready(&pod)).then_some(pod)
        },
    )
    .await;
    let volume = new
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "data")
        .unwrap();
    assert_eq!(
        volume.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-broker-1"
    );
    assert_eq!(
        std::fs::read_to_string(claim_dir.join("marker")).unwrap(),
        "before"
    );
    assert!(
        claims.get("data-broker-1").await.is_ok(),
        "the claim outlives its pod"
    );
    let bootstrap = format!("{}:9092", addresses[1]);
    eventually(
        "kcat -L via the replaced broker",
        Duration::from_secs(60),
        || {
            let bootstrap = bootstrap.clone();
            async move {
                tokio::task::spawn_blocking(move || kcat_brokers(&bootstrap))
                    .await
                    .ok()
                    .flatten()
            }
        },
    )
    .await;

    // A killed process restarts in place: same Pod, restartCount 1, ready again.
    assert!(kubelet.kill(namespace, "broker-2").await);
    eventually(
        "broker-2 to restart and be ready",
        Duration::from_secs(60),
        || async {
            let pod = pods.get("broker-2").await.ok()?;
            let restarts = pod
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .restart_count;
            (restarts == 1 && pod_ready(&pod)).then_some(())
        },
    )
    .await;
}
