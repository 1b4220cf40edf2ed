//! A `kube::runtime::Controller` over a CRD, run against the in-process API server.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;
use std::time::Duration;

use fjord_crd::{StorageSpec, StreamCluster, StreamClusterSpec};
use fjord_kube_sim::ApiServer;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use kube::{Api, CustomResourceExt, Resource, ResourceExt};
use tokio::sync::mpsc;

const FINALIZER: &str = "streamclusters.fjord.dev";

#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Finalizer(#[from] Box<kube::runtime::finalizer::Error<kube::Error>>),
}

struct Context {
    clusters: Api<StreamCluster>,
    config_maps: Api<ConfigMap>,
    log: mpsc::UnboundedSender<String>,
}

async fn reconcile(
    cluster: Arc<StreamCluster>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let context_for_event = Arc::clone(&context);
    finalizer(&context.clusters, FINALIZER, cluster, |event| async move {
        let context = context_for_event;
        match event {
            Event::Apply(cluster) => {
                let name = cluster.name_any();
                // An owned ConfigMap, so `owns` and garbage collection have something to do.
                let owner = cluster
                    .controller_owner_ref(&())
                    .expect("a stored object has a uid");
                let config_map = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(format!("{name}-config")),
                        owner_references: Some(vec![owner]),
                        ..ObjectMeta::default()
                    },
                    data: Some([("brokers".to_owned(), cluster.spec.brokers.to_string())].into()),
                    ..ConfigMap::default()
                };
                context
                    .config_maps
                    .patch(
                        &format!("{name}-config"),
                        &PatchParams::apply("fjord-operator").force(),
                        &Patch::Apply(&config_map),
                    )
                    .await?;
                let generation = cluster.metadata.generation.unwrap_or_default();
                let _ = context
                    .log
                    .send(format!("apply {name} generation {generation}"));
                Ok(Action::await_change())
            }
            Event::Cleanup(cluster) => {
                let name = cluster.name_any();
                // The object must still be there, marked for deletion, while cleanup runs.
                let live = context.clusters.get(&name).await?;
                let marked = live.metadata.deletion_timestamp.is_some();
                let _ = context
                    .log
                    .send(format!("cleanup {name} still present and marked: {marked}"));
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|error| ReconcileError::Finalizer(Box::new(error)))
}

fn error_policy(_: Arc<StreamCluster>, _: &ReconcileError, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(100))
}

fn cluster(name: &str, brokers: u16) -> StreamCluster {
    StreamCluster::new(
        name,
        StreamClusterSpec {
            version: "0.1.0".into(),
            brokers,
            storage: StorageSpec {
                size: "1Gi".into(),
                storage_class_name: None,
            },
            ..Default::default()
        },
    )
}

/// Waits for a reconcile to log `expected` (a controller may reconcile an object more
/// than once: its own finalizer patch and owned objects trigger it again).
async fn wait_for(log: &mut mpsc::UnboundedReceiver<String>, expected: &str) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = log.recv().await {
            if line == expected {
                return;
            }
            seen.push(line);
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no reconcile logged {expected:?} within 10 s; saw {seen:?}"
    );
}

#[tokio::test]
async fn a_controller_reconciles_later_objects_sees_updates_and_finalizes_before_deletion() {
    let server = ApiServer::default();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &StreamCluster::crd())
        .await
        .unwrap();
    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), "default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (sender, mut log) = mpsc::unbounded_channel();
    let context = Arc::new(Context {
        clusters: clusters.clone(),
        config_maps: config_maps.clone(),
        log: sender,
    });
    let controller = Controller::new(clusters.clone(), watcher::Config::default())
        .owns(config_maps.clone(), watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                eprintln!("controller error: {error:?}");
            }
        });
    let running = tokio::spawn(controller);
    tokio::time::sleep(Duration::from_millis(200)).await;

    clusters
        .create(&PostParams::default(), &cluster("late", 3))
        .await
        .unwrap();
    wait_for(&mut log, "apply late generation 1").await;
    let stored = clusters.get("late").await.unwrap();
    assert_eq!(stored.finalizers(), [FINALIZER]);
    assert_eq!(
        config_maps.get("late-config").await.unwrap().data.unwrap()["brokers"],
        "3"
    );

    let scale = serde_json::json!({"spec": {"brokers": 5}});
    clusters
        .patch("late", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    wait_for(&mut log, "apply late generation 2").await;

    clusters
        .delete("late", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(&mut log, "cleanup late still present and marked: true").await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while clusters.get_opt("late").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the cluster goes once its finalizer is removed");
    // Its owned ConfigMap goes with it (background cascading deletion).
    assert!(config_maps.get_opt("late-config").await.unwrap().is_none());
    running.abort();
}
