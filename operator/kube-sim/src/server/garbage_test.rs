//! Garbage collection by owner reference, as Kubernetes' collector decides it.

use serde_json::{Value, json};

use super::server_test::{config_map, options, target};
use super::*;

fn owned_config_map(name: &str, owners: Value) -> Value {
    let mut object = config_map(name);
    object["metadata"]["ownerReferences"] = owners;
    object
}

fn reference(kind: &str, api_version: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid})
}

/// Creates a StatefulSet `name` in `default`; returns its uid.
fn stateful_set(server: &ApiServer, name: &str) -> String {
    let sets = target(server, "apps", "v1", "statefulsets", None);
    let set = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "serviceName": name,
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let created = server.create(&sets, set, &options("t")).unwrap().object;
    created["metadata"]["uid"].as_str().unwrap().to_owned()
}

fn exists(server: &ApiServer, plural: &str, name: &str) -> bool {
    server
        .get(&target(server, "", "v1", plural, Some(name)))
        .is_ok()
}

#[test]
fn a_pod_created_for_a_deleted_stateful_set_is_collected() {
    // The StatefulSet controller's cache can lag its set's deletion: a Pod it
    // creates then names an owner that is gone, which the real collector deletes.
    let server = ApiServer::default();
    let uid = stateful_set(&server, "web");
    let set = target(&server, "apps", "v1", "statefulsets", Some("web"));
    server.delete(&set, &DeleteOptions::default()).unwrap();
    let pods = target(&server, "", "v1", "pods", None);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": uid,
             "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"containers": [{"name": "c", "image": "i"}]}});
    server.create(&pods, pod, &options("t")).unwrap();
    assert!(!exists(&server, "pods", "web-0"));
}

#[test]
fn an_owner_with_the_same_name_and_another_uid_is_absent() {
    let server = ApiServer::default();
    let old_uid = stateful_set(&server, "web");
    let set = target(&server, "apps", "v1", "statefulsets", Some("web"));
    server.delete(&set, &DeleteOptions::default()).unwrap();
    let new_uid = stateful_set(&server, "web");
    assert_ne!(old_uid, new_uid);
    let configmaps = target(&server, "", "v1", "configmaps", None);
    let stale = owned_config_map(
        "stale",
        json!([reference("StatefulSet", "apps/v1", "web", &old_uid)]),
    );
    let current = owned_config_map(
        "current",
        json!([reference("StatefulSet", "apps/v1", "web", &new_uid)]),
    );
    server.create(&configmaps, stale, &options("t")).unwrap();
    server.create(&configmaps, current, &options("t")).unwrap();
    assert!(!exists(&server, "configmaps", "stale"));
    assert!(exists(&server, "configmaps", "current"));
}

#[test]
fn one_live_owner_keeps_an_object_until_it_goes_too() {
    let server = ApiServer::default();
    let a = stateful_set(&server, "a");
    let b = stateful_set(&server, "b");
    let configmaps = target(&server, "", "v1", "configmaps", None);
    let shared = owned_config_map(
        "shared",
        json!([
            reference("StatefulSet", "apps/v1", "a", &a),
            reference("StatefulSet", "apps/v1", "b", &b),
            reference("StatefulSet", "apps/v1", "gone", "no-such-uid"),
        ]),
    );
    server.create(&configmaps, shared, &options("t")).unwrap();
    assert!(exists(&server, "configmaps", "shared"));
    let set_a = target(&server, "apps", "v1", "statefulsets", Some("a"));
    server.delete(&set_a, &DeleteOptions::default()).unwrap();
    assert!(exists(&server, "configmaps", "shared"));
    let set_b = target(&server, "apps", "v1", "statefulsets", Some("b"));
    server.delete(&set_b, &DeleteOptions::default()).unwrap();
    assert!(!exists(&server, "configmaps", "shared"));
}

#[test]
fn an_owner_in_another_namespace_is_absent() {
    let server = ApiServer::default();
    let uid = stateful_set(&server, "web");
    let resource_type = server.lock().registry.get("", "v1", "configmaps").unwrap();
    let elsewhere = Target::collection(resource_type, Some("kube-public"));
    let object = owned_config_map(
        "c",
        json!([reference("StatefulSet", "apps/v1", "web", &uid)]),
    );
    server.create(&elsewhere, object, &options("t")).unwrap();
    assert!(server.objects(&elsewhere).is_empty());
}

#[test]
fn a_cluster_scoped_owner_holds_a_namespaced_object() {
    let server = ApiServer::default();
    let namespace = target(&server, "", "v1", "namespaces", Some("kube-public"));
    let uid = server.get(&namespace).unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let configmaps = target(&server, "", "v1", "configmaps", None);
    let object = owned_config_map(
        "c",
        json!([reference("Namespace", "v1", "kube-public", &uid)]),
    );
    server.create(&configmaps, object, &options("t")).unwrap();
    assert!(exists(&server, "configmaps", "c"));
}

#[test]
fn unresolvable_owners_leave_an_object_alone() {
    let server = ApiServer::default();
    let configmaps = target(&server, "", "v1", "configmaps", None);
    // A kind this server does not serve: the collector cannot look it up.
    let unknown = owned_config_map(
        "unknown",
        json!([reference("Widget", "example.com/v1", "w", "some-uid")]),
    );
    server.create(&configmaps, unknown, &options("t")).unwrap();
    assert!(exists(&server, "configmaps", "unknown"));
    // A cluster-scoped object cannot be owned by a namespaced one.
    let namespaces = target(&server, "", "v1", "namespaces", None);
    let team = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team",
        "ownerReferences": [reference("StatefulSet", "apps/v1", "web", "some-uid")]}});
    server.create(&namespaces, team, &options("t")).unwrap();
    assert!(exists(&server, "namespaces", "team"));
}

#[test]
fn a_write_that_drops_the_last_live_owner_collects_the_object() {
    let server = ApiServer::default();
    let uid = stateful_set(&server, "web");
    let configmaps = target(&server, "", "v1", "configmaps", None);
    let object = owned_config_map(
        "c",
        json!([reference("StatefulSet", "apps/v1", "web", &uid)]),
    );
    server.create(&configmaps, object, &options("t")).unwrap();
    let one = target(&server, "", "v1", "configmaps", Some("c"));
    let dangling = json!({"metadata": {"ownerReferences": [
        reference("StatefulSet", "apps/v1", "other", "other-uid")]}});
    server
        .patch(
            &one,
            crate::apply::PatchKind::Merge,
            dangling,
            &options("t"),
        )
        .unwrap();
    assert!(!exists(&server, "configmaps", "c"));
}
