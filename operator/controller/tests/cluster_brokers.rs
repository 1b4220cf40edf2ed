//! The cluster controller over real `fjord-broker` processes: kube-sim's
//! API server, StatefulSet controller and process kubelet, the operator
//! with its HTTP admin client. A 3-broker `StreamCluster` becomes Ready and
//! `kcat -L` lists three brokers; a version change is rolled one broker at
//! a time under a running idempotent `acks=all` producer (the operator is
//! stopped after the first restart and a new one finishes the roll; a broker
//! already restarted is killed and the next restart waits for it), until
//! every broker runs it, and the chaos checker finds every acknowledged
//! record read back exactly once; then a fourth broker joins and `kcat -L`
//! lists four, and the cluster shrinks back to three (broker 4 decommissioned
//! before its Pod goes) with every record still read back exactly once.
//!
//! Needs Debian's `kcat`, a built `fjord-broker` beside this test binary
//! (`cargo build -p fjord-broker`; `cargo xtask test` builds it) or
//! `FJORD_BROKER_BIN` naming one, and `FJORD_TEST_PYTHON` naming a Python
//! with confluent-kafka (`cargo xtask test` sets it). Runs in the nextest
//! group `broker-clusters`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster::kafka::{
    PARTITIONS, Producer, TOPIC, dump_logs, kcat_brokers, python, read_back, run_client,
};
use cluster::real::{ready, testbed, unique_namespace};
use fjord_chaos::checker::check;
use fjord_crd::{ConditionStatus, ConditionType, StorageSpec, StreamCluster, StreamClusterSpec};
use fjord_kube_sim::kubelet::address::pod_address;
use fjord_operator::cluster::status::find;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const BROKERS: usize = 3;

