//! Defaulting, pruning and validation of a custom resource against the CRD's
//! `openAPIV3Schema`, in the order the API server runs them: prune unknown fields
//! (and nulls of non-nullable fields), apply defaults, then validate.

use serde_json::{Map, Value};

use crate::status::Cause;

/// What applying a schema found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SchemaOutcome {
    /// Validation failures (the request fails with 422).
    pub causes: Vec<Cause>,
    /// Paths of unknown fields that were pruned (`fieldValidation` decides what that means).
    pub unknown_fields: Vec<String>,
}

/// Prunes, defaults and validates `object` (whole custom resource) in place.
/// `metadata`, `apiVersion` and `kind` are the server's and are left alone.
pub fn apply_schema(object: &mut Value, schema: &Value) -> SchemaOutcome {
    let mut outcome = SchemaOutcome::default();
    let Some(map) = object.as_object_mut() else {
        outcome.causes.push(cause(
            "FieldValueInvalid",
            "",
            "Invalid value: the object must be a JSON object",
        ));
        return outcome;
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    let preserve = preserves_unknown(schema);
    let names: Vec<String> = map.keys().cloned().collect();
    for name in names {
        if matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
            continue;
        }
        match properties.and_then(|p| p.get(&name)) {
            Some(child_schema) => {
                if let Some(child) = map.get_mut(&name) {
                    prune_and_default(child, child_schema, &name, &mut outcome.unknown_fields);
                }
            }
            None if !preserve => {
                map.remove(&name);
                outcome.unknown_fields.push(name);
            }
            None => {}
        }
    }
    default_properties(map, schema, "", &mut outcome.unknown_fields);
    for (name, child) in map.iter() {
        if matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
            continue;
        }
        if let Some(child_schema) = properties.and_then(|p| p.get(name)) {
            validate(child, child_schema, name, &mut outcome.causes);
        }
    }
    required(map, schema, "", &mut outcome.causes);
    outcome
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
        || schema
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            == Some(true)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn cause(reason: &str, field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason: reason.to_owned(),
        message: message.into(),
        field: field.to_owned(),
    }
}

/// Inserts missing properties that have a `default`.
fn default_properties(
    map: &mut Map<String, Value>,
    schema: &Value,
    path: &str,
    unknown: &mut Vec<String>,
) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        if map.contains_key(name) {
            continue;
        }
        if let Some(default) = property.get("default") {
            let mut value = default.clone();
            prune_and_default(&mut value, property, &join(path, name), unknown);
            map.insert(name.clone(), value);
        }
    }
}

