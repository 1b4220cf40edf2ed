//! Deletion: preconditions, finalizers (`deletionTimestamp` first, removal once the
//! last finalizer goes), graceful Pod deletion, background garbage collection of
//! dependents by owner reference, and namespace and CRD cleanup.

use chrono::Duration;
use serde_json::Value;

use super::{ApiServer, State, Target, crd, garbage, write::with_served_version};
use crate::discovery::{GroupResource, ResourceType};
use crate::error::Result;
use crate::status::ApiStatus;
use crate::store::ObjectKey;
use crate::store::object::{finalizers, generation, is_deleting, meta_str, metadata_mut};

/// `propagationPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents are deleted after the owner is gone (the default).
    #[default]
    Background,
    /// Treated as background here (see the README).
    Foreground,
    /// Dependents lose their owner reference and stay.
    Orphan,
}

/// Options of a DELETE (query parameters and the `DeleteOptions` body).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    /// `?dryRun=All`: check and answer, delete nothing.
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` JSON body over query defaults.
    pub fn merge_body(mut self, body: &Value) -> Self {
        if let Some(policy) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation = Propagation::parse(policy);
        }
        if let Some(orphan) = body.get("orphanDependents").and_then(Value::as_bool) {
            self.propagation = if orphan {
                Propagation::Orphan
            } else {
                Propagation::Background
            };
        }
        if let Some(grace) = body.get("gracePeriodSeconds").and_then(Value::as_i64) {
            self.grace_period_seconds = Some(grace);
        }
        if let Some(modes) = body.get("dryRun").and_then(Value::as_array) {
            self.dry_run = modes.iter().any(|m| m == "All");
        }
        if let Some(uid) = body.pointer("/preconditions/uid").and_then(Value::as_str) {
            self.precondition_uid = Some(uid.to_owned());
        }
        if let Some(version) = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            self.precondition_resource_version = Some(version.to_owned());
        }
        self
    }
}

impl Propagation {
    /// Parses `Background`, `Foreground` or `Orphan` (anything else is background).
    pub fn parse(text: &str) -> Self {
        match text {
            "Foreground" => Self::Foreground,
            "Orphan" => Self::Orphan,
            _ => Self::Background,
        }
    }
}

impl ApiServer {
    /// DELETE of one object; returns it (marked for deletion, or as it was when removed).
    pub fn delete(&self, target: &Target, options: &DeleteOptions) -> Result<Value> {
        let mut state = self.lock();
        let key = target.key()?;
        if options.dry_run {
            let resource = target.resource_type.group_resource();
            let object = state
                .store
                .get(&resource, &key)
                .cloned()
                .ok_or_else(|| target.not_found())?;
            return Ok(with_served_version(object, &target.resource_type));
        }
        let object = delete_object(&mut state, &target.resource_type, &key, options)?;
        Ok(with_served_version(object, &target.resource_type))
    }
}

fn when(seconds: i64) -> String {
    (chrono::Utc::now() + Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether a Pod waits for its kubelet before it goes (bound and still running).
fn pod_grace_period(resource_type: &ResourceType, object: &Value, requested: Option<i64>) -> i64 {
    if !(resource_type.group.is_empty() && resource_type.plural == "pods") {
        return 0;
    }
    let bound = object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = object
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !bound || matches!(phase, "Succeeded" | "Failed") {
        return 0;
    }
    let default = object
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    let current = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    let requested = requested.unwrap_or(default).max(0);
    // A second delete may shorten the grace period, never lengthen it.
    current.map_or(requested, |c| c.min(requested))
}

pub(super) fn delete_object(
    state: &mut State,
    resource_type: &ResourceType,
    key: &ObjectKey,
    options: &DeleteOptions,
) -> Result<Value> {
    let resource = resource_type.group_resource();
    let Some(object) = state.store.get(&resource, key).cloned() else {
        return Err(ApiStatus::not_found(&resource.qualified(), &key.name)
            .with_details(&resource_type.group, &resource_type.plural, &key.name)
            .into());
    };
    let conflict = |what: &str, expected: &str, actual: &str| {
        let mut status = ApiStatus::stale(&resource.qualified(), &key.name);
        status.message = format!(
            "Operation cannot be fulfilled on {} \"{}\": Precondition failed: {what}: {expected}, ObjectMeta.{what}: {actual}",
            resource.qualified(),
            key.name
        );
        status
    };
    if let Some(uid) = &options.precondition_uid
        && uid != meta_str(&object, "uid")
    {
        return Err(conflict("UID in precondition", uid, meta_str(&object, "uid")).into());
    }
    if let Some(version) = &options.precondition_resource_version
        && version != meta_str(&object, "resourceVersion")
    {
        return Err(conflict(
            "ResourceVersion in precondition",
            version,
            meta_str(&object, "resourceVersion"),
        )
        .into());
    }
    if options.propagation == Propagation::Orphan {
        orphan_dependents(state, meta_str(&object, "uid"));
    }
    if crd::is_crd(resource_type)
        && let Some(terminating) = crd::begin_deletion(state, key, &object)
    {
        return Ok(terminating);
    }
    let grace = pod_grace_period(resource_type, &object, options.grace_period_seconds);
    let is_namespace = resource_type.group.is_empty() && resource_type.plural == "namespaces";
    if grace > 0 || !finalizers(&object).is_empty() || is_namespace {
        let already = is_deleting(&object);
        let current_grace = object
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64);
        if already && current_grace == Some(grace) && !is_namespace {
            return Ok(object);
        }
        let mut marked = object.clone();
        let metadata = metadata_mut(&mut marked);
        if !already || grace > 0 {
            metadata.insert("deletionTimestamp".into(), Value::String(when(grace)));
        }
        metadata.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
        if !already && resource_type.tracks_generation {
            metadata.insert("generation".into(), Value::from(generation(&object) + 1));
        }
        if is_namespace && let Some(map) = marked.as_object_mut() {
            map.insert("status".into(), serde_json::json!({"phase": "Terminating"}));
        }
        let stored = state.store.put(&resource, key.clone(), marked);
        if is_namespace {
            return Ok(terminate_namespace(state, &key.name).unwrap_or(stored));
        }
        return Ok(stored);
    }
    Ok(remove_object(state, resource_type, key).unwrap_or(object))
}

/// Removes an object for good and cleans up after it; returns it as removed.
pub(super) fn remove_object(
    state: &mut State,
    resource_type: &ResourceType,
    key: &ObjectKey,
) -> Option<Value> {
    let resource = resource_type.group_resource();
    let removed = state.store.remove(&resource, key)?;
    if crd::is_crd(resource_type)
        && let Some(defined) = crd::defined_resource(&removed)
    {
        let instances: Vec<ObjectKey> = state
            .store
            .list(&defined, None)
            .map(|(k, _)| k.clone())
            .collect();
        for instance in instances {
            state.store.remove(&defined, &instance);
        }
        state.registry.remove(&defined);
    }
    garbage::collect_dependents_of(state, meta_str(&removed, "uid"));
    crd::finish_deletion_if_empty(state, resource_type);
    if resource_type.namespaced {
        finish_namespace_if_empty(state, &key.namespace);
    }
    Some(removed)
}

/// Drops owner references to `uid` from its dependents.
fn orphan_dependents(state: &mut State, uid: &str) {
    for (resource, key, mut object) in garbage::dependents_of(state, uid) {
        if let Some(refs) = object
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
        }
        state.store.put(&resource, key, object);
    }
}

/// Deletes everything in a terminating namespace, then the namespace once empty.
fn terminate_namespace(state: &mut State, namespace: &str) -> Option<Value> {
    for resource in state.store.resources() {
        let Some(resource_type) = state.registry.versions_of(&resource).into_iter().next() else {
            continue;
        };
        if !resource_type.namespaced {
            continue;
        }
        let keys: Vec<ObjectKey> = state
            .store
            .list(&resource, Some(namespace))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let _ = delete_object(state, &resource_type, &key, &DeleteOptions::default());
        }
    }
    finish_namespace_if_empty(state, namespace)
}

/// Removes a terminating namespace that holds nothing any more.
fn finish_namespace_if_empty(state: &mut State, namespace: &str) -> Option<Value> {
    let namespaces = GroupResource {
        group: String::new(),
        resource: "namespaces".into(),
    };
    let key = ObjectKey::new("", namespace);
    let terminating = state.store.get(&namespaces, &key).is_some_and(is_deleting);
    if !terminating {
        return None;
    }
    let empty = state.store.resources().iter().all(|resource| {
        state
            .registry
            .versions_of(resource)
            .first()
            .is_none_or(|t| !t.namespaced)
            || state.store.list(resource, Some(namespace)).next().is_none()
    });
    if empty {
        state.store.remove(&namespaces, &key)
    } else {
        None
    }
}
