//! `metadata.managedFields`: which manager owns which fields, by operation.

use serde_json::{Value, json};

use super::fieldset::{FieldPath, FieldSet, PathElement, value_at};
use crate::schema::ListTypes;
use crate::store::object::{metadata_mut, now_timestamp};

/// How a manager last wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    /// "" for the main resource, or `status`.
    pub subresource: String,
    pub fields: FieldSet,
}

/// All entries of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedFields {
    pub entries: Vec<ManagedEntry>,
}

impl ManagedFields {
    /// Reads `metadata.managedFields` (missing or malformed entries read as none).
    pub fn of(object: &Value) -> Self {
        let entries = object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| {
                        let text = |f: &str| {
                            entry
                                .get(f)
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned()
                        };
                        let operation = match entry.get("operation")?.as_str()? {
                            "Apply" => Operation::Apply,
                            _ => Operation::Update,
                        };
                        Some(ManagedEntry {
                            manager: text("manager"),
                            operation,
                            api_version: text("apiVersion"),
                            time: text("time"),
                            subresource: text("subresource"),
                            fields: FieldSet::from_fields_v1(
                                entry.get("fieldsV1").unwrap_or(&Value::Null),
                            ),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { entries }
    }

    /// Writes the entries into `metadata.managedFields` (removed when empty).
    pub fn write_into(&self, object: &mut Value) {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(|e| {
                let mut entry = json!({
                    "manager": e.manager,
                    "operation": match e.operation { Operation::Apply => "Apply", Operation::Update => "Update" },
                    "apiVersion": e.api_version,
                    "time": e.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": e.fields.to_fields_v1(),
                });
                if !e.subresource.is_empty() {
                    entry["subresource"] = json!(e.subresource);
                }
                entry
            })
            .collect();
        let metadata = metadata_mut(object);
        if entries.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(entries));
        }
    }

    /// The entry of (manager, operation, subresource), created if missing.
    pub fn entry_mut(
        &mut self,
        manager: &str,
        operation: Operation,
        subresource: &str,
        api_version: &str,
    ) -> &mut ManagedEntry {
        let position = self.entries.iter().position(|e| {
            e.manager == manager && e.operation == operation && e.subresource == subresource
        });
        let index = match position {
            Some(index) => index,
            None => {
                self.entries.push(ManagedEntry {
                    manager: manager.to_owned(),
                    operation,
                    api_version: api_version.to_owned(),
                    time: now_timestamp(),
                    subresource: subresource.to_owned(),
                    fields: FieldSet::default(),
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        entry.time = now_timestamp();
        entry.api_version = api_version.to_owned();
        entry
    }

    /// Records a non-apply write by `manager`: it takes the fields whose values it
    /// changed; fields the object no longer has are owned by nobody.
    pub fn record_update(
        &mut self,
        manager: &str,
        subresource: &str,
        api_version: &str,
        old: Option<&Value>,
        new: &Value,
        lists: &ListTypes,
    ) {
        let present = FieldSet::of_object(new, lists);
        let changed: Vec<FieldPath> = present
            .iter()
            .filter(|path| {
                let after = value_at(new, path, lists);
                let before = old.and_then(|o| value_at(o, path, lists));
                match path.last() {
                    Some(PathElement::Field(_)) => before != after,
                    _ => before.is_none(),
                }
            })
            .cloned()
            .collect();
        for entry in &mut self.entries {
            entry.fields.retain(|p| present.contains(p));
            for path in &changed {
                entry.fields.remove(path);
            }
        }
        if !changed.is_empty() {
            let entry = self.entry_mut(manager, Operation::Update, subresource, api_version);
            for path in changed {
                entry.fields.insert(path);
            }
        }
        self.entries.retain(|e| !e.fields.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_takes_only_the_fields_it_changed_from_other_managers() {
        let lists = ListTypes::Builtin;
        let old = json!({"metadata": {"name": "a"}, "data": {"x": "1", "y": "1"}});
        let mut managed = ManagedFields::default();
        managed.record_update("creator", "", "v1", None, &old, &lists);
        let new = json!({"metadata": {"name": "a"}, "data": {"x": "2", "y": "1"}});
        managed.record_update("editor", "", "v1", Some(&old), &new, &lists);
        let mut object = new.clone();
        managed.write_into(&mut object);
        let entries = object["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["manager"], "creator");
        assert_eq!(entries[0]["fieldsV1"], json!({"f:data": {"f:y": {}}}));
        assert_eq!(entries[1]["manager"], "editor");
        assert_eq!(entries[1]["operation"], "Update");
        assert_eq!(entries[1]["fieldsV1"], json!({"f:data": {"f:x": {}}}));
        assert_eq!(ManagedFields::of(&object), managed);
    }
}
