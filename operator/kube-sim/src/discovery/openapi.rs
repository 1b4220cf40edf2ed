//! OpenAPI v3 (`/openapi/v3` and one document per group version), as far as kubectl
//! needs it: PATCH/PUT/POST operations tagged with their group-version-kind and the
//! `fieldValidation` parameter (kubectl checks for it before relying on server-side
//! field validation), and each custom resource's schema (for `kubectl explain`).
//! Built-in types carry no schemas here.

use serde_json::{Map, Value, json};

use super::registry::Registry;
use super::resource_type::{Origin, ResourceType};

fn group_version_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group version's document is.
pub fn openapi_root(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.group_versions() {
        for version in versions {
            let key = group_version_key(&group, &version);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", registry_hash(registry))}),
            );
        }
    }
    json!({"paths": paths})
}

/// Changes whenever the served types change, so clients refetch documents.
fn registry_hash(registry: &Registry) -> String {
    let names: Vec<String> = registry
        .all()
        .map(|t| format!("{}/{}/{}", t.group, t.version, t.plural))
        .collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in names.join(",").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016X}")
}

/// The schema name Kubernetes uses: reversed group, version, kind.
fn schema_name(resource_type: &ResourceType) -> String {
    let group: Vec<&str> = resource_type.group.split('.').rev().collect();
    let group = if resource_type.group.is_empty() {
        "io.k8s.api.core".to_owned()
    } else {
        group.join(".")
    };
    format!("{group}.{}.{}", resource_type.version, resource_type.kind)
}

fn operation(resource_type: &ResourceType, action: &str, with_validation: bool) -> Value {
    let mut parameters =
        vec![json!({"name": "fieldManager", "in": "query", "schema": {"type": "string"}})];
    if with_validation {
        parameters
            .push(json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}));
    }
    json!({
        "operationId": format!("{action}{}", resource_type.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "$ref": format!("#/components/schemas/{}", schema_name(resource_type))
        }}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": resource_type.group, "version": resource_type.version, "kind": resource_type.kind
        },
    })
}

/// The document of one group version, or `None` if nothing is served there.
pub fn openapi_group_version(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for resource_type in registry
        .all()
        .filter(|t| t.group == group && t.version == version)
    {
        let prefix = resource_type.group_version_path();
        let collection = if resource_type.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", resource_type.plural)
        } else {
            format!("{prefix}/{}", resource_type.plural)
        };
        paths.insert(
            collection.clone(),
            json!({"get": operation(resource_type, "list", false), "post": operation(resource_type, "post", true)}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(resource_type, "get", false),
                "put": operation(resource_type, "put", true),
                "patch": operation(resource_type, "patch", true),
                "delete": operation(resource_type, "delete", false),
            }),
        );
        let mut schema = match &resource_type.origin {
            Origin::Custom {
                schema: Some(schema),
                ..
            } => schema.clone(),
            _ => json!({"type": "object"}),
        };
        if let Some(map) = schema.as_object_mut() {
            let properties = map.entry("properties").or_insert_with(|| json!({}));
            if let Some(properties) = properties.as_object_mut() {
                properties.entry("apiVersion").or_insert_with(|| json!({"type": "string",
                    "description": "APIVersion defines the versioned schema of this representation of an object."}));
                properties.entry("kind").or_insert_with(|| json!({"type": "string",
                    "description": "Kind is a string value representing the REST resource this object represents."}));
                properties.entry("metadata").or_insert_with(|| {
                    json!({"type": "object",
                    "description": "Standard object's metadata."})
                });
            }
            map.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": resource_type.group, "version": resource_type.version, "kind": resource_type.kind}]),
            );
        }
        schemas.insert(schema_name(resource_type), schema);
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_version_document_tags_patch_with_its_kind_and_field_validation() {
        let registry = Registry::default();
        let root = openapi_root(&registry);
        assert!(
            root["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
        let apps = openapi_group_version(&registry, "apps", "v1").unwrap();
        let patch =
            &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "StatefulSet"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(openapi_group_version(&registry, "apps", "v7").is_none());
    }
}
