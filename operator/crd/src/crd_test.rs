//! The CRDs as a user and a real API server see them.

use kube::CustomResourceExt;
use serde_json::Value;

use super::*;

/// Short names of the built-in resources of Kubernetes 1.33
/// (`kubectl api-resources -o wide` on a kind cluster).
const BUILT_IN_SHORT_NAMES: &[&str] = &[
    "cm", "cs", "ep", "ev", "limits", "ns", "no", "pvc", "pv", "po", "rc", "quota", "sa", "svc",
    "crd", "crds", "ds", "deploy", "rs", "sts", "hpa", "cj", "csr", "ing", "netpol", "pdb", "pc",
    "sc", "va", "vac", "vap", "vapb", "mwc", "vwc",
];

#[test]
fn committed_crd_yaml_matches_the_rust_types() {
    let generated = crd_yaml().unwrap();
    for (path, committed) in [
        (
            "operator/crd/yaml/crds.yaml",
            include_str!("../yaml/crds.yaml"),
        ),
        (
            "operator/deploy/crds.yaml",
            include_str!("../../deploy/crds.yaml"),
        ),
    ] {
        assert!(
            committed == generated,
            "{path} is stale: regenerate it with \
             `cargo run -p fjord-operator -- crd > {path}`"
        );
    }
}

#[test]
fn no_short_name_shadows_a_built_in_resource() {
    for crd in crds() {
        let names = crd.spec.names.short_names.clone().unwrap_or_default();
        assert!(
            !names.is_empty(),
            "{:?} has a short name",
            crd.metadata.name
        );
        for name in names {
            assert!(
                !BUILT_IN_SHORT_NAMES.contains(&name.as_str()),
                "{name} is a built-in short name"
            );
        }
    }
    assert_eq!(
        StreamCluster::crd().spec.names.short_names,
        Some(vec!["fsc".to_owned()])
    );
    assert_eq!(
        Topic::crd().spec.names.short_names,
        Some(vec!["ftopic".to_owned()])
    );
}

fn schemas() -> Vec<(String, Value)> {
    crds()
        .into_iter()
        .map(|crd| {
            let schema = crd.spec.versions[0]
                .schema
                .clone()
                .unwrap()
                .open_api_v3_schema
                .unwrap();
            (
                crd.metadata.name.unwrap(),
                serde_json::to_value(schema).unwrap(),
            )
        })
        .collect()
}

/// Calls `visit` with every schema node and its path.
fn walk(path: &str, node: &Value, visit: &mut dyn FnMut(&str, &serde_json::Map<String, Value>)) {
    let Some(object) = node.as_object() else {
        return;
    };
    visit(path, object);
    if let Some(Value::Object(properties)) = object.get("properties") {
        for (name, child) in properties {
            walk(&format!("{path}.{name}"), child, visit);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = object.get(key) {
            walk(&format!("{path}[{key}]"), child, visit);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = object.get(key) {
            for child in children {
                walk(&format!("{path}[{key}]"), child, visit);
            }
        }
    }
}

#[test]
fn schemas_are_structural_without_null_enum_entries_or_nullable() {
    for (crd, schema) in schemas() {
        walk(&crd, &schema, &mut |path, node| {
            if let Some(Value::Array(values)) = node.get("enum") {
                assert!(
                    !values.contains(&Value::Null),
                    "{path} has a null enum entry"
                );
            }
            assert!(!node.contains_key("nullable"), "{path} is nullable");
            assert!(
                !node.contains_key("$ref"),
                "{path} is a $ref, not structural"
            );
            let typed =
                node.contains_key("type") || node.contains_key("x-kubernetes-int-or-string");
            let preserves = node.contains_key("x-kubernetes-preserve-unknown-fields");
            assert!(typed || preserves, "{path} has no type");
        });
    }
}

#[test]
fn every_field_has_explain_text() {
    for (crd, schema) in schemas() {
        walk(&crd, &schema, &mut |path, node| {
            let depth = path.matches('.').count();
            // metadata/apiVersion/kind are described by Kubernetes itself.
            let builtin = [".metadata", ".apiVersion", ".kind"]
                .iter()
                .any(|f| path.ends_with(f));
            if depth >= 2 && !path.ends_with(']') && !builtin {
                assert!(
                    node.get("description")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.is_empty()),
                    "{path} has no description for kubectl explain"
                );
            }
        });
    }
}

/// The `x-kubernetes-validations` rules on `path`, as (rule, message).
fn rules(crd: &str, field_path: &str) -> Vec<String> {
    let (_, schema) = schemas().into_iter().find(|(name, _)| name == crd).unwrap();
    let mut found = Vec::new();
    walk(crd, &schema, &mut |path, node| {
        if path == format!("{crd}{field_path}") {
            for rule in node
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                found.push(rule["rule"].as_str().unwrap().to_owned());
            }
        }
    });
    found
}

#[test]
fn fields_that_must_not_change_or_shrink_carry_cel_rules() {
    let cluster = "streamclusters.fjord.dev";
    let topic = "topics.fjord.dev";
    assert_eq!(rules(cluster, ".spec.storage.size"), ["self == oldSelf"]);
    assert_eq!(
        rules(cluster, ".spec.storage.storageClassName"),
        ["self == oldSelf"]
    );
    assert_eq!(rules(topic, ".spec.partitions"), ["self >= oldSelf"]);
    assert_eq!(rules(topic, ".spec.replicationFactor"), ["self == oldSelf"]);
    assert_eq!(rules(topic, ".spec.clusterRef"), ["self == oldSelf"]);
}

#[test]
fn both_crds_have_status_subresources_printer_columns_and_the_fjord_category() {
    let columns = |crd: &CustomResourceDefinition| -> Vec<String> {
        let version = &crd.spec.versions[0];
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.clone())
            .collect()
    };
    assert_eq!(
        columns(&StreamCluster::crd()),
        ["Version", "Brokers", "Ready", "Phase", "Bootstrap", "Age"]
    );
    assert_eq!(
        columns(&Topic::crd()),
        ["Cluster", "Partitions", "Replicas", "Ready", "Age"]
    );
    for crd in crds() {
        assert_eq!(crd.spec.names.categories, Some(vec!["fjord".to_owned()]));
    }
}

#[test]
fn a_minimal_cluster_spec_round_trips_in_camel_case_with_defaults() {
    let json = serde_json::json!({
        "version": "0.1.0",
        "brokers": 3,
        "storage": {"size": "10Gi", "storageClassName": "gp3"},
    });
    let spec: StreamClusterSpec = serde_json::from_value(json).unwrap();
    assert_eq!(spec.storage.storage_class_name.as_deref(), Some("gp3"));
    assert_eq!(spec.rollout.strategy, RolloutStrategy::OneBroker);
    assert_eq!(spec.rollout.health_timeout_seconds, 600);
    assert!(!spec.paused);
    let back = serde_json::to_value(&spec).unwrap();
    assert_eq!(back["rollout"]["pauseSeconds"], 30);
    assert_eq!(back["storage"]["size"], "10Gi");
    assert!(back.get("rackAwareness").is_none());
}

#[test]
fn an_empty_status_serializes_without_nulls() {
    let status = serde_json::to_value(StreamClusterStatus::default()).unwrap();
    assert_eq!(
        status,
        serde_json::json!({"phase": "Pending", "readyBrokers": 0})
    );
}
