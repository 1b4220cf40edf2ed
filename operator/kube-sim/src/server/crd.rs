//! CustomResourceDefinitions: serving the types they define, and their status.

use serde_json::{Value, json};

use crate::discovery::{GroupResource, Origin, PrinterColumn, Registry, ResourceType};
use crate::store::object::now_timestamp;

/// Whether a type is `customresourcedefinitions.apiextensions.k8s.io`.
pub(super) fn is_crd(resource_type: &ResourceType) -> bool {
    resource_type.group == "apiextensions.k8s.io"
        && resource_type.plural == "customresourcedefinitions"
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The group resource a CRD defines.
pub(super) fn defined_resource(crd: &Value) -> Option<GroupResource> {
    Some(GroupResource {
        group: crd.pointer("/spec/group")?.as_str()?.to_owned(),
        resource: crd.pointer("/spec/names/plural")?.as_str()?.to_owned(),
    })
}

/// Serves every served version of a CRD (replacing what it served before).
pub(super) fn register(registry: &mut Registry, crd: &Value) {
    let Some(resource) = defined_resource(crd) else {
        return;
    };
    registry.remove(&resource);
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let text = |value: &Value, field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let kind = text(&names, "kind");
    let crd_name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let namespaced = crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
    for version in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if version.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let printer_columns: Vec<PrinterColumn> = version
            .get("additionalPrinterColumns")
            .cloned()
            .and_then(|columns| serde_json::from_value(columns).ok())
            .unwrap_or_default();
        let list_kind = match text(&names, "listKind") {
            list_kind if list_kind.is_empty() => format!("{kind}List"),
            list_kind => list_kind,
        };
        let singular = match text(&names, "singular") {
            singular if singular.is_empty() => kind.to_lowercase(),
            singular => singular,
        };
        registry.insert(ResourceType {
            group: resource.group.clone(),
            version: text(version, "name"),
            kind: kind.clone(),
            plural: resource.resource.clone(),
            singular,
            list_kind,
            namespaced,
            short_names: strings(names.get("shortNames")),
            categories: strings(names.get("categories")),
            status_subresource: version.pointer("/subresources/status").is_some(),
            tracks_generation: true,
            origin: Origin::Custom {
                schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                printer_columns,
                crd_name: crd_name.clone(),
            },
        });
    }
}

/// The status the API server's CRD controllers report once a CRD is served.
pub(super) fn settle_status(crd: &mut Value) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = now_timestamp();
    let transition = |kind: &str| {
        crd.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == kind))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| Value::String(now.clone()))
    };
    let status = json!({
        "acceptedNames": names,
        "storedVersions": storage,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": transition("NamesAccepted")},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": transition("Established")},
        ],
    });
    if let Some(map) = crd.as_object_mut() {
        map.insert("status".into(), status);
    }
}
