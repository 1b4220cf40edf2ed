//! Kubernetes API behaviours, one per test, checked through a real `kube::Client`
//! against the in-process server. Each test is named after the behaviour.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::time::Duration;

use fjord_crd::{StorageSpec, StreamCluster, StreamClusterSpec, StreamClusterStatus};
use fjord_kube_sim::ApiServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, CustomResourceExt, Resource, ResourceExt};
use serde_json::json;

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
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
            config: Default::default(),
        },
    )
}

async fn with_crd() -> (ApiServer, Client, Api<StreamCluster>) {
    let server = ApiServer::default();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &StreamCluster::crd())
        .await
        .unwrap();
    let clusters = Api::namespaced(client.clone(), "default");
    (server, client, clusters)
}

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn deployment(manager_image: &str, container: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": container, "image": manager_image}]}}}
    })
}

#[tokio::test]
async fn server_side_apply_merges_containers_by_name_across_managers() {
    let client = ApiServer::default().client();
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    deployments
        .patch(
            "web",
            &PatchParams::apply("operator"),
            &Patch::Apply(deployment("app:1", "app")),
        )
        .await
        .unwrap();
    let merged = deployments
        .patch(
            "web",
            &PatchParams::apply("mesh"),
            &Patch::Apply(deployment("proxy:1", "proxy")),
        )
        .await
        .unwrap();
    let containers = merged.spec.unwrap().template.spec.unwrap().containers;
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "proxy"]);
    let managers: Vec<String> = merged
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| format!("{}/{}", m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(managers, ["operator/Apply", "mesh/Apply"]);
}

#[tokio::test]
async fn server_side_apply_conflicts_on_a_field_another_manager_owns_and_force_takes_it_over() {
    let client = ApiServer::default().client();
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    deployments
        .patch(
            "web",
            &PatchParams::apply("operator"),
            &Patch::Apply(deployment("app:1", "app")),
        )
        .await
        .unwrap();
    let error = deployments
        .patch(
            "web",
            &PatchParams::apply("human"),
            &Patch::Apply(deployment("app:2", "app")),
        )
        .await
        .unwrap_err();
    let status = api_error(error);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.contains("conflict with \"operator\"")
            && status
                .message
                .contains(".spec.template.spec.containers[name=\"app\"].image"),
        "{}",
        status.message
    );
    let forced = deployments
        .patch(
            "web",
            &PatchParams::apply("human").force(),
            &Patch::Apply(deployment("app:2", "app")),
        )
        .await
        .unwrap();
    let image = forced.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("app:2"));
}

#[tokio::test]
async fn server_side_apply_removes_fields_the_manager_stopped_applying() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let params = PatchParams::apply("operator");
    maps.patch(
        "c",
        &params,
        &Patch::Apply(config_map("c", &[("a", "1"), ("b", "2")])),
    )
    .await
    .unwrap();
    let after = maps
        .patch("c", &params, &Patch::Apply(config_map("c", &[("a", "1")])))
        .await
        .unwrap();
    assert_eq!(after.data.unwrap().keys().collect::<Vec<_>>(), ["a"]);
}

#[tokio::test]
async fn an_update_with_a_stale_resource_version_is_a_409_conflict() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let created = maps
        .create(&PostParams::default(), &config_map("c", &[("a", "1")]))
        .await
        .unwrap();
    let mut first = created.clone();
    first.data = Some([("a".to_owned(), "2".to_owned())].into());
    maps.replace("c", &PostParams::default(), &first)
        .await
        .unwrap();
    let mut stale = created;
    stale.data = Some([("a".to_owned(), "3".to_owned())].into());
    let status = api_error(
        maps.replace("c", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("the object has been modified"));
}

#[tokio::test]
async fn resource_versions_rise_globally_across_types() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client);
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}),
    )
    .unwrap();
    let p = pods.create(&PostParams::default(), &pod).await.unwrap();
    let version = |v: Option<String>| v.unwrap().parse::<u64>().unwrap();
    assert!(version(p.metadata.resource_version) > version(a.metadata.resource_version));
}

