//! Live settings over real `fjord-broker` processes (kube-sim's API server
//! and process kubelet, the operator with its HTTP admin client): a
//! 3-broker cluster becomes Stable; `message.max.bytes` raised in
//! `spec.config` replaces no Pod, every broker describes the new value
//! (confluent-kafka's DescribeConfigs, source DYNAMIC_BROKER_CONFIG) and a
//! record larger than the old limit, refused before, is now accepted; then
//! a restart-only key rolls every broker.
//!
//! Needs what `cluster_brokers` needs: a built `fjord-broker` (or
//! `FJORD_BROKER_BIN`) and `FJORD_TEST_PYTHON` with confluent-kafka. Runs in
//! the nextest group `broker-clusters`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::collections::BTreeMap;
use std::time::Duration;

use cluster::eventually;
use cluster::kafka::{dump_logs, python, run_client};
use cluster::real::{testbed, unique_namespace};
use fjord_crd::{ConditionStatus, ConditionType, StorageSpec, StreamCluster, StreamClusterSpec};
use fjord_kube_sim::kubelet::address::pod_address;
use fjord_operator::cluster::status::find;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const TOPIC: &str = "large";
/// A record value above the default `message.max.bytes` (1048588).
const LARGE: usize = 1_500_000;

/// Describes `message.max.bytes` on each broker, then produces one record of
/// `size` bytes with `acks=all`: prints `config ID VALUE SOURCE` per broker
/// and `delivered` or `failed ERROR`.
const CLIENT: &str = r#"
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource
bootstrap, topic, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})
for broker in sys.argv[4:]:
    futures = admin.describe_configs([ConfigResource("broker", broker)])
    (entries,) = [future.result(timeout=30) for future in futures.values()]
    entry = entries["message.max.bytes"]
    source = getattr(entry.source, "value", entry.source)
    print("config", broker, entry.value, int(source))
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                     "message.max.bytes": size + 100000, "message.timeout.ms": 30000})
outcome = []
producer.produce(topic, value=b"x" * size, on_delivery=lambda error, _: outcome.append(error))
producer.flush(40)
print("delivered" if outcome and outcome[0] is None else f"failed {outcome}")
"#;

/// Broker id to (value, source code) of `message.max.bytes`, and whether a
/// record of [`LARGE`] bytes was accepted.
async fn describe_and_produce(bootstrap: &str) -> (BTreeMap<String, (String, String)>, String) {
    let bootstrap = bootstrap.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        let size = LARGE.to_string();
        std::process::Command::new(python())
            .args(["-c", CLIENT, &bootstrap, TOPIC, &size, "1", "2", "3"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let mut configs = BTreeMap::new();
    let mut produced = String::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["config", id, value, source] => {
                configs.insert(
                    (*id).to_owned(),
                    ((*value).to_owned(), (*source).to_owned()),
                );
            }
            _ => produced = line.to_owned(),
        }
    }
    (configs, produced)
}

