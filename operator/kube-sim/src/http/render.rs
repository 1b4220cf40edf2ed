//! Representations a client may ask for with `Accept`: the object, its
//! `PartialObjectMetadata`, or a `Table` (kubectl's server-side printing).

use serde_json::{Value, json};

use crate::discovery::{Origin, ResourceType};
use crate::store::object::json_path;

/// What the `Accept` header asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Representation {
    Full,
    Metadata,
    Table { include_object: IncludeObject },
}

/// `?includeObject=` of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl Representation {
    /// Reads `Accept` (the first alternative we can serve wins; JSON is the fallback).
    pub(crate) fn from_accept(accept: &str, include_object: Option<&str>) -> Self {
        for alternative in accept.split(',') {
            let parameters: Vec<&str> = alternative.split(';').map(str::trim).collect();
            if parameters.first().is_none_or(|t| *t != "application/json") {
                continue;
            }
            if parameters.contains(&"as=Table") {
                let include_object = match include_object {
                    Some("None") => IncludeObject::None,
                    Some("Object") => IncludeObject::Object,
                    _ => IncludeObject::Metadata,
                };
                return Self::Table { include_object };
            }
            if parameters
                .iter()
                .any(|p| p.starts_with("as=PartialObjectMetadata"))
            {
                return Self::Metadata;
            }
            return Self::Full;
        }
        Self::Full
    }
}

/// `PartialObjectMetadata` of an object.
pub(crate) fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A `PartialObjectMetadataList` from a list.
pub(crate) fn partial_metadata_list(list: &Value) -> Value {
    let items: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(partial_metadata)
        .collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": items,
    })
}

/// A duration as kubectl prints ages (`45s`, `3m12s`, `5h`, `12d`).
pub(crate) fn human_age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn age_of(timestamp: &str) -> Option<String> {
    let then = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    Some(human_age(
        (chrono::Utc::now() - then.with_timezone(&chrono::Utc)).num_seconds(),
    ))
}

/// (name, type, format, description, priority, jsonPath) of each column.
fn columns(resource_type: &ResourceType) -> Vec<(String, String, String, String, i64, String)> {
    let name = (
        "Name".to_owned(),
        "string".to_owned(),
        "name".to_owned(),
        "Name must be unique within a namespace.".to_owned(),
        0,
        ".metadata.name".to_owned(),
    );
    let age = (
        "Age".to_owned(),
        "date".to_owned(),
        String::new(),
        "CreationTimestamp is a timestamp representing the server time when this object was created.".to_owned(),
        0,
        ".metadata.creationTimestamp".to_owned(),
    );
    match &resource_type.origin {
        Origin::Custom {
            printer_columns, ..
        } if !printer_columns.is_empty() => {
            let mut all = vec![name];
            all.extend(printer_columns.iter().map(|c| {
                (
                    c.name.clone(),
                    c.column_type.clone(),
                    c.format.clone(),
                    c.description.clone(),
                    i64::from(c.priority),
                    c.json_path.clone(),
                )
            }));
            all
        }
        _ => {
            let mut all = vec![name];
            all.extend(super::columns::builtin_columns(resource_type).unwrap_or_default());
            all.push(age);
            all
        }
    }
}

fn cell(object: &Value, column_type: &str, path: &str) -> Value {
    if let Some(name) = path.strip_prefix('=') {
        return super::columns::computed(name, object);
    }
    let Some(value) = json_path(object, path) else {
        return Value::Null;
    };
    match (column_type, value) {
        ("date", Value::String(timestamp)) => age_of(timestamp).map_or(Value::Null, Value::String),
        ("string", Value::String(_))
        | ("integer" | "number", Value::Number(_))
        | ("boolean", Value::Bool(_)) => value.clone(),
        ("string", other) => Value::String(other.to_string()),
        _ => value.clone(),
    }
}

/// A `Table` of objects.
pub(crate) fn table(
    resource_type: &ResourceType,
    objects: &[Value],
    list_metadata: Value,
    include: IncludeObject,
) -> Value {
    let columns = columns(resource_type);
    let definitions: Vec<Value> = columns
        .iter()
        .map(|(name, column_type, format, description, priority, _)| {
            json!({"name": name, "type": column_type, "format": format, "description": description, "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let cells: Vec<Value> = columns
                .iter()
                .map(|(_, column_type, _, _, _, path)| cell(object, column_type, path))
                .collect();
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(object),
                IncludeObject::Object => row["object"] = object.clone(),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{Origin, PrinterColumn};

    #[test]
    fn accept_headers_select_table_metadata_or_the_object() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            Representation::from_accept(table, None),
            Representation::Table {
                include_object: IncludeObject::Metadata
            }
        );
        assert_eq!(
            Representation::from_accept(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
                None
            ),
            Representation::Metadata
        );
        assert_eq!(
            Representation::from_accept("application/json", None),
            Representation::Full
        );
        assert_eq!(
            Representation::from_accept("*/*", None),
            Representation::Full
        );
    }

    #[test]
    fn a_crd_table_has_its_printer_columns_after_the_name() {
        let registry = crate::discovery::Registry::default();
        let mut resource_type = (*registry.get("", "v1", "configmaps").unwrap()).clone();
        resource_type.origin = Origin::Custom {
            schema: None,
            printer_columns: vec![PrinterColumn {
                name: "Brokers".into(),
                column_type: "integer".into(),
                format: String::new(),
                description: String::new(),
                priority: 0,
                json_path: ".spec.brokers".into(),
            }],
            crd_name: "x".into(),
        };
        let object = json!({"metadata": {"name": "a"}, "spec": {"brokers": 3}});
        let table = table(
            &resource_type,
            &[object],
            json!({}),
            IncludeObject::Metadata,
        );
        assert_eq!(table["columnDefinitions"][1]["name"], "Brokers");
        assert_eq!(table["rows"][0]["cells"], json!(["a", 3]));
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn ages_read_like_kubectls() {
        assert_eq!(human_age(45), "45s");
        assert_eq!(human_age(200), "3m20s");
        assert_eq!(human_age(3 * 86400), "3d0h");
    }
}