async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_roll_under_a_producer_across_an_operator_restart_then_scale_3_4_3_losing_nothing()
{
    let state = tempfile::tempdir().unwrap();
    let namespace = unique_namespace("brokers");
    let (testbed, config) = testbed(state.path(), &namespace).await;
    let client = testbed.client.clone();
    let kubelet_handle = &testbed.kubelet;
    let start_operator = || {
        let client = client.clone();
        let config = config.clone();
        tokio::spawn(async move {
            if let Err(error) = fjord_operator::cluster::run(client, config).await {
                panic!("cluster controller failed: {error}");
            }
        })
    };
    let mut operator = start_operator();

    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), &namespace);
    let mut spec = StreamClusterSpec {
        version: "0.1.0".into(),
        brokers: 3,
        storage: StorageSpec {
            size: "1Gi".into(),
            storage_class_name: None,
        },
        ..StreamClusterSpec::default()
    };
    // A pause between restarts, during which the test kills a broker.
    spec.rollout.pause_seconds = 3;
    spec.rollout.health_timeout_seconds = 60;
    clusters
        .create(&PostParams::default(), &StreamCluster::new("demo", spec))
        .await
        .unwrap();

    let stable = |version: &'static str| {
        let clusters = clusters.clone();
        async move {
            let cluster = clusters.get("demo").await.ok()?;
            let status = cluster.status.as_ref()?;
            let stable = find(status, ConditionType::Stable)?.status == ConditionStatus::True;
            (stable && status.current_version.as_deref() == Some(version)).then_some(cluster)
        }
    };
    let result = tokio::time::timeout(Duration::from_secs(90), async {
        eventually(
            "the cluster to be Stable on 0.1.0",
            Duration::from_secs(80),
            || stable("0.1.0"),
        )
        .await
    })
    .await;
    if result.is_err() {
        dump_logs(state.path());
        panic!("the cluster did not become Stable");
    }

    // kcat lists the three brokers, each at its Pod's address.
    let addresses: Vec<String> = (1..=BROKERS)
        .map(|id| pod_address(&namespace, &format!("demo-{id}"), |_| false).to_string())
        .collect();
    let bootstrap = format!("{}:9092", addresses[0]);
    let listed = eventually(
        "kcat -L to list three brokers",
        Duration::from_secs(30),
        || {
            let bootstrap = bootstrap.clone();
            async move {
                let brokers = tokio::task::spawn_blocking(move || kcat_brokers(&bootstrap))
                    .await
                    .ok()?;
                (brokers.len() == BROKERS).then_some(brokers)
            }
        },
    )
    .await;
    for (index, address) in addresses.iter().enumerate() {
        assert_eq!(
            listed[&(u32::try_from(index).unwrap() + 1)],
            format!("{address}:9092")
        );
    }

    // A producer runs through the whole roll.
    let python = python();
    let all = addresses
        .iter()
        .map(|address| format!("{address}:9092"))
        .collect::<Vec<_>>()
        .join(",");
    let created = run_client(
        &python,
        &["create", &all, TOPIC, &PARTITIONS.to_string(), "3"],
    );
    assert_eq!(created, ["ok"]);
    let producer = Producer::start(&python, &all);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A new version: one broker down at a time, every broker on it at the end.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher_stop = Arc::clone(&stop);
    let watcher_pods = pods.clone();
    let unavailable = tokio::spawn(async move {
        let mut worst = 0;
        while !watcher_stop.load(Ordering::Relaxed) {
            if let Ok(list) = watcher_pods.list(&ListParams::default()).await {
                let up = list.items.iter().filter(|pod| ready(pod)).count();
                worst = worst.max(BROKERS.saturating_sub(up));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worst
    });
    let upgrade = json!({ "spec": { "version": "0.2.0" } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&upgrade))
        .await
        .unwrap();
    // The operator is stopped once the first broker runs the new version,
    // and a new one finishes the roll from the progress in the status.
    eventually(
        "a first broker on 0.2.0",
        Duration::from_secs(60),
        || async {
            let list = pods.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|pod| {
                    pod.spec
                        .as_ref()
                        .and_then(|spec| spec.containers[0].image.as_deref())
                        == Some("fjord/broker:0.2.0")
                })
                .then_some(())
        },
    )
    .await;
    operator.abort();
    tokio::time::sleep(Duration::from_secs(1)).await;
    operator = start_operator();

    // A broker already restarted is killed during the pause after it: the
    // roll waits until it serves again (the watcher would see two brokers
    // down if the next restart did not wait).
    let killed = eventually("a broker done", Duration::from_secs(60), || async {
        let roll = clusters.get("demo").await.ok()?.status?.roll?;
        roll.done.first().copied()
    })
    .await;
    assert!(
        kubelet_handle
            .kill(&namespace, &format!("demo-{killed}"))
            .await
    );
    let rolled = tokio::time::timeout(Duration::from_secs(120), async {
        eventually("every broker on 0.2.0", Duration::from_secs(110), || {
            stable("0.2.0")
        })
        .await
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    if rolled.is_err() {
        dump_logs(state.path());
        panic!("the roll did not finish");
    }
    assert!(
        unavailable.await.unwrap() <= 1,
        "two brokers were down at once"
    );
    for pod in pods.list(&ListParams::default()).await.unwrap().items {
        let image = pod.spec.unwrap().containers[0].image.clone().unwrap();
        assert_eq!(image, "fjord/broker:0.2.0");
    }

    // Every acknowledged record is read back exactly once, in order.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (acked, failed) = tokio::task::spawn_blocking(move || producer.finish())
        .await
        .unwrap();
    assert!(
        failed.is_empty(),
        "the producer gave up on records: {failed:?}"
    );
    assert!(
        acked.len() > 1000,
        "only {} records acknowledged",
        acked.len()
    );
    let read = read_back(&python, &all).await;
    let report = check(&acked, &read);
    eprintln!(
        "roll under a producer: {} acknowledged, {} read back, {} lost, {} duplicated",
        report.total.acked, report.total.read, report.total.lost, report.total.duplicated
    );
    assert!(report.is_clean(), "{:?}", report.total);
    assert_eq!(report.total.acked, acked.len() as u64);

    // A fourth broker joins (an observer of the controller group); the
    // others are rolled onto the new peer list, and kcat lists all four.
    let grow = json!({ "spec": { "brokers": 4 } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&grow))
        .await
        .unwrap();
    let grown = tokio::time::timeout(Duration::from_secs(120), async {
        eventually("four brokers, Stable", Duration::from_secs(110), || async {
            let cluster = stable("0.2.0").await?;
            (cluster.status.as_ref()?.ready_brokers == 4).then_some(cluster)
        })
        .await
    })
    .await;
    if grown.is_err() {
        dump_logs(state.path());
        panic!("the fourth broker did not join");
    }
    let listed = eventually(
        "kcat -L to list four brokers",
        Duration::from_secs(30),
        || {
            let bootstrap = bootstrap.clone();
            async move {
                let brokers = tokio::task::spawn_blocking(move || kcat_brokers(&bootstrap))
                    .await
                    .ok()?;
                (brokers.len() == 4).then_some(brokers)
            }
        },
    )
    .await;
    let fourth = pod_address(&namespace, "demo-4", |_| false);
    assert_eq!(listed[&4], format!("{fourth}:9092"));

    // Back to three: broker 4 is decommissioned (its replicas move away)
    // before its Pod goes, then forgotten; every record is still there.
    let shrink = json!({ "spec": { "brokers": 3 } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&shrink))
        .await
        .unwrap();
    let shrunk = tokio::time::timeout(Duration::from_secs(120), async {
        eventually(
            "three brokers, Stable",
            Duration::from_secs(110),
            || async {
                let cluster = stable("0.2.0").await?;
                let status = cluster.status.as_ref()?;
                (status.brokers.len() == 3 && status.ready_brokers == 3).then_some(cluster)
            },
        )
        .await
    })
    .await;
    if shrunk.is_err() {
        dump_logs(state.path());
        panic!("broker 4 was not removed");
    }
    eventually(
        "kcat -L to list three brokers again",
        Duration::from_secs(60),
        || {
            let bootstrap = bootstrap.clone();
            async move {
                let brokers = tokio::task::spawn_blocking(move || kcat_brokers(&bootstrap))
                    .await
                    .ok()?;
                (brokers.len() == 3 && !brokers.contains_key(&4)).then_some(())
            }
        },
    )
    .await;
    let read = read_back(&python, &all).await;
    let report = check(&acked, &read);
    assert!(report.is_clean(), "after 3 -> 4 -> 3: {:?}", report.total);
    operator.abort();
    drop(testbed);
}
