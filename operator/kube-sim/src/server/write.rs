//! Create, update (PUT), patch and server-side apply, all ending in one commit path.

use serde_json::Value;

use super::lifecycle::{check_schema, is_noop};
use super::prepare::{settle_identity, settle_lifecycle};
use super::{ApiServer, State, Target, crd, defaults, delete, garbage};
use crate::apply::{ApplyRequest, ManagedFields, PatchKind, Scope, apply_patch, server_side_apply};
use crate::discovery::{Origin, ResourceType};
use crate::error::Result;
use crate::schema::ListTypes;
use crate::status::ApiStatus;
use crate::store::object::{finalizers, is_deleting, meta_str, metadata_mut};

/// `?fieldValidation=`: what to do about unknown fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

/// Query parameters of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `?fieldManager=`; defaults to the client's user agent up to the first `/`.
    pub field_manager: Option<String>,
    pub user_agent: Option<String>,
    pub field_validation: FieldValidation,
    /// `?force=true` (server-side apply).
    pub force: bool,
    /// `?dryRun=All`: validate and answer as if written, store nothing.
    pub dry_run: bool,
}

impl WriteOptions {
    fn manager(&self) -> String {
        if let Some(manager) = &self.field_manager {
            return manager.clone();
        }
        let agent = self.user_agent.as_deref().unwrap_or("unknown");
        agent.split('/').next().unwrap_or(agent).to_owned()
    }
}

/// A successful write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub object: Value,
    /// `Warning` headers to send.
    pub warnings: Vec<String>,
    /// Whether the object did not exist before (201 Created).
    pub created: bool,
}

/// How a type's lists merge.
pub(super) fn list_types(resource_type: &ResourceType) -> ListTypes {
    match &resource_type.origin {
        Origin::Builtin { .. } => ListTypes::Builtin,
        Origin::Custom {
            schema: Some(schema),
            ..
        } => ListTypes::Schema(schema.clone()),
        Origin::Custom { schema: None, .. } => ListTypes::None,
    }
}

/// What [`commit`] is asked to do beyond storing.
pub(super) struct Commit<'a> {
    pub(super) target: &'a Target,
    pub(super) old: Option<Value>,
    pub(super) new: Value,
    pub(super) manager: String,
    /// Record an `Update` managedFields entry (false for apply, which did its own).
    pub(super) record_update: bool,
    pub(super) validation: FieldValidation,
    pub(super) dry_run: bool,
}

impl ApiServer {
    /// GET of one object (or its status subresource, which reads the same).
    pub fn get(&self, target: &Target) -> Result<Value> {
        let state = self.lock();
        let key = target.key()?;
        state
            .store
            .get(&target.resource_type.group_resource(), &key)
            .cloned()
            .map(|object| with_served_version(object, &target.resource_type))
            .ok_or_else(|| target.not_found().into())
    }

    /// POST to a collection.
    pub fn create(
        &self,
        target: &Target,
        body: Value,
        options: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let mut state = self.lock();
        commit(
            &mut state,
            Commit {
                target,
                old: None,
                new: body,
                manager: options.manager(),
                record_update: true,
                validation: options.field_validation,
                dry_run: options.dry_run,
            },
        )
    }

    /// PUT of one object (or its status).
    pub fn update(
        &self,
        target: &Target,
        body: Value,
        options: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let mut state = self.lock();
        let key = target.key()?;
        let old = state
            .store
            .get(&target.resource_type.group_resource(), &key)
            .cloned()
            .ok_or_else(|| target.not_found())?;
        commit(
            &mut state,
            Commit {
                target,
                old: Some(old),
                new: body,
                manager: options.manager(),
                record_update: true,
                validation: options.field_validation,
                dry_run: options.dry_run,
            },
        )
    }

    /// PATCH of one object (or its status): merge, JSON, strategic merge or apply.
    pub fn patch(
        &self,
        target: &Target,
        kind: PatchKind,
        body: Value,
        options: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let mut state = self.lock();
        let key = target.key()?;
        let resource_type = &target.resource_type;
        let old = state
            .store
            .get(&resource_type.group_resource(), &key)
            .cloned();
        let lists = list_types(resource_type);
        if kind != PatchKind::Apply {
            let old = old.ok_or_else(|| target.not_found())?;
            let patched = apply_patch(&old, &body, kind, &lists)?;
            return commit(
                &mut state,
                Commit {
                    target,
                    old: Some(old),
                    new: patched,
                    manager: options.manager(),
                    record_update: true,
                    validation: options.field_validation,
                    dry_run: options.dry_run,
                },
            );
        }
        let Some(manager) = options.field_manager.clone() else {
            return Err(ApiStatus::bad_request(
                "PATCH requests with apply patch type must specify fieldManager",
            )
            .into());
        };
        if old.is_none() && target.is_status() {
            return Err(target.not_found().into());
        }
        check_applied_identity(resource_type, &body, &key.name)?;
        let scope = if target.is_status() {
            Scope::Status
        } else if resource_type.status_subresource {
            Scope::Main
        } else {
            Scope::Whole
        };
        let live = old.clone().unwrap_or_else(|| serde_json::json!({}));
        let api_version = resource_type.api_version();
        let request = ApplyRequest {
            manager: &manager,
            force: options.force,
            api_version: &api_version,
            scope,
            lists: &lists,
        };
        let mut merged = server_side_apply(&live, &body, &request)
            .map_err(|conflicts| ApiStatus::apply_conflict(&conflicts))?;
        let metadata = metadata_mut(&mut merged);
        metadata.insert("name".into(), Value::String(key.name.clone()));
        if let Some(version) = body
            .pointer("/metadata/resourceVersion")
            .filter(|v| !v.is_null())
        {
            metadata.insert("resourceVersion".into(), version.clone());
        }
        commit(
            &mut state,
            Commit {
                target,
                old,
                new: merged,
                manager,
                record_update: false,
                validation: options.field_validation,
                dry_run: options.dry_run,
            },
        )
    }
}

