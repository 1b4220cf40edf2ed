//! CustomResourceDefinitions: serving the types they define, and their status.

use serde_json::{Value, json};

use super::{State, delete};
use crate::discovery::{GroupResource, Origin, PrinterColumn, Registry, ResourceType};
use crate::store::ObjectKey;
use crate::store::object::{metadata_mut, now_timestamp};

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

/// Held on a CRD being deleted until its objects are gone (as the API server's CRD
/// cleanup controller does).
pub(super) const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn crd_resource() -> GroupResource {
    GroupResource {
        group: "apiextensions.k8s.io".into(),
        resource: "customresourcedefinitions".into(),
    }
}

/// Deleting a CRD that still has objects: marks it (deletion timestamp, cleanup
/// finalizer, `Terminating` condition) and deletes its objects, which keep their own
/// finalizers. Returns the CRD as it then is, or `None` if it has no objects.
pub(super) fn begin_deletion(state: &mut State, key: &ObjectKey, crd: &Value) -> Option<Value> {
    let defined = defined_resource(crd)?;
    let instances: Vec<ObjectKey> = state
        .store
        .list(&defined, None)
        .map(|(k, _)| k.clone())
        .collect();
    if instances.is_empty() {
        return None;
    }
    let instance_type = state.registry.versions_of(&defined).into_iter().next()?;
    let mut marked = crd.clone();
    let metadata = metadata_mut(&mut marked);
    metadata
        .entry("deletionTimestamp")
        .or_insert_with(|| Value::String(now_timestamp()));
    metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
    let finalizers = metadata.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = finalizers.as_array_mut()
        && !list.iter().any(|f| f == CLEANUP_FINALIZER)
    {
        list.push(json!(CLEANUP_FINALIZER));
    }
    if let Some(conditions) = marked
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        conditions.retain(|c| c["type"] != "Terminating");
        conditions.push(json!({"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress", "lastTransitionTime": now_timestamp()}));
    }
    state.store.put(&crd_resource(), key.clone(), marked);
    for instance in instances {
        // Objects with finalizers stay (marked); the rest go now.
        let _ = delete::delete_object(
            state,
            &instance_type,
            &instance,
            &delete::DeleteOptions::default(),
        );
    }
    Some(
        state
            .store
            .get(&crd_resource(), key)
            .cloned()
            .unwrap_or_else(|| crd.clone()),
    )
}

/// After a custom resource is removed: once its terminating CRD has no objects left,
/// drops the cleanup finalizer (and the CRD, if no other finalizer holds it).
pub(super) fn finish_deletion_if_empty(state: &mut State, resource_type: &ResourceType) {
    let Origin::Custom { crd_name, .. } = &resource_type.origin else {
        return;
    };
    let key = ObjectKey::new("", crd_name);
    let Some(crd) = state.store.get(&crd_resource(), &key).cloned() else {
        return;
    };
    let deleting = crd
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    if !deleting
        || state
            .store
            .list(&resource_type.group_resource(), None)
            .next()
            .is_some()
    {
        return;
    }
    let mut released = crd;
    if let Some(list) = released
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    {
        list.retain(|f| f != CLEANUP_FINALIZER);
    }
    let held = released
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if held {
        state.store.put(&crd_resource(), key, released);
        return;
    }
    let Some(crd_type) =
        state
            .registry
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return;
    };
    delete::remove_object(state, &crd_type, &key);
}