/// Pod name to uid.
async fn uids(pods: &Api<Pod>) -> BTreeMap<String, String> {
    let list = pods.list(&ListParams::default()).await.unwrap();
    list.items
        .iter()
        .map(|pod| (pod.name_any(), pod.uid().unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_setting_reaches_running_brokers_and_a_restart_only_one_rolls_them() {
    let state = tempfile::tempdir().unwrap();
    let namespace = unique_namespace("live");
    let (testbed, config) = testbed(state.path(), &namespace).await;
    let client = testbed.client.clone();
    let operator = tokio::spawn({
        let client = client.clone();
        async move { fjord_operator::cluster::run(client, config).await }
    });
    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), &namespace);
    let spec = StreamClusterSpec {
        version: "0.1.0".into(),
        brokers: 3,
        storage: StorageSpec {
            size: "1Gi".into(),
            storage_class_name: None,
        },
        ..StreamClusterSpec::default()
    };
    clusters
        .create(&PostParams::default(), &StreamCluster::new("demo", spec))
        .await
        .unwrap();
    let stable = || {
        let clusters = clusters.clone();
        async move {
            let cluster = clusters.get("demo").await.ok()?;
            let status = cluster.status.as_ref()?;
            let stable = find(status, ConditionType::Stable)?.status == ConditionStatus::True;
            (stable && status.observed_generation == cluster.metadata.generation).then_some(cluster)
        }
    };
    let ready = tokio::time::timeout(Duration::from_secs(90), async {
        eventually("the cluster to be Stable", Duration::from_secs(80), stable).await
    })
    .await;
    if ready.is_err() {
        dump_logs(state.path());
        panic!("the cluster did not become Stable");
    }
    let address = |id: u32| pod_address(&namespace, &format!("demo-{id}"), |_| false);
    let bootstrap = (1..=3)
        .map(|id| format!("{}:9092", address(id)))
        .collect::<Vec<_>>()
        .join(",");
    let created = run_client(&python(), &["create", &bootstrap, TOPIC, "1", "3"]);
    assert_eq!(created, ["ok"]);

    let (configs, produced) = describe_and_produce(&bootstrap).await;
    for id in ["1", "2", "3"] {
        assert_eq!(
            configs[id],
            ("1048588".to_owned(), "4".to_owned()),
            "broker {id}"
        );
    }
    assert!(
        produced.starts_with("failed"),
        "over the old limit: {produced}"
    );

    // Raised in spec.config: set live on every broker, no Pod replaced.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let before = uids(&pods).await;
    assert_eq!(before.len(), 3);
    let raise = json!({ "spec": { "config": { "message.max.bytes": "4194304" } } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&raise))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    eventually(
        "every broker's admin API to show 4194304",
        Duration::from_secs(30),
        || {
            let http = http.clone();
            async move {
                for id in 1..=3 {
                    let url = format!("http://{}:9644/v1/config", address(id));
                    let body: serde_json::Value =
                        http.get(url).send().await.ok()?.json().await.ok()?;
                    let setting = &body["settings"]["message-bytes-max"];
                    if setting["value"] != 4_194_304 || setting["source"] != "dynamic" {
                        return None;
                    }
                }
                Some(())
            }
        },
    )
    .await;
    let (configs, produced) = describe_and_produce(&bootstrap).await;
    for id in ["1", "2", "3"] {
        assert_eq!(
            configs[id],
            ("4194304".to_owned(), "2".to_owned()),
            "broker {id}: DYNAMIC_BROKER_CONFIG"
        );
    }
    assert_eq!(produced, "delivered", "a record over the old limit");
    assert_eq!(uids(&pods).await, before, "no Pod was replaced");
    eventually("Stable again", Duration::from_secs(30), stable).await;

    // A key read only at start: every broker restarts onto it.
    let restart = json!({ "spec": { "config": { "socket.request.max.bytes": "8388608" } } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&restart))
        .await
        .unwrap();
    let rolled = tokio::time::timeout(Duration::from_secs(150), async {
        eventually(
            "every Pod replaced and Stable",
            Duration::from_secs(140),
            || {
                let (pods, before) = (pods.clone(), before.clone());
                async move {
                    stable().await?;
                    let now = uids(&pods).await;
                    let replaced = now.len() == 3
                        && now.iter().all(|(name, uid)| before.get(name) != Some(uid));
                    replaced.then_some(())
                }
            },
        )
        .await
    })
    .await;
    if rolled.is_err() {
        dump_logs(state.path());
        panic!("the restart-only change did not roll the brokers");
    }
    // The restarted brokers read the raised limit from their files.
    let url = format!("http://{}:9644/v1/config", address(2));
    let body: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["settings"]["message-bytes-max"]["value"], 4_194_304);
    assert_eq!(body["settings"]["message-bytes-max"]["source"], "static");
    operator.abort();
    drop(testbed);
}