/// An applied configuration must name the type and object it is sent to.
fn check_applied_identity(
    resource_type: &ResourceType,
    body: &Value,
    name: &str,
) -> Result<(), ApiStatus> {
    let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != resource_type.api_version() || kind != resource_type.kind {
        return Err(ApiStatus::bad_request(format!(
            "the apiVersion and kind of the applied object ({api_version}, {kind}) do not match the resource ({}, {})",
            resource_type.api_version(),
            resource_type.kind
        )));
    }
    let body_name = meta_str(body, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiStatus::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(())
}

/// The object as served at `resource_type`'s version (stored objects are version-free).
pub(super) fn with_served_version(mut object: Value, resource_type: &ResourceType) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert(
            "apiVersion".into(),
            Value::String(resource_type.api_version()),
        );
        map.insert("kind".into(), Value::String(resource_type.kind.clone()));
    }
    object
}

/// Validates, stores (or, for a finalised deletion, removes) and returns the object.
fn commit(state: &mut State, mut commit: Commit<'_>) -> Result<WriteOutcome> {
    let resource_type = commit.target.resource_type.clone();
    if commit.target.is_status() && !resource_type.status_subresource {
        return Err(ApiStatus::no_route(&format!("{}/status", resource_type.plural)).into());
    }
    settle_identity(state, &mut commit)?;
    settle_lifecycle(&mut commit)?;
    let warnings = check_schema(&resource_type, &mut commit.new, commit.validation)?;
    defaults::apply_builtin_defaults(&resource_type, &mut commit.new);
    let resource = resource_type.group_resource();
    let key = crate::store::ObjectKey::new(
        commit.target.storage_namespace(),
        meta_str(&commit.new, "name"),
    );
    if commit.old.is_none() && state.store.get(&resource, &key).is_some() {
        return Err(ApiStatus::already_exists(&resource.qualified(), &key.name)
            .with_details(&resource_type.group, &resource_type.plural, &key.name)
            .into());
    }
    if commit.record_update {
        let body_managed = ManagedFields::of(&commit.new);
        let mut managed = match (&commit.old, body_managed.entries.is_empty()) {
            (Some(old), true) => ManagedFields::of(old),
            _ => body_managed,
        };
        let subresource = if commit.target.is_status() {
            "status"
        } else {
            ""
        };
        managed.record_update(
            &commit.manager,
            subresource,
            &resource_type.api_version(),
            commit.old.as_ref(),
            &commit.new,
            &list_types(&resource_type),
        );
        managed.write_into(&mut commit.new);
    }
    if crd::is_crd(&resource_type) {
        crd::settle_status(&mut commit.new);
    }
    let created = commit.old.is_none();
    if let Some(old) = &commit.old
        && is_noop(old, &commit.new)
    {
        return Ok(WriteOutcome {
            object: old.clone(),
            warnings,
            created,
        });
    }
    if commit.dry_run {
        return Ok(WriteOutcome {
            object: commit.new,
            warnings,
            created,
        });
    }
    if should_delete_during_update(commit.old.as_ref(), &commit.new) {
        let removed = delete::remove_object(state, &resource_type, &key).unwrap_or(commit.new);
        return Ok(WriteOutcome {
            object: removed,
            warnings,
            created,
        });
    }
    let stored = state.store.put(&resource, key.clone(), commit.new);
    if crd::is_crd(&resource_type) {
        crd::register(&mut state.registry, &stored);
    }
    // A write that leaves the object with only absent owners makes it garbage.
    garbage::collect_if_orphaned(state, &resource_type, &key);
    Ok(WriteOutcome {
        object: stored,
        warnings,
        created,
    })
}

/// As kube-apiserver decides it: a write that leaves an object marked for
/// deletion with no finalizers removes it, unless the object is in a graceful
/// deletion (a Pod whose kubelet still stops its containers, with
/// `deletionGracePeriodSeconds` above zero): that one stays until the
/// kubelet's own grace-0 delete, so its status writes meanwhile are kept.
fn should_delete_during_update(old: Option<&Value>, new: &Value) -> bool {
    if !is_deleting(new) || !finalizers(new).is_empty() {
        return false;
    }
    let grace = old
        .and_then(|old| old.pointer("/metadata/deletionGracePeriodSeconds"))
        .and_then(Value::as_i64);
    grace.is_none_or(|seconds| seconds == 0)
}