#[tokio::test]
async fn generation_rises_on_spec_changes_only() {
    let (_, _, clusters) = with_crd().await;
    let created = clusters
        .create(&PostParams::default(), &cluster("a", 3))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let label = json!({"metadata": {"labels": {"team": "x"}}});
    let labelled = clusters
        .patch("a", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    let status = json!({"status": {"readyBrokers": 2}});
    let with_status = clusters
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(with_status.metadata.generation, Some(1));
    let scale = json!({"spec": {"brokers": 5}});
    let scaled = clusters
        .patch("a", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
}

#[tokio::test]
async fn the_status_subresource_and_the_main_resource_are_written_separately() {
    let (_, _, clusters) = with_crd().await;
    let mut with_status = cluster("a", 3);
    with_status.status = Some(StreamClusterStatus {
        ready_brokers: 9,
        ..StreamClusterStatus::default()
    });
    let created = clusters
        .create(&PostParams::default(), &with_status)
        .await
        .unwrap();
    assert!(created.status.is_none(), "status is dropped on create");
    let both = json!({"spec": {"brokers": 7}, "status": {"readyBrokers": 3}});
    let status_write = clusters
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&both))
        .await
        .unwrap();
    assert_eq!(
        (
            status_write.spec.brokers,
            status_write.status.unwrap().ready_brokers
        ),
        (3, 3)
    );
    let main_write = clusters
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"readyBrokers": 0}})),
        )
        .await
        .unwrap();
    assert_eq!(main_write.status.unwrap().ready_brokers, 3);
}

#[tokio::test]
async fn an_object_with_a_finalizer_is_marked_for_deletion_and_goes_when_the_finalizer_is_removed()
{
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let mut held = config_map("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    maps.create(&PostParams::default(), &held).await.unwrap();
    maps.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = maps.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let add = json!({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}});
    let refused = api_error(
        maps.patch("held", &PatchParams::default(), &Patch::Merge(&add))
            .await
            .unwrap_err(),
    );
    assert_eq!(refused.code, 422);
    let release = json!({"metadata": {"finalizers": null}});
    maps.patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    assert!(maps.get_opt("held").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_an_owner_deletes_its_dependents_in_the_background() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let owner = maps
        .create(&PostParams::default(), &config_map("owner", &[]))
        .await
        .unwrap();
    let reference = owner.controller_owner_ref(&()).unwrap();
    for name in ["child-1", "child-2"] {
        let mut child = config_map(name, &[]);
        child.metadata.owner_references = Some(vec![reference.clone()]);
        maps.create(&PostParams::default(), &child).await.unwrap();
    }
    let mut orphan_to_be = config_map("kept", &[]);
    orphan_to_be.metadata.owner_references = Some(vec![reference]);
    maps.create(&PostParams::default(), &orphan_to_be)
        .await
        .unwrap();
    maps.delete("owner", &DeleteParams::default())
        .await
        .unwrap();
    let left: Vec<String> = maps
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert!(left.is_empty(), "dependents left: {left:?}");

    let owner = maps
        .create(&PostParams::default(), &config_map("owner", &[]))
        .await
        .unwrap();
    let mut child = config_map("child", &[]);
    child.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).unwrap()]);
    maps.create(&PostParams::default(), &child).await.unwrap();
    maps.delete("owner", &DeleteParams::orphan()).await.unwrap();
    let orphaned = maps.get("child").await.unwrap();
    assert!(
        orphaned
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    for index in 0..5 {
        maps.create(
            &PostParams::default(),
            &config_map(&format!("c{index}"), &[]),
        )
        .await
        .unwrap();
    }
    let first = maps.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().unwrap();
    let second = maps
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    let third = maps
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    let names: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|l| l.items.iter().map(ResourceExt::name_any))
        .collect();
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        let mut map = config_map(name, &[]);
        map.metadata.labels = Some([("tier".to_owned(), tier.to_owned())].into());
        maps.create(&PostParams::default(), &map).await.unwrap();
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| {
        list.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier=front"))
                .await
                .unwrap()
        ),
        ["a", "c"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier notin (front)"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().fields("metadata.name=c"))
                .await
                .unwrap()
        ),
        ["c"]
    );
}

#[tokio::test]
async fn a_custom_resource_violating_its_schema_is_rejected_with_422_naming_each_field() {
    let (_, client, _) = with_crd().await;
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client,
        "default",
        &kube::api::ApiResource::erase::<StreamCluster>(&()),
    );
    let too_many: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "fjord.dev/v1alpha1", "kind": "StreamCluster", "metadata": {"name": "big"},
        "spec": {"version": "0.1.0", "brokers": 100, "storage": {"size": "1Gi"}}
    }))
    .unwrap();
    let status = api_error(
        raw.create(&PostParams::default(), &too_many)
            .await
            .unwrap_err(),
    );
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains("spec.brokers"),
        "{}",
        status.message
    );
    let missing: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "fjord.dev/v1alpha1", "kind": "StreamCluster", "metadata": {"name": "bare"},
        "spec": {"brokers": 1, "storage": {"size": "1Gi"}, "unknown": true}
    }))
    .unwrap();
    let status = api_error(
        raw.create(&PostParams::default(), &missing)
            .await
            .unwrap_err(),
    );
    assert!(
        status.message.contains("spec.version: Required value"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn a_failed_json_patch_test_operation_is_a_422_and_changes_nothing() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    maps.create(&PostParams::default(), &config_map("c", &[("a", "1")]))
        .await
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "3"}
    ]))
    .unwrap();
    let status = api_error(
        maps.patch("c", &PatchParams::default(), &Patch::Json::<()>(patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 422);
    assert_eq!(maps.get("c").await.unwrap().data.unwrap()["a"], "1");
}

#[tokio::test]
async fn a_watch_replays_changes_after_its_resource_version_then_streams_live_ones() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    let mut stream = maps
        .watch(
            &WatchParams::default().timeout(5),
            &a.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    let first = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Added(ref m) if m.name_any() == "b"));
    maps.delete("a", &DeleteParams::default()).await.unwrap();
    let second = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(second, WatchEvent::Deleted(ref m) if m.name_any() == "a"));
}

