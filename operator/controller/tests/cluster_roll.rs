//! The cluster controller's rolls and scaling against the in-memory API
//! server (`cluster/mod.rs`): a version roll one broker at a time finished by
//! a restarted operator, a paused and resumed roll, adding a broker, and
//! removing one only after its decommission.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cluster::{
    Harness, LIMIT, condition, event_reasons, eventually, stable, stream_cluster, watch_unavailable,
};
use fjord_crd::{ConditionStatus, ConditionType, StreamCluster, StreamClusterPhase};
use fjord_operator::cluster::render::REVISION_ANNOTATION;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_change_rolls_one_broker_at_a_time_and_a_restarted_operator_finishes_it() {
    let harness = Harness::start("roll").await;
    let operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 3, "0.2.0"))
        .await
        .unwrap();
    let before = stable(&clusters, "demo").await;
    let old_revision = harness
        .api::<Pod>()
        .get("demo-1")
        .await
        .unwrap()
        .annotations()[REVISION_ANNOTATION]
        .clone();

    let stop = Arc::new(AtomicBool::new(false));
    let unavailable = watch_unavailable(&harness, Arc::clone(&stop));
    let upgrade = json!({ "spec": { "version": "0.3.0" } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&upgrade))
        .await
        .unwrap();

    // Stop the operator as soon as the first broker has been restarted.
    let pods = harness.api::<Pod>();
    eventually("a first broker at the new version", LIMIT, || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|pod| pod.annotations().get(REVISION_ANNOTATION) != Some(&old_revision))
            .then_some(())
    })
    .await;
    operator.abort();
    let recorded = clusters.get("demo").await.unwrap().status.unwrap().roll;
    assert!(recorded.is_some(), "the roll's progress is in the status");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _restarted = harness.start_operator();

    let after = eventually("every broker on 0.3.0 and the roll over", LIMIT, || async {
        let cluster = clusters.get("demo").await.ok()?;
        let status = cluster.status.as_ref()?;
        (status.roll.is_none()
            && status.current_version.as_deref() == Some("0.3.0")
            && condition(&cluster, ConditionType::Stable) == Some(ConditionStatus::True))
        .then_some(cluster)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    assert!(
        unavailable.await.unwrap() <= 1,
        "two brokers were down at once"
    );
    for broker in &after.status.as_ref().unwrap().brokers {
        assert_eq!(broker.version.as_deref(), Some("0.3.0"), "{broker:?}");
    }
    assert_ne!(before.metadata.generation, after.metadata.generation);

    // Each broker was drained, restarted once, and undrained, one at a time.
    let calls = harness.brokers.state.lock().unwrap().calls.clone();
    let maintenance: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("maintenance"))
        .collect();
    let on = maintenance.iter().filter(|c| c.ends_with("true")).count();
    assert!(on >= 3, "{calls:?}");
    let mut in_maintenance = 0usize;
    for call in &maintenance {
        if call.ends_with("true") {
            in_maintenance += 1
        } else {
            in_maintenance = in_maintenance.saturating_sub(1)
        }
        assert!(
            in_maintenance <= 1,
            "two brokers in maintenance at once: {calls:?}"
        );
    }
    let leader_last = calls
        .iter()
        .rposition(|c| c == "maintenance 1 true")
        .unwrap();
    assert!(
        calls
            .iter()
            .rposition(|c| c == "maintenance 2 true")
            .unwrap()
            < leader_last,
        "the controller leader (1) goes last: {calls:?}"
    );
    let reasons = event_reasons(&harness).await;
    for reason in [
        "RollStarted",
        "RestartingBroker",
        "BrokerRestarting",
        "RollCompleted",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "no {reason} event in {reasons:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsafe_probe_holds_the_roll_and_a_timeout_pauses_it_with_a_reason() {
    let harness = Harness::start("paused").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    let mut spec = stream_cluster("demo", 3, "0.2.0");
    spec.spec.rollout.health_timeout_seconds = 1;
    clusters
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    stable(&clusters, "demo").await;
    harness.brokers.state.lock().unwrap().at_risk = Some("orders-0".into());
    let upgrade = json!({ "spec": { "version": "0.3.0" } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&upgrade))
        .await
        .unwrap();

    let cluster = eventually("the roll to pause", LIMIT, || async {
        let cluster = clusters.get("demo").await.ok()?;
        cluster
            .status
            .as_ref()?
            .roll
            .as_ref()?
            .paused_reason
            .as_ref()?;
        Some(cluster)
    })
    .await;
    let reason = cluster
        .status
        .as_ref()
        .unwrap()
        .roll
        .as_ref()
        .unwrap()
        .paused_reason
        .clone()
        .unwrap();
    assert!(reason.contains("orders-0"), "{reason}");
    assert_eq!(
        condition(&cluster, ConditionType::Degraded),
        Some(ConditionStatus::True)
    );
    assert_eq!(
        cluster.status.as_ref().unwrap().phase,
        StreamClusterPhase::Degraded
    );
    let pods = harness
        .api::<Pod>()
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        pods.items
            .iter()
            .all(|pod| pod.metadata.deletion_timestamp.is_none())
    );
    assert!(
        event_reasons(&harness)
            .await
            .contains(&"RollPaused".to_owned())
    );

    // Safe again: the roll resumes by itself and finishes.
    harness.brokers.state.lock().unwrap().at_risk = None;
    eventually("the roll to finish", LIMIT, || async {
        let status = clusters.get("demo").await.ok()?.status?;
        (status.roll.is_none() && status.current_version.as_deref() == Some("0.3.0")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_broker_grows_the_set_and_rolls_the_others_onto_the_new_peer_list() {
    let harness = Harness::start("grow").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 3, "0.2.0"))
        .await
        .unwrap();
    stable(&clusters, "demo").await;
    let grow = json!({ "spec": { "brokers": 4 } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&grow))
        .await
        .unwrap();
    let cluster = eventually("four brokers and the roll over", LIMIT, || async {
        let cluster = clusters.get("demo").await.ok()?;
        let status = cluster.status.as_ref()?;
        (status.ready_brokers == 4
            && status.roll.is_none()
            && condition(&cluster, ConditionType::Stable) == Some(ConditionStatus::True))
        .then_some(cluster)
    })
    .await;
    let status = cluster.status.unwrap();
    assert_eq!(
        status.controller_voters,
        [1, 2, 3],
        "the new broker is an observer"
    );
    let pods = harness
        .api::<Pod>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let revisions: std::collections::BTreeSet<String> = pods
        .items
        .iter()
        .map(|pod| pod.annotations()[REVISION_ANNOTATION].clone())
        .collect();
    assert_eq!(pods.items.len(), 4);
    assert_eq!(revisions.len(), 1, "every broker runs the new peer list");
    let files = harness
        .api::<ConfigMap>()
        .get("demo-config")
        .await
        .unwrap()
        .data
        .unwrap();
    assert!(
        files["demo-1.toml"].contains("4=10.9.0.4:9093"),
        "{}",
        files["demo-1.toml"]
    );
    assert!(files["demo-4.toml"].contains("node-id = 4\n"));
    let calls = harness.brokers.state.lock().unwrap().calls.clone();
    for broker in 1..=3 {
        assert!(
            calls.contains(&format!("maintenance {broker} true")),
            "{calls:?}"
        );
    }
    assert!(
        !calls.contains(&"maintenance 4 true".to_owned()),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_is_removed_only_after_its_decommission_and_then_forgotten() {
    let harness = Harness::start("shrink").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 4, "0.2.0"))
        .await
        .unwrap();
    stable(&clusters, "demo").await;
    let shrink = json!({ "spec": { "brokers": 3 } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&shrink))
        .await
        .unwrap();
    let cluster = eventually("three brokers, Stable", LIMIT, || async {
        let cluster = stable(&clusters, "demo").await;
        let status = cluster.status.as_ref()?;
        (status.brokers.len() == 3 && status.ready_brokers == 3).then_some(cluster.clone())
    })
    .await;
    assert_eq!(cluster.status.unwrap().controller_voters, [1, 2, 3]);
    let set = harness.api::<StatefulSet>().get("demo").await.unwrap();
    assert_eq!(set.spec.unwrap().replicas, Some(3));
    assert!(
        harness
            .api::<Pod>()
            .get_opt("demo-4")
            .await
            .unwrap()
            .is_none()
    );
    let calls = eventually("broker 4 forgotten", LIMIT, || async {
        let calls = harness.brokers.state.lock().unwrap().calls.clone();
        calls.contains(&"remove 4".to_owned()).then_some(calls)
    })
    .await;
    let decommissioned = calls.iter().position(|c| c == "decommission 4").unwrap();
    let removed = calls.iter().position(|c| c == "remove 4").unwrap();
    assert!(decommissioned < removed, "{calls:?}");
    let files = harness
        .api::<ConfigMap>()
        .get("demo-config")
        .await
        .unwrap()
        .data
        .unwrap();
    assert!(!files.contains_key("demo-4.toml"));
    assert!(
        !files["demo-1.toml"].contains("4=10.9.0.4"),
        "{}",
        files["demo-1.toml"]
    );
    let reasons = event_reasons(&harness).await;
    for reason in ["DecommissioningBroker", "RemovingBroker", "BrokerRemoved"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "no {reason} event in {reasons:?}"
        );
    }
}
