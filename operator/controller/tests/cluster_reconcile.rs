//! The cluster controller against the in-memory API server through
//! `kube::Client` (watches included), with kube-sim's StatefulSet
//! controller, a stand-in kubelet and stand-in brokers (`cluster/mod.rs`):
//! creation, status, drift repair, conflicts, a roll one broker at a time
//! finished by a restarted operator, refusals, and deletion.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cluster::{Harness, eventually, stream_cluster};
use fjord_crd::{BrokerState, ConditionStatus, ConditionType, StreamCluster, StreamClusterPhase};
use fjord_operator::cluster::render::REVISION_ANNOTATION;
use fjord_operator::cluster::status::find;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(30);

fn condition(cluster: &StreamCluster, kind: ConditionType) -> Option<ConditionStatus> {
    find(cluster.status.as_ref()?, kind).map(|c| c.status)
}

async fn stable(clusters: &Api<StreamCluster>, name: &str) -> StreamCluster {
    eventually("the cluster to be Stable", LIMIT, || async {
        let cluster = clusters.get(name).await.ok()?;
        let generation = cluster.metadata.generation;
        let status = cluster.status.as_ref()?;
        (condition(&cluster, ConditionType::Stable) == Some(ConditionStatus::True)
            && status.observed_generation == generation)
            .then_some(cluster)
    })
    .await
}

async fn event_reasons(harness: &Harness) -> Vec<String> {
    harness
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|event| event.reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cluster_becomes_its_children_and_reports_itself_ready() {
    let harness = Harness::start("create").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 3, "0.2.0"))
        .await
        .unwrap();

    let cluster = stable(&clusters, "demo").await;
    assert_eq!(cluster.finalizers(), ["streamclusters.fjord.dev"]);
    let status = cluster.status.unwrap();
    assert_eq!(status.phase, StreamClusterPhase::Ready);
    assert_eq!(status.ready_brokers, 3);
    assert_eq!(status.current_version.as_deref(), Some("0.2.0"));
    assert_eq!(status.controller_voters, [1, 2, 3]);
    assert_eq!(
        status.bootstrap_address.as_deref(),
        Some("demo.create.svc:9092")
    );
    assert!(status.roll.is_none());
    assert_eq!(status.brokers.len(), 3);
    for (index, broker) in status.brokers.iter().enumerate() {
        assert_eq!(broker.id as usize, index + 1);
        assert_eq!(broker.pod, format!("demo-{}", index + 1));
        assert_eq!(broker.state, BrokerState::Serving);
        assert_eq!(broker.version.as_deref(), Some("0.2.0"));
    }
    assert_eq!(
        condition(
            &clusters.get("demo").await.unwrap(),
            ConditionType::Degraded
        ),
        Some(ConditionStatus::False)
    );

    let set = harness.api::<StatefulSet>().get("demo").await.unwrap();
    let spec = set.spec.unwrap();
    assert_eq!(
        spec.update_strategy.unwrap().type_.as_deref(),
        Some("OnDelete")
    );
    assert_eq!(spec.replicas, Some(3));
    let pods = harness.api::<Pod>();
    for name in ["demo-1", "demo-2", "demo-3"] {
        pods.get(name).await.unwrap();
    }
    let headless = harness.api::<Service>().get("demo-brokers").await.unwrap();
    assert_eq!(headless.spec.unwrap().cluster_ip.as_deref(), Some("None"));
    harness.api::<Service>().get("demo").await.unwrap();
    let files = harness
        .api::<ConfigMap>()
        .get("demo-config")
        .await
        .unwrap()
        .data
        .unwrap();
    assert!(files["demo-2.toml"].contains("peers = \"1=10.9.0.1:9093,3=10.9.0.3:9093\""));
    let budget = harness
        .api::<PodDisruptionBudget>()
        .get("demo")
        .await
        .unwrap();
    assert_eq!(
        budget.spec.unwrap().max_unavailable,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );
    assert!(
        event_reasons(&harness)
            .await
            .contains(&"Created".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_and_a_conflicting_manager_are_put_back() {
    let harness = Harness::start("drift").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 3, "0.2.0"))
        .await
        .unwrap();
    stable(&clusters, "demo").await;

    // Another manager takes over the replica count by a forced apply.
    let sets = harness.api::<StatefulSet>();
    let grab = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": { "name": "demo" }, "spec": { "replicas": 5 },
    });
    sets.patch(
        "demo",
        &PatchParams::apply("someone").force(),
        &Patch::Apply(&grab),
    )
    .await
    .unwrap();
    // Someone edits a broker's file and deletes the headless Service.
    let edit = json!({ "data": { "demo-1.toml": "node-id = 7\n" } });
    harness
        .api::<ConfigMap>()
        .patch("demo-config", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    harness
        .api::<Service>()
        .delete("demo-brokers", &DeleteParams::default())
        .await
        .unwrap();

    eventually("the drift to be repaired", LIMIT, || async {
        let replicas = sets.get("demo").await.ok()?.spec?.replicas;
        let file = harness
            .api::<ConfigMap>()
            .get("demo-config")
            .await
            .ok()?
            .data?;
        let service = harness
            .api::<Service>()
            .get_opt("demo-brokers")
            .await
            .ok()?;
        (replicas == Some(3) && file["demo-1.toml"].contains("node-id = 1\n") && service.is_some())
            .then_some(())
    })
    .await;
}