#[tokio::test(start_paused = false)]
async fn a_watch_sends_bookmarks_with_the_latest_resource_version_and_ends_at_its_timeout() {
    let server = ApiServer::default();
    server.set_bookmark_interval(Duration::from_millis(100));
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let created = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let events: Vec<WatchEvent<ConfigMap>> = maps
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default().timeout(1)
            },
            &created.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        !events.is_empty(),
        "bookmarks arrive within the one-second watch"
    );
    for event in events {
        match event {
            WatchEvent::Bookmark(bookmark) => {
                assert_eq!(
                    bookmark.metadata.resource_version,
                    created.resource_version().unwrap()
                );
            }
            other => panic!("only bookmarks expected, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_gets_410_gone_and_the_watcher_relists() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let status = {
        maps.create(&PostParams::default(), &config_map("b", &[]))
            .await
            .unwrap();
        server.compact();
        let mut stream = maps
            .watch(
                &WatchParams::default().timeout(5),
                &a.resource_version().unwrap(),
            )
            .await
            .unwrap()
            .boxed();
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Error(status) => status,
            other => panic!("expected a 410 error event, got {other:?}"),
        }
    };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));

    // kube's watcher: a dropped watch re-watches from its last version; once that
    // version is compacted away it gets 410 and starts over with a fresh list.
    let mut events = watcher(maps.clone(), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::InitApply(map) => initial.push(map.name_any()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["a", "b"]);
    maps.create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    server.compact();
    server.faults().drop_watches_for(Duration::from_millis(1));
    maps.create(&PostParams::default(), &config_map("d", &[]))
        .await
        .unwrap();
    let mut relisted = Vec::new();
    let mut saw_init = false;
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.try_next().await {
                Ok(Some(watcher::Event::Init)) => saw_init = true,
                Ok(Some(watcher::Event::InitApply(map))) if saw_init => {
                    relisted.push(map.name_any())
                }
                Ok(Some(watcher::Event::InitDone)) if saw_init => return,
                _ => {}
            }
        }
    })
    .await
    .expect("the watcher relists after 410");
    assert_eq!(relisted, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn a_metadata_watcher_sees_partial_object_metadata() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    maps.create(
        &PostParams::default(),
        &config_map("a", &[("secret", "not sent")]),
    )
    .await
    .unwrap();
    // `Api<PartialObjectMeta<K>>` asks for `as=PartialObjectMetadataList` / `as=PartialObjectMetadata`.
    let metadata: Api<PartialObjectMeta<ConfigMap>> = Api::default_namespaced(client);
    let mut events = watcher(metadata, watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = events.try_next().await.unwrap().unwrap();
    assert_eq!(first.name_any(), "a");
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.name_any(), "b");
    assert_eq!(second.types.unwrap().kind, "PartialObjectMetadata");
}

#[tokio::test]
async fn injected_server_errors_reach_the_client_and_stop_after_their_count() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    server.faults().fail_next_requests(500, 1);
    let status = api_error(maps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(status.code, 500);
    server.faults().fail_next_requests(429, 1);
    let status = api_error(maps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(status.code, 429);
    assert!(maps.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn delayed_watch_events_arrive_late_but_in_order() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    server.faults().delay_events(Duration::from_millis(300));
    let mut stream = maps
        .watch(
            &WatchParams::default().timeout(5),
            &a.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    let started = tokio::time::Instant::now();
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..2 {
        if let WatchEvent::Added(map) = stream.try_next().await.unwrap().unwrap() {
            names.push(map.name_any());
        }
    }
    assert_eq!(names, ["b", "c"]);
    assert!(started.elapsed() >= Duration::from_millis(600));
}
