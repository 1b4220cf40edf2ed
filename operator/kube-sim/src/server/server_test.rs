use serde_json::{Value, json};

use super::*;
use crate::apply::PatchKind;

pub(super) fn target(
    server: &ApiServer,
    group: &str,
    version: &str,
    plural: &str,
    name: Option<&str>,
) -> Target {
    let resource_type = server.lock().registry.get(group, version, plural).unwrap();
    let namespace = resource_type.namespaced.then_some("default");
    match name {
        Some(name) => Target::object(resource_type, namespace, name),
        None => Target::collection(resource_type, namespace),
    }
}

pub(super) fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

pub(super) fn options(manager: &str) -> WriteOptions {
    WriteOptions {
        field_manager: Some(manager.into()),
        ..WriteOptions::default()
    }
}

#[test]
fn create_sets_uid_timestamp_and_a_rising_resource_version() {
    let server = ApiServer::default();
    let configmaps = target(&server, "", "v1", "configmaps", None);
    let a = server
        .create(&configmaps, config_map("a"), &options("t"))
        .unwrap()
        .object;
    let b = server
        .create(&configmaps, config_map("b"), &options("t"))
        .unwrap()
        .object;
    assert!(!a["metadata"]["uid"].as_str().unwrap().is_empty());
    assert!(a["metadata"]["creationTimestamp"].is_string());
    let version = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(version(&b) > version(&a));
    let again = server
        .create(&configmaps, config_map("a"), &options("t"))
        .unwrap_err();
    assert_eq!(again.status().reason, "AlreadyExists");
}

#[test]
fn creating_in_a_missing_namespace_is_not_found() {
    let server = ApiServer::default();
    let resource_type = server.lock().registry.get("", "v1", "configmaps").unwrap();
    let elsewhere = Target::collection(resource_type, Some("nowhere"));
    let error = server
        .create(&elsewhere, config_map("a"), &options("t"))
        .unwrap_err();
    assert_eq!(error.status().message, "namespaces \"nowhere\" not found");
}

#[test]
fn an_unchanged_update_keeps_the_resource_version() {
    let server = ApiServer::default();
    let configmaps = target(&server, "", "v1", "configmaps", None);
    let created = server
        .create(&configmaps, config_map("a"), &options("t"))
        .unwrap()
        .object;
    let one = target(&server, "", "v1", "configmaps", Some("a"));
    let same = server
        .patch(
            &one,
            PatchKind::Merge,
            json!({"data": {"k": "v"}}),
            &options("t"),
        )
        .unwrap()
        .object;
    assert_eq!(
        same["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
}

#[test]
fn a_bound_pod_is_deleted_gracefully_and_goes_on_a_zero_grace_delete() {
    let server = ApiServer::default();
    let pods = target(&server, "", "v1", "pods", None);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]}});
    server.create(&pods, pod, &options("t")).unwrap();
    let one = target(&server, "", "v1", "pods", Some("p"));
    let marked = server.delete(&one, &DeleteOptions::default()).unwrap();
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(server.get(&one).is_ok());
    // The kubelet reports its stopped containers during the grace period:
    // a write to a Pod in graceful deletion keeps it, as kube-apiserver does.
    let mut stopped = server.get(&one).unwrap();
    stopped["status"] = json!({"phase": "Failed"});
    server
        .update(&one.clone().status(), stopped, &options("kubelet"))
        .unwrap();
    assert_eq!(server.get(&one).unwrap()["status"]["phase"], "Failed");
    let options = DeleteOptions {
        grace_period_seconds: Some(0),
        ..DeleteOptions::default()
    };
    server.delete(&one, &options).unwrap();
    assert_eq!(server.get(&one).unwrap_err().status().code, 404);
}

#[test]
fn deleting_a_namespace_deletes_its_objects_then_the_namespace() {
    let server = ApiServer::default();
    let namespaces = target(&server, "", "v1", "namespaces", None);
    server
        .create(
            &namespaces,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
            &options("t"),
        )
        .unwrap();
    let resource_type = server.lock().registry.get("", "v1", "configmaps").unwrap();
    let in_team = Target::collection(resource_type.clone(), Some("team"));
    server
        .create(&in_team, config_map("a"), &options("t"))
        .unwrap();
    let team = target(&server, "", "v1", "namespaces", Some("team"));
    server.delete(&team, &DeleteOptions::default()).unwrap();
    assert_eq!(server.get(&team).unwrap_err().status().code, 404);
    assert!(server.objects(&in_team).is_empty());
}

#[test]
fn a_state_snapshot_restores_objects_and_served_crds() {
    let server = ApiServer::default();
    let crds = target(
        &server,
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        None,
    );
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    server.create(&crds, crd, &options("t")).unwrap();
    let widgets = target(&server, "example.com", "v1", "widgets", None);
    server
        .create(
            &widgets,
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            &options("t"),
        )
        .unwrap();
    let snapshot = server.snapshot();
    let restored = ApiServer::default();
    restored.restore(snapshot);
    assert_eq!(restored.resource_version(), server.resource_version());
    let widgets = target(&restored, "example.com", "v1", "widgets", Some("w"));
    assert_eq!(restored.get(&widgets).unwrap()["metadata"]["name"], "w");
}