fn prune_and_default(value: &mut Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if schema
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                == Some(true)
            {
                return;
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = preserves_unknown(schema);
            let names: Vec<String> = map.keys().cloned().collect();
            for name in names {
                let child_schema = properties.and_then(|p| p.get(&name)).or(additional);
                let child_path = join(path, &name);
                match child_schema {
                    Some(child_schema) => {
                        let nullable =
                            child_schema.get("nullable").and_then(Value::as_bool) == Some(true);
                        if map.get(&name).is_some_and(Value::is_null) && !nullable {
                            map.remove(&name);
                            continue;
                        }
                        if let Some(child) = map.get_mut(&name) {
                            prune_and_default(child, child_schema, &child_path, unknown);
                        }
                    }
                    None if !preserve => {
                        map.remove(&name);
                        unknown.push(child_path);
                    }
                    None => {}
                }
            }
            default_properties(map, schema, path, unknown);
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    prune_and_default(item, item_schema, &format!("{path}[{index}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

fn type_matches(value: &Value, schema: &Value) -> bool {
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    if value.is_null() {
        return schema.get("nullable").and_then(Value::as_bool) == Some(true);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    }
}

fn required(map: &Map<String, Value>, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = name.as_str()
            && !map.contains_key(name)
        {
            causes.push(cause(
                "FieldValueRequired",
                &join(path, name),
                "Required value",
            ));
        }
    }
}

fn validate(value: &Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if !type_matches(value, schema) {
        let expected = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("int-or-string");
        causes.push(cause(
            "FieldValueTypeInvalid",
            path,
            format!(
                "Invalid value: \"{}\": {path} in body must be of type {expected}: \"{}\"",
                json_type(value),
                json_type(value)
            ),
        ));
        return;
    }
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    let count = |key: &str| schema.get(key).and_then(Value::as_u64);
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        causes.push(cause(
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
    if let Some(actual) = value.as_f64() {
        if let Some(maximum) = number("maximum")
            && actual > maximum
        {
            causes.push(cause("FieldValueInvalid", path, format!("Invalid value: {value}: {path} in body should be less than or equal to {maximum}")));
        }
        if let Some(minimum) = number("minimum")
            && actual < minimum
        {
            causes.push(cause("FieldValueInvalid", path, format!("Invalid value: {value}: {path} in body should be greater than or equal to {minimum}")));
        }
    }
    match value {
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(max) = count("maxLength")
                && length > max
            {
                causes.push(cause(
                    "FieldValueTooLong",
                    path,
                    format!("Too long: may not be longer than {max}"),
                ));
            }
            if let Some(min) = count("minLength")
                && length < min
            {
                causes.push(cause(
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {value}: {path} in body should be at least {min} chars long"
                    ),
                ));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                && let Ok(regex) = regex::Regex::new(pattern)
                && !regex.is_match(text)
            {
                causes.push(cause(
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: {value}: {path} in body should match '{pattern}'"),
                ));
            }
        }
        Value::Array(items) => {
            if let Some(max) = count("maxItems")
                && items.len() as u64 > max
            {
                causes.push(cause(
                    "FieldValueTooMany",
                    path,
                    format!("Too many: {}: must have at most {max} items", items.len()),
                ));
            }
            if let Some(min) = count("minItems")
                && (items.len() as u64) < min
            {
                causes.push(cause(
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {}: {path} in body should have at least {min} items",
                        items.len()
                    ),
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    validate(item, item_schema, &format!("{path}[{index}]"), causes);
                }
            }
        }
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, child) in map {
                if let Some(child_schema) = properties.and_then(|p| p.get(name)).or(additional) {
                    validate(child, child_schema, &join(path, name), causes);
                }
            }
            required(map, schema, path, causes);
        }
        _ => {}
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["version"], "properties": {
                "version": {"type": "string", "minLength": 1},
                "brokers": {"type": "integer", "minimum": 1, "maximum": 64, "default": 3},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "config": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "integer"}}}
        }})
    }

    #[test]
    fn missing_fields_with_a_default_get_it_and_unknown_fields_are_pruned() {
        let mut object = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"version": "1", "bogus": true, "config": {"k": "v"}, "extra": {"free": 1}}, "top": 1});
        let outcome = apply_schema(&mut object, &schema());
        assert!(outcome.causes.is_empty(), "{:?}", outcome.causes);
        assert_eq!(object["spec"]["brokers"], 3);
        assert!(object["spec"].get("bogus").is_none() && object.get("top").is_none());
        assert_eq!(object["spec"]["config"]["k"], "v");
        assert_eq!(object["spec"]["extra"]["free"], 1);
        assert_eq!(outcome.unknown_fields, ["spec.bogus", "top"]);
    }

    #[test]
    fn out_of_range_wrong_type_enum_and_required_violations_are_reported_per_field() {
        let mut object = json!({"spec": {"brokers": 100, "mode": "c"}, "status": {"ready": "x"}});
        let outcome = apply_schema(&mut object, &schema());
        let fields: Vec<&str> = outcome.causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["spec.brokers", "spec.mode", "spec.version", "status.ready"]
        );
        assert!(
            outcome.causes[0]
                .message
                .contains("should be less than or equal to 64")
        );
    }
}
