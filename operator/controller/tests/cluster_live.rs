//! Live settings against the in-memory API server and stand-in brokers
//! (`cluster/mod.rs`): a live key is set on every broker without replacing
//! a Pod; a broker refusing it is a Warning that does not hold up the
//! cluster; a restart-only key still rolls.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::collections::BTreeMap;
use std::time::Duration;

use cluster::{Harness, LIMIT, event_reasons, eventually, stable, stream_cluster};
use fjord_crd::StreamCluster;
use fjord_operator::cluster::render::REVISION_ANNOTATION;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// Pod name to (uid, revision).
async fn pods(harness: &Harness) -> BTreeMap<String, (String, String)> {
    harness
        .api::<Pod>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|pod| {
            let revision = pod.annotations().get(REVISION_ANNOTATION).cloned();
            (
                pod.name_any(),
                (pod.uid().unwrap_or_default(), revision.unwrap_or_default()),
            )
        })
        .collect()
}

fn live_value(harness: &Harness, broker: u32, key: &str) -> Option<serde_json::Value> {
    let state = harness.brokers.state.lock().unwrap();
    state
        .live
        .get(&format!("http://10.9.0.{broker}:9644"))?
        .get(key)
        .cloned()
}

async fn set_config(clusters: &kube::Api<StreamCluster>, key: &str, value: &str) {
    let change = json!({ "spec": { "config": { key: value } } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_setting_reaches_every_broker_without_a_restart_and_a_restart_only_one_rolls() {
    let harness = Harness::start("live").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 3, "0.2.0"))
        .await
        .unwrap();
    stable(&clusters, "demo").await;
    let before = pods(&harness).await;
    assert_eq!(before.len(), 3);

    set_config(&clusters, "message.max.bytes", "2097152").await;
    eventually("every broker told the new limit", LIMIT, || async {
        (1..=3)
            .all(|id| live_value(&harness, id, "message-bytes-max") == Some(json!(2_097_152)))
            .then_some(())
    })
    .await;
    let file = harness
        .api::<ConfigMap>()
        .get("demo-config")
        .await
        .unwrap()
        .data
        .unwrap()["demo-2.toml"]
        .clone();
    assert!(
        file.contains("message-bytes-max = 2097152\n"),
        "a restarted broker reads it: {file}"
    );
    stable(&clusters, "demo").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        pods(&harness).await,
        before,
        "no Pod replaced or re-revisioned"
    );
    assert!(
        event_reasons(&harness)
            .await
            .contains(&"ConfigApplied".to_owned())
    );

    // A broker refusing: a Warning, the cluster stays Stable, and the
    // change lands once the brokers take it.
    harness.brokers.state.lock().unwrap().live_refusal = Some("400: no".into());
    set_config(&clusters, "num.partitions", "6").await;
    eventually("a ConfigApplyFailed warning", LIMIT, || async {
        event_reasons(&harness)
            .await
            .contains(&"ConfigApplyFailed".to_owned())
            .then_some(())
    })
    .await;
    stable(&clusters, "demo").await;
    harness.brokers.state.lock().unwrap().live_refusal = None;
    eventually(
        "the refused change applied after the backoff",
        LIMIT,
        || async {
            (1..=3)
                .all(|id| live_value(&harness, id, "default-partitions") == Some(json!(6)))
                .then_some(())
        },
    )
    .await;
    assert_eq!(pods(&harness).await, before, "still no Pod replaced");

    // A key read only at start rolls every broker.
    set_config(&clusters, "socket.request.max.bytes", "4194304").await;
    eventually("every Pod replaced at a new revision", LIMIT, || async {
        let now = pods(&harness).await;
        let replaced = now.iter().all(|(name, (uid, revision))| {
            before
                .get(name)
                .is_some_and(|(old_uid, old_revision)| old_uid != uid && old_revision != revision)
        });
        (now.len() == 3 && replaced).then_some(())
    })
    .await;
}
