//! Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`), the
//! legacy (unaggregated) form every client falls back to.

use serde_json::{Value, json};

use super::registry::Registry;

/// The Kubernetes version this server claims (the oldest we support, docs/decisions.md §8).
pub(super) const MINOR_VERSION: &str = "33";

/// `/version`.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": MINOR_VERSION,
        "gitVersion": format!("v1.{MINOR_VERSION}.0-fjord-kube-sim"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-12-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis` (every group but the core one), or `/apis/<group>` when `only` is given.
pub fn api_group_list(registry: &Registry, only: Option<&str>) -> Option<Value> {
    let groups: Vec<Value> = registry
        .group_versions()
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .filter(|(group, _)| only.is_none_or(|o| o == group))
        .map(|(group, versions)| group_entry(&group, &versions))
        .collect();
    match only {
        Some(_) => groups.into_iter().next().map(|mut group| {
            group["kind"] = json!("APIGroup");
            group["apiVersion"] = json!("v1");
            group
        }),
        None => Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})),
    }
}

/// `/api/v1` or `/apis/<group>/<version>`; `None` if nothing is served there.
pub fn api_resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for resource_type in registry
        .all()
        .filter(|t| t.group == group && t.version == version)
    {
        let mut entry = json!({
            "name": resource_type.plural,
            "singularName": resource_type.singular,
            "namespaced": resource_type.namespaced,
            "kind": resource_type.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        });
        if !resource_type.short_names.is_empty() {
            entry["shortNames"] = json!(resource_type.short_names);
        }
        if !resource_type.categories.is_empty() {
            entry["categories"] = json!(resource_type.categories);
        }
        resources.push(entry);
        if resource_type.group.is_empty() && resource_type.plural == "pods" {
            resources.push(json!({
                "name": "pods/binding", "singularName": "", "namespaced": true,
                "kind": "Binding", "verbs": ["create"],
            }));
        }
        if resource_type.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", resource_type.plural),
                "singularName": "",
                "namespaced": resource_type.namespaced,
                "kind": resource_type.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_v1_lists_statefulsets_with_their_status_subresource() {
        let registry = Registry::default();
        let list = api_resource_list(&registry, "apps", "v1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"statefulsets") && names.contains(&"statefulsets/status"));
        assert!(api_resource_list(&registry, "apps", "v9").is_none());
    }

    #[test]
    fn the_group_list_leaves_out_the_core_group() {
        let registry = Registry::default();
        let list = api_group_list(&registry, None).unwrap();
        let groups: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert!(groups.contains(&"apps") && !groups.contains(&""));
        assert_eq!(
            api_group_list(&registry, Some("apps")).unwrap()["kind"],
            "APIGroup"
        );
    }
}
