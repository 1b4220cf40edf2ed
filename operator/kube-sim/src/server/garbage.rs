//! Garbage collection by owner reference, with the garbage collector's rules:
//! an object all of whose owners are absent is deleted (background). An owner
//! is looked up by its reference's kind (group from `apiVersion`), name and
//! the dependent's namespace (or cluster-scoped), and it is present only if an
//! object with that uid is there: one with the same name and another uid is a
//! different object, so the owner is absent. A namespaced owner of a
//! cluster-scoped dependent, and an owner of a kind this server does not
//! serve, cannot be resolved: such a dependent is kept, as Kubernetes keeps it.
//!
//! Kubernetes' collector runs asynchronously over a graph of every object; here
//! the rule is applied at the two moments it can change an answer: when an
//! owner is removed (its dependents are checked) and when an object is written
//! with owner references (it is checked itself, so a Pod created by a
//! controller after its owner went is collected, as the real collector does
//! once it sees the dangling reference).

use serde_json::Value;

use super::State;
use super::delete::{DeleteOptions, delete_object};
use crate::discovery::{GroupResource, ResourceType};
use crate::store::ObjectKey;
use crate::store::object::{is_deleting, meta_str};

/// What a lookup of one owner reference found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// An object with the reference's uid exists where the reference points.
    Present,
    /// Nothing with that uid is there (maybe another object with the name).
    Absent,
    /// The reference cannot be resolved (unknown kind, or a namespaced owner
    /// of a cluster-scoped object); the collector leaves the dependent alone.
    Unresolvable,
}

fn owner_references(object: &Value) -> &[Value] {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The served type of a reference's `apiVersion` group and `kind` (any version).
fn owner_type(state: &State, reference: &Value) -> Option<crate::discovery::ResourceTypeRef> {
    let api_version = reference.get("apiVersion").and_then(Value::as_str)?;
    let kind = reference.get("kind").and_then(Value::as_str)?;
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    state.registry.by_kind(api_version, kind).or_else(|| {
        state
            .registry
            .all()
            .find(|t| t.group == group && t.kind == kind)
            .cloned()
    })
}

/// Looks one owner reference of an object in `namespace` ("" if cluster-scoped) up.
pub(super) fn owner(state: &State, namespace: &str, reference: &Value) -> Owner {
    let Some(owner_type) = owner_type(state, reference) else {
        return Owner::Unresolvable;
    };
    if owner_type.namespaced && namespace.is_empty() {
        return Owner::Unresolvable;
    }
    let name = reference.get("name").and_then(Value::as_str).unwrap_or("");
    let uid = reference.get("uid").and_then(Value::as_str).unwrap_or("");
    let owner_namespace = if owner_type.namespaced { namespace } else { "" };
    let found = state.store.get(
        &owner_type.group_resource(),
        &ObjectKey::new(owner_namespace, name),
    );
    match found {
        Some(object) if !uid.is_empty() && meta_str(object, "uid") == uid => Owner::Present,
        _ => Owner::Absent,
    }
}

/// Whether the collector deletes this object: it has owner references, all absent,
/// and it is not already being deleted.
fn is_garbage(state: &State, namespace: &str, object: &Value) -> bool {
    let references = owner_references(object);
    !references.is_empty()
        && !is_deleting(object)
        && references
            .iter()
            .all(|reference| owner(state, namespace, reference) == Owner::Absent)
}

/// Deletes the object at `key` (background) if all its owners are absent.
pub(super) fn collect_if_orphaned(
    state: &mut State,
    resource_type: &ResourceType,
    key: &ObjectKey,
) {
    let resource = resource_type.group_resource();
    let garbage = state
        .store
        .get(&resource, key)
        .is_some_and(|object| is_garbage(state, &key.namespace, object));
    if garbage {
        tracing::debug!(resource = %resource.qualified(), namespace = %key.namespace, name = %key.name, "collecting an object whose owners are all gone");
        // Already gone or refused: the collector only tries.
        let _ = delete_object(state, resource_type, key, &DeleteOptions::default());
    }
}

/// Every object (resource, key, object) whose owner references include `uid`.
pub(super) fn dependents_of(state: &State, uid: &str) -> Vec<(GroupResource, ObjectKey, Value)> {
    let mut found = Vec::new();
    for resource in state.store.resources() {
        for (key, object) in state.store.list(&resource, None) {
            let owned = owner_references(object)
                .iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid));
            if owned {
                found.push((resource.clone(), key.clone(), object.clone()));
            }
        }
    }
    found
}

/// After the object with `uid` was removed: collects its dependents whose every
/// owner is now absent.
pub(super) fn collect_dependents_of(state: &mut State, uid: &str) {
    if uid.is_empty() {
        return;
    }
    for (resource, key, _) in dependents_of(state, uid) {
        let Some(resource_type) = state.registry.versions_of(&resource).into_iter().next() else {
            continue;
        };
        collect_if_orphaned(state, &resource_type, &key);
    }
}

/// Checks every stored object (after a state file was loaded).
pub(super) fn collect_all(state: &mut State) {
    for resource in state.store.resources() {
        let Some(resource_type) = state.registry.versions_of(&resource).into_iter().next() else {
            continue;
        };
        let keys: Vec<ObjectKey> = state
            .store
            .list(&resource, None)
            .filter(|(_, object)| !owner_references(object).is_empty())
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            collect_if_orphaned(state, &resource_type, &key);
        }
    }
}
