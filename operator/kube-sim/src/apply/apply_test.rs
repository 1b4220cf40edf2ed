use serde_json::{Value, json};

use super::*;

fn request<'a>(manager: &'a str, force: bool, lists: &'a ListTypes) -> ApplyRequest<'a> {
    ApplyRequest {
        manager,
        force,
        api_version: "apps/v1",
        scope: Scope::Main,
        lists,
    }
}

fn deployment(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
}

#[test]
fn a_second_manager_changing_an_owned_field_conflicts_unless_forced() {
    let lists = ListTypes::Builtin;
    let first = server_side_apply(
        &json!({}),
        &deployment("a:1"),
        &request("alice", false, &lists),
    )
    .unwrap();
    let error =
        server_side_apply(&first, &deployment("a:2"), &request("bob", false, &lists)).unwrap_err();
    assert_eq!(
        error,
        vec![(
            "alice".to_owned(),
            ".spec.template.spec.containers[name=\"app\"].image".to_owned()
        )]
    );
    let forced =
        server_side_apply(&first, &deployment("a:2"), &request("bob", true, &lists)).unwrap();
    assert_eq!(
        forced["spec"]["template"]["spec"]["containers"][0]["image"],
        "a:2"
    );
    let managers: Vec<&str> = forced["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["alice", "bob"]);
}

#[test]
fn the_same_value_from_two_managers_is_shared_without_conflict() {
    let lists = ListTypes::Builtin;
    let first = server_side_apply(
        &json!({}),
        &deployment("a:1"),
        &request("alice", false, &lists),
    )
    .unwrap();
    assert!(server_side_apply(&first, &deployment("a:1"), &request("bob", false, &lists)).is_ok());
}

#[test]
fn a_field_dropped_from_the_applied_configuration_is_removed_when_nobody_else_owns_it() {
    let lists = ListTypes::Builtin;
    let mut with_labels = deployment("a:1");
    with_labels["metadata"]["labels"] = json!({"team": "x"});
    let first =
        server_side_apply(&json!({}), &with_labels, &request("alice", false, &lists)).unwrap();
    assert_eq!(first["metadata"]["labels"]["team"], "x");
    let second =
        server_side_apply(&first, &deployment("a:1"), &request("alice", false, &lists)).unwrap();
    assert!(second["metadata"]["labels"].get("team").is_none());
}

#[test]
fn a_list_item_dropped_from_the_applied_configuration_is_removed_whole() {
    let lists = ListTypes::Builtin;
    let mut two = deployment("a:1");
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "side", "image": "s:1"}));
    let first = server_side_apply(&json!({}), &two, &request("alice", false, &lists)).unwrap();
    let second =
        server_side_apply(&first, &deployment("a:1"), &request("alice", false, &lists)).unwrap();
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "image": "a:1"}]),
        "no part of the dropped container is left"
    );
}

#[test]
fn applied_containers_merge_by_name_with_another_managers_containers() {
    let lists = ListTypes::Builtin;
    let first = server_side_apply(
        &json!({}),
        &deployment("a:1"),
        &request("alice", false, &lists),
    )
    .unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "p:1"}]}}}});
    let merged = server_side_apply(&first, &sidecar, &request("bob", false, &lists)).unwrap();
    let names: Vec<&str> = merged["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "proxy"]);
}

#[test]
fn a_status_apply_writes_only_status() {
    let lists = ListTypes::Builtin;
    let live = deployment("a:1");
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"x": "y"}},
        "spec": {"replicas": 9}, "status": {"replicas": 1}});
    let request = ApplyRequest {
        scope: Scope::Status,
        ..request("ctl", false, &lists)
    };
    let result = server_side_apply(&live, &applied, &request).unwrap();
    assert_eq!(result["spec"]["replicas"], 2);
    assert_eq!(result["status"]["replicas"], 1);
    assert!(result["metadata"].get("labels").is_none());
    assert_eq!(
        result["metadata"]["managedFields"][0]["subresource"],
        "status"
    );
}

#[test]
fn a_port_applied_without_protocol_is_the_stored_tcp_port() {
    // The server defaults `protocol: TCP` after each apply; the next apply,
    // again without it, must match that port instead of adding another.
    let lists = ListTypes::Builtin;
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kafka"},
        "spec": {"ports": [{"name": "kafka", "port": 9092}, {"name": "admin", "port": 9644}]}});
    let mut stored = json!({});
    for _ in 0..3 {
        stored = server_side_apply(&stored, &service, &request("operator", false, &lists)).unwrap();
        for port in stored["spec"]["ports"].as_array_mut().unwrap() {
            port.as_object_mut()
                .unwrap()
                .entry("protocol")
                .or_insert(json!("TCP"));
        }
    }
    let ports: Vec<(u64, &str)> = stored["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|port| {
            (
                port["port"].as_u64().unwrap(),
                port["protocol"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, [(9092, "TCP"), (9644, "TCP")]);
}
