//! Object lifecycle: versions, conflicts, generation, status, finalizers, garbage
//! collection, lists and schemas.

use fjord_crd::{StreamCluster, StreamClusterStatus};
use fjord_kube_sim::ApiServer;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::{api_error, cluster, config_map, with_crd};

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
async fn binding_a_pod_sets_its_node_once_and_a_second_binding_conflicts() {
    let client = ApiServer::default().client();
    let pods: Api<Pod> = Api::default_namespaced(client);
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}});
    let _: serde_json::Value = pods
        .create_subresource("binding", "p", &PostParams::default(), &binding)
        .await
        .unwrap();
    let bound = pods.get("p").await.unwrap();
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("node-a"));
    let conditions = bound.status.unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "PodScheduled" && c.status == "True")
    );
    let again: Result<serde_json::Value, _> = pods
        .create_subresource("binding", "p", &PostParams::default(), &binding)
        .await;
    assert_eq!(api_error(again.unwrap_err()).code, 409);
}

#[tokio::test]
async fn a_dry_run_answers_as_if_written_and_stores_nothing() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = maps
        .create(&dry, &config_map("c", &[("a", "1")]))
        .await
        .unwrap();
    assert_eq!(answered.data.unwrap()["a"], "1");
    assert!(maps.get_opt("c").await.unwrap().is_none());
    maps.create(&PostParams::default(), &config_map("c", &[("a", "1")]))
        .await
        .unwrap();
    let patch = json!({"data": {"a": "2"}});
    let params = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let preview = maps
        .patch("c", &params, &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(preview.data.unwrap()["a"], "2");
    assert_eq!(maps.get("c").await.unwrap().data.unwrap()["a"], "1");
    maps.delete(
        "c",
        &DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();
    assert!(maps.get_opt("c").await.unwrap().is_some());
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects_and_waits_for_their_finalizers() {
    let (_, client, clusters) = with_crd().await;
    let mut held = cluster("held", 3);
    held.metadata.finalizers = Some(vec!["streamclusters.fjord.dev".into()]);
    clusters
        .create(&PostParams::default(), &held)
        .await
        .unwrap();
    clusters
        .create(&PostParams::default(), &cluster("free", 3))
        .await
        .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    crds.delete("streamclusters.fjord.dev", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = crds.get("streamclusters.fjord.dev").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert!(clusters.get_opt("free").await.unwrap().is_none());
    let marked = clusters.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let release = json!({"metadata": {"finalizers": null}});
    clusters
        .patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    assert!(
        crds.get_opt("streamclusters.fjord.dev")
            .await
            .unwrap()
            .is_none()
    );
    let gone = api_error(clusters.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(gone.code, 404, "the type is no longer served");
}
