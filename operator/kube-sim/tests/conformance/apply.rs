//! Server-side apply and patches.

use fjord_kube_sim::ApiServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use super::{api_error, config_map, deployment};

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