/// Counts, every 20 ms, the declared brokers whose Pod is missing or not ready.
fn watch_unavailable(harness: &Harness, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let pods = harness.api::<Pod>();
    tokio::spawn(async move {
        let mut worst = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                let ready = list
                    .items
                    .iter()
                    .filter(|pod| {
                        pod.metadata.deletion_timestamp.is_none()
                            && pod
                                .status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| {
                                    c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                                })
                    })
                    .count();
                worst = worst.max(3usize.saturating_sub(ready));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worst
    })
}

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
async fn invalid_specs_and_removing_brokers_are_refused_with_a_condition() {
    let harness = Harness::start("refused").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    let mut bad = stream_cluster("bad", 3, "0.2.0");
    bad.spec
        .config
        .insert("num.partitions".into(), "many".into());
    clusters.create(&PostParams::default(), &bad).await.unwrap();
    let cluster = eventually("InvalidSpec", LIMIT, || async {
        let cluster = clusters.get("bad").await.ok()?;
        let degraded = find(cluster.status.as_ref()?, ConditionType::Degraded)?.clone();
        (degraded.reason == "InvalidSpec").then_some(degraded)
    })
    .await;
    assert!(
        cluster.message.contains("num.partitions"),
        "{}",
        cluster.message
    );
    assert!(
        harness
            .api::<StatefulSet>()
            .get_opt("bad")
            .await
            .unwrap()
            .is_none()
    );

    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 3, "0.2.0"))
        .await
        .unwrap();
    stable(&clusters, "demo").await;
    let shrink = json!({ "spec": { "brokers": 2 } });
    clusters
        .patch("demo", &PatchParams::default(), &Patch::Merge(&shrink))
        .await
        .unwrap();
    let degraded = eventually("ScaleDownRefused", LIMIT, || async {
        let cluster = clusters.get("demo").await.ok()?;
        let degraded = find(cluster.status.as_ref()?, ConditionType::Degraded)?.clone();
        (degraded.reason == "ScaleDownRefused").then_some(degraded)
    })
    .await;
    assert!(
        degraded.message.contains("controller voter"),
        "{}",
        degraded.message
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let set = harness.api::<StatefulSet>().get("demo").await.unwrap();
    assert_eq!(
        set.spec.unwrap().replicas,
        Some(3),
        "no broker removed by shrinking the set"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_cluster_runs_the_finalizer_and_takes_its_children() {
    let harness = Harness::start("delete").await;
    let _operator = harness.start_operator();
    let clusters = harness.api::<StreamCluster>();
    clusters
        .create(&PostParams::default(), &stream_cluster("demo", 1, "0.2.0"))
        .await
        .unwrap();
    stable(&clusters, "demo").await;
    clusters
        .delete("demo", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the cluster and its children to go", LIMIT, || async {
        let cluster = clusters.get_opt("demo").await.ok()?;
        let set = harness.api::<StatefulSet>().get_opt("demo").await.ok()?;
        let config = harness
            .api::<ConfigMap>()
            .get_opt("demo-config")
            .await
            .ok()?;
        (cluster.is_none() && set.is_none() && config.is_none()).then_some(())
    })
    .await;
    assert!(
        event_reasons(&harness)
            .await
            .contains(&"Deleting".to_owned())
    );
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
