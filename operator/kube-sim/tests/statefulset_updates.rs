//! StatefulSet revision changes as Kubernetes behaves: a RollingUpdate
//! replaces Pods from the highest ordinal down, one at a time, and then
//! makes the update revision current; a partition holds lower ordinals back;
//! OnDelete replaces nothing until a Pod is deleted, and then recreates it at
//! the update revision while `currentRevision` stays where it was.
//!
//! The Pods run Python's `http.server` on their own addresses as a small
//! stand-in for a real service, with an HTTP readiness probe.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod kubelet_support;

use std::collections::BTreeMap;
use std::time::Duration;

use fjord_kube_sim::kubelet::image::ImageTable;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubelet_support::{Cluster, eventually};
use serde_json::json;

const IMAGE: &str = "example/web:1";

fn python() -> String {
    let output = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    let path = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(!path.is_empty(), "python3 must be on PATH");
    path
}

fn web_set(strategy: serde_json::Value) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "serviceName": "web",
            "selector": { "matchLabels": { "app": "web" } },
            "updateStrategy": strategy,
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{
                        "name": "web",
                        "image": IMAGE,
                        "env": [
                            { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                            { "name": "VERSION", "value": "1" },
                        ],
                        "args": ["-m", "http.server", "--bind", "$(POD_IP)", "8080"],
                        "readinessProbe": { "httpGet": { "path": "/", "port": 8080 }, "periodSeconds": 1 },
                    }],
                },
            },
        },
    }))
    .unwrap()
}

fn images() -> ImageTable {
    let mut images = ImageTable::default();
    images.insert(IMAGE, python());
    images
}

/// Pod name → its `controller-revision-hash`.
async fn revisions(cluster: &Cluster) -> BTreeMap<String, String> {
    let pods = cluster
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    pods.items
        .into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .map(|pod| {
            let revision = pod
                .metadata
                .labels
                .unwrap_or_default()
                .remove("controller-revision-hash")
                .unwrap_or_default();
            (pod.metadata.name.unwrap_or_default(), revision)
        })
        .collect()
}

async fn settled(
    cluster: &Cluster,
    what: &str,
    check: impl Fn(&StatefulSetStatus) -> bool,
) -> StatefulSetStatus {
    eventually(what, Duration::from_secs(60), || async {
        let set = cluster.api::<StatefulSet>().get("web").await.ok()?;
        let status = set.status?;
        let observed = status.observed_generation == set.metadata.generation;
        (observed && status.ready_replicas == Some(3) && check(&status)).then_some(status)
    })
    .await
}

