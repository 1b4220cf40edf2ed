//! Preparing an object for storage: names, namespace, server-owned metadata, the
//! resource version precondition, status subresource rules and generation.

use serde_json::Value;

use super::State;
use super::lifecycle::{
    new_uid, qualified_kind, reset_status_on_create, spec_changed, validate_name,
};
use super::write::{Commit, with_served_version};
use crate::status::{ApiStatus, Cause};
use crate::store::object::{
    finalizers, generation, is_deleting, meta_str, metadata_mut, now_timestamp,
};

/// A random suffix from Kubernetes' name alphabet (no vowels, no confusable digits).
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Names, namespace and server-owned metadata of the object to store.
pub(super) fn settle_identity(state: &State, commit: &mut Commit<'_>) -> Result<(), ApiStatus> {
    let resource_type = &commit.target.resource_type;
    commit.new = with_served_version(std::mem::take(&mut commit.new), resource_type);
    if !commit.new.get("metadata").is_some_and(Value::is_object) {
        metadata_mut(&mut commit.new);
    }
    let url_name = commit.target.name.clone();
    let body_name = meta_str(&commit.new, "name").to_owned();
    let generate = meta_str(&commit.new, "generateName").to_owned();
    let name = match (&url_name, body_name.is_empty()) {
        (Some(url), false) if *url != body_name => {
            return Err(ApiStatus::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({url})"
            )));
        }
        (Some(url), _) => url.clone(),
        (None, false) => body_name,
        (None, true) if !generate.is_empty() && commit.old.is_none() => {
            format!("{generate}{}", random_suffix())
        }
        (None, true) => String::new(),
    };
    validate_name(resource_type, &name)?;
    let body_namespace = meta_str(&commit.new, "namespace").to_owned();
    let namespace = commit.target.storage_namespace().to_owned();
    if resource_type.namespaced && !body_namespace.is_empty() && body_namespace != namespace {
        return Err(ApiStatus::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let metadata = metadata_mut(&mut commit.new);
    metadata.insert("name".into(), Value::String(name));
    if resource_type.namespaced {
        metadata.insert("namespace".into(), Value::String(namespace.clone()));
    } else {
        metadata.remove("namespace");
    }
    if resource_type.namespaced && commit.old.is_none() {
        let namespaces = crate::discovery::GroupResource {
            group: String::new(),
            resource: "namespaces".into(),
        };
        let Some(ns) = state
            .store
            .get(&namespaces, &crate::store::ObjectKey::new("", &namespace))
        else {
            return Err(ApiStatus::not_found("namespaces", &namespace).with_details(
                "",
                "namespaces",
                &namespace,
            ));
        };
        if is_deleting(ns) {
            let mut status = ApiStatus::bad_request(format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ));
            status.code = 403;
            status.reason = "Forbidden".into();
            return Err(status);
        }
    }
    Ok(())
}

/// Server-set metadata, resource version precondition, status rules, generation.
pub(super) fn settle_lifecycle(commit: &mut Commit<'_>) -> Result<(), ApiStatus> {
    let resource_type = &commit.target.resource_type;
    let Some(old) = &commit.old else {
        let tracks = resource_type.tracks_generation;
        let metadata = metadata_mut(&mut commit.new);
        metadata.insert("uid".into(), Value::String(new_uid()));
        metadata.insert("creationTimestamp".into(), Value::String(now_timestamp()));
        for server_owned in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            metadata.remove(server_owned);
        }
        if tracks {
            metadata.insert("generation".into(), Value::from(1));
        } else {
            metadata.remove("generation");
        }
        reset_status_on_create(resource_type, &mut commit.new);
        return Ok(());
    };
    let name = meta_str(old, "name").to_owned();
    let sent_version = meta_str(&commit.new, "resourceVersion").to_owned();
    if !sent_version.is_empty() && sent_version != meta_str(old, "resourceVersion") {
        return Err(
            ApiStatus::stale(&resource_type.group_resource().qualified(), &name).with_details(
                &resource_type.group,
                &resource_type.plural,
                &name,
            ),
        );
    }
    if commit.target.is_status() {
        let status = commit.new.get("status").cloned();
        let managed = commit.new.pointer("/metadata/managedFields").cloned();
        let mut next = old.clone();
        if let Some(map) = next.as_object_mut() {
            match status {
                Some(status) => map.insert("status".into(), status),
                None => map.remove("status"),
            };
        }
        if let Some(managed) = managed {
            metadata_mut(&mut next).insert("managedFields".into(), managed);
        }
        commit.new = next;
    } else if resource_type.status_subresource
        && let Some(map) = commit.new.as_object_mut()
    {
        match old.get("status") {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }
    let old_metadata = old.get("metadata").cloned().unwrap_or_default();
    let metadata = metadata_mut(&mut commit.new);
    for server_owned in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_metadata.get(server_owned) {
            Some(value) => metadata.insert(server_owned.into(), value.clone()),
            None => metadata.remove(server_owned),
        };
    }
    if is_deleting(old) {
        let before = finalizers(old);
        let added: Vec<String> = finalizers(&commit.new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            let mut status = ApiStatus::invalid(
                &qualified_kind(resource_type),
                &name,
                vec![Cause {
                    reason: "FieldValueForbidden".into(),
                    message: format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                    field: "metadata.finalizers".into(),
                }],
            );
            status.details.name = name;
            return Err(status);
        }
    }
    if resource_type.tracks_generation && spec_changed(resource_type, old, &commit.new) {
        let next = generation(old) + 1;
        metadata_mut(&mut commit.new).insert("generation".into(), Value::from(next));
    }
    Ok(())
}
