//! The cluster controller against the in-memory API server through
//! `kube::Client` (watches included), with kube-sim's StatefulSet
//! controller, a stand-in kubelet and stand-in brokers (`cluster/mod.rs`):
//! creation and status, drift repair, a conflicting manager, refusals, and
//! deletion with the finalizer.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::time::Duration;

use cluster::{Harness, LIMIT, condition, event_reasons, eventually, stable, stream_cluster};
use fjord_crd::{BrokerState, ConditionStatus, ConditionType, StreamCluster, StreamClusterPhase};
use fjord_operator::cluster::status::find;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

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