async fn set_version(cluster: &Cluster, version: &str) {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "web", "env": [
            { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
            { "name": "VERSION", "value": version },
        ] },
    ] } } } });
    cluster
        .api::<StatefulSet>()
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_replaces_pods_from_the_highest_ordinal_and_a_partition_holds_lower_ones()
{
    let cluster = Cluster::start("rolling", images()).await;
    let sets = cluster.api::<StatefulSet>();
    sets.create(
        &PostParams::default(),
        &web_set(json!({ "type": "RollingUpdate" })),
    )
    .await
    .unwrap();
    let first = settled(&cluster, "three ready pods", |s| {
        s.current_revision == s.update_revision
    })
    .await;
    let first_revision = first.update_revision.clone().unwrap();
    assert!(first_revision.starts_with("web-"), "{first_revision}");
    assert_eq!(
        (
            first.replicas,
            first.current_replicas,
            first.updated_replicas
        ),
        (3, Some(3), Some(3))
    );

    // Watch the order in which Pods take the new revision.
    set_version(&cluster, "2").await;
    let order = std::sync::Mutex::new(Vec::new());
    let second = eventually(
        "the rolling update to finish",
        Duration::from_secs(90),
        || async {
            for (pod, revision) in revisions(&cluster).await {
                let mut order = order.lock().unwrap();
                if revision != first_revision && !order.contains(&pod) {
                    order.push(pod);
                }
            }
            let set = cluster.api::<StatefulSet>().get("web").await.ok()?;
            let status = set.status?;
            let done = status.observed_generation == set.metadata.generation
                && status.update_revision.as_deref() != Some(first_revision.as_str())
                && status.updated_replicas == Some(3)
                && status.ready_replicas == Some(3)
                && status.current_revision == status.update_revision;
            done.then_some(status)
        },
    )
    .await;
    let order = order.into_inner().unwrap();
    assert_eq!(order, ["web-2", "web-1", "web-0"]);
    assert_ne!(
        second.update_revision.as_deref(),
        Some(first_revision.as_str())
    );
    assert_eq!(second.current_replicas, Some(3));

    // A partition of 2 lets only web-2 move to the next revision.
    let partition = json!({ "spec": { "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "partition": 2 } } } });
    sets.patch("web", &PatchParams::default(), &Patch::Merge(partition))
        .await
        .unwrap();
    set_version(&cluster, "3").await;
    let third = settled(&cluster, "web-2 alone to update", |s| {
        s.updated_replicas == Some(1)
    })
    .await;
    assert_eq!(
        third.current_revision, second.update_revision,
        "the current revision stays"
    );
    assert_eq!(third.current_replicas, Some(2));
    let pods = revisions(&cluster).await;
    assert_eq!(pods["web-2"], third.update_revision.clone().unwrap());
    assert_eq!(pods["web-1"], second.update_revision.clone().unwrap());
    assert_eq!(pods["web-0"], second.update_revision.clone().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_updates_a_pod_only_when_it_is_deleted_and_keeps_the_current_revision() {
    let cluster = Cluster::start("ondelete", images()).await;
    cluster
        .api::<StatefulSet>()
        .create(
            &PostParams::default(),
            &web_set(json!({ "type": "OnDelete" })),
        )
        .await
        .unwrap();
    let first = settled(&cluster, "three ready pods", |s| {
        s.current_revision == s.update_revision
    })
    .await;
    let old = first.current_revision.clone().unwrap();

    set_version(&cluster, "2").await;
    let changed = settled(&cluster, "a new update revision", |s| {
        s.update_revision.as_deref() != Some(old.as_str())
    })
    .await;
    let new = changed.update_revision.clone().unwrap();
    // Nothing is replaced on its own.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        revisions(&cluster)
            .await
            .values()
            .all(|revision| *revision == old)
    );

    cluster
        .api::<Pod>()
        .delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    let after = settled(&cluster, "web-1 back at the update revision", |s| {
        s.updated_replicas == Some(1)
    })
    .await;
    let pods = revisions(&cluster).await;
    assert_eq!(pods["web-1"], new);
    assert_eq!(
        (pods["web-0"].as_str(), pods["web-2"].as_str()),
        (old.as_str(), old.as_str())
    );
    assert_eq!(after.current_revision.as_deref(), Some(old.as_str()));
    assert_eq!(after.current_replicas, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_name_taken_by_another_template_raises_the_collision_count() {
    let cluster = Cluster::start("collision", images()).await;
    let set = web_set(json!({ "type": "RollingUpdate" }));
    // Someone else's ControllerRevision already holds the name the template
    // hashes to (the template as stored, with the API server's defaults: a
    // dry-run create shows it).
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let stored = cluster
        .api::<StatefulSet>()
        .create(&dry_run, &set)
        .await
        .unwrap();
    let (taken, _) = fjord_kube_sim::statefulset::revision::update_revision(&stored).unwrap();
    let squatter: ControllerRevision = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": { "name": taken, "labels": { "app": "web" } },
        "data": { "spec": { "template": { "$patch": "replace" } } },
        "revision": 1,
    }))
    .unwrap();
    cluster
        .api::<ControllerRevision>()
        .create(&PostParams::default(), &squatter)
        .await
        .unwrap();
    cluster
        .api::<StatefulSet>()
        .create(&PostParams::default(), &set)
        .await
        .unwrap();
    let status = settled(&cluster, "three ready pods", |s| {
        s.updated_replicas == Some(3)
    })
    .await;
    assert_eq!(status.collision_count, Some(1));
    assert_ne!(status.update_revision.as_deref(), Some(taken.as_str()));
    assert!(
        revisions(&cluster)
            .await
            .values()
            .all(|revision| Some(revision) == status.update_revision.as_ref())
    );
}
