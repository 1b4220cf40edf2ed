//! Server-side apply and patches.
//!
//! Apply (`application/apply-patch+yaml`) by manager M with configuration A on live
//! object L, where P is what M owned from its previous apply:
//! 1. conflicts: every leaf of A that another manager owns and whose value in L differs
//!    from A's is a conflict; without `force` the apply fails with 409 listing them, with
//!    `force` the other managers lose those fields;
//! 2. the result is L merged with A (map lists by key, sets by value, the rest replaced);
//! 3. every path in P but not in A that no other manager owns is removed;
//! 4. M's Apply entry becomes exactly A's field set.
//!
//! Other writes (create, update, patches) give their manager the fields they changed
//! (`Update` entries), see [`ManagedFields::record_update`].

pub mod fieldset;
pub mod managed;
pub mod merge;
mod patch;

#[cfg(test)]
mod apply_test;
#[cfg(test)]
mod fieldset_test;

use serde_json::Value;

pub use managed::{ManagedFields, Operation};
pub use patch::{PatchKind, apply_patch};

use self::fieldset::{FieldPath, FieldSet, PathElement, display_path, remove_at, value_at};
use crate::schema::ListTypes;

/// Which part of an object an apply writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole object (no status subresource).
    Whole,
    /// The main resource of a type with a status subresource: everything but status.
    Main,
    /// The status subresource.
    Status,
}

impl Scope {
    fn allows(self, path: &FieldPath) -> bool {
        let is_status = path.first() == Some(&PathElement::Field("status".into()));
        match self {
            Self::Whole => true,
            Self::Main => !is_status,
            Self::Status => is_status,
        }
    }

    /// The `subresource` of managedFields entries.
    pub fn subresource(self) -> &'static str {
        match self {
            Self::Status => "status",
            _ => "",
        }
    }
}

/// One apply request.
#[derive(Debug)]
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub api_version: &'a str,
    pub scope: Scope,
    pub lists: &'a ListTypes,
}

/// Fields another manager owns that the apply would change: (manager, path).
pub type Conflicts = Vec<(String, String)>;

/// Applies `applied` onto `live` (an empty object when creating); returns the new
/// object with its managedFields, or the conflicts.
pub fn server_side_apply(
    live: &Value,
    applied: &Value,
    request: &ApplyRequest<'_>,
) -> Result<Value, Conflicts> {
    let lists = request.lists;
    let mut managed = ManagedFields::of(live);
    let mut applied_set = FieldSet::of_object(applied, lists);
    applied_set.retain(|p| request.scope.allows(p));
    let subresource = request.scope.subresource();

    let mut conflicts = Vec::new();
    let mut contested: Vec<(usize, FieldPath)> = Vec::new();
    for (index, entry) in managed.entries.iter().enumerate() {
        if entry.manager == request.manager {
            continue;
        }
        for path in applied_set.iter() {
            let is_leaf = matches!(path.last(), Some(PathElement::Field(_)));
            if is_leaf
                && entry.fields.contains(path)
                && value_at(live, path, lists) != value_at(applied, path, lists)
            {
                conflicts.push((entry.manager.clone(), display_path(path)));
                contested.push((index, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !request.force {
        return Err(conflicts);
    }
    for (index, path) in contested {
        managed.entries[index].fields.remove(&path);
    }

    let applied_part = restrict(applied, request.scope);
    let mut merged = merge::merge(live, &applied_part, &mut Vec::new(), lists, false);

    let previous = managed
        .entries
        .iter()
        .find(|e| {
            e.manager == request.manager
                && e.operation == Operation::Apply
                && e.subresource == subresource
        })
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut dropped: Vec<&FieldPath> = previous
        .iter()
        .filter(|p| !applied_set.contains(p))
        .collect();
    // Whole list items first, shallowest first: an item goes with all its
    // fields, as in kube-apiserver (removing its key field first would leave
    // the rest of the item unreachable, and the item itself would stay).
    // Then the other paths, deepest first.
    dropped.sort_by_key(|p| {
        let depth = isize::try_from(p.len()).unwrap_or(isize::MAX);
        match p.last() {
            Some(PathElement::Key(_) | PathElement::Value(_)) => (0, depth),
            _ => (1, -depth),
        }
    });
    for path in dropped {
        let owned_elsewhere = managed
            .entries
            .iter()
            .filter(|e| {
                !(e.manager == request.manager
                    && e.operation == Operation::Apply
                    && e.subresource == subresource)
            })
            .any(|e| e.fields.contains_prefix(path));
        if !owned_elsewhere && !applied_set.contains_prefix(path) {
            remove_at(&mut merged, path, lists);
        }
    }

    let entry = managed.entry_mut(
        request.manager,
        Operation::Apply,
        subresource,
        request.api_version,
    );
    entry.fields = applied_set;
    managed.entries.retain(|e| !e.fields.is_empty());
    managed.write_into(&mut merged);
    Ok(merged)
}

/// The part of an applied configuration a scope writes (status writes ignore metadata).
fn restrict(applied: &Value, scope: Scope) -> Value {
    let mut part = applied.clone();
    if let Some(map) = part.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "labels" | "annotations" | "finalizers" | "ownerReferences"
                )
            });
        }
        match scope {
            Scope::Whole => {}
            Scope::Main => {
                map.remove("status");
            }
            Scope::Status => map.retain(|k, _| k == "status"),
        }
    }
    part
}
