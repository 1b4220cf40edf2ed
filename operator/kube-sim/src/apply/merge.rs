//! Merging one object into another with list semantics: map lists by key, sets as
//! unions, everything else replaced (server-side apply and strategic merge patch).

use serde_json::Value;

use super::fieldset::item_key;
use crate::schema::{ListType, ListTypes};

/// Merges `patch` into `base` at `path` (field names from the root).
/// `null` in the patch deletes the field when `null_deletes` (strategic merge patch).
pub fn merge(
    base: &Value,
    patch: &Value,
    path: &mut Vec<String>,
    lists: &ListTypes,
    null_deletes: bool,
) -> Value {
    match (base, patch) {
        (Value::Object(base_map), Value::Object(patch_map)) => {
            let mut merged = base_map.clone();
            for (name, value) in patch_map {
                if value.is_null() && null_deletes {
                    merged.remove(name);
                    continue;
                }
                path.push(name.clone());
                let next = match base_map.get(name) {
                    Some(existing) => merge(existing, value, path, lists, null_deletes),
                    None => value.clone(),
                };
                path.pop();
                merged.insert(name.clone(), next);
            }
            Value::Object(merged)
        }
        (Value::Array(base_items), Value::Array(patch_items)) => {
            let names: Vec<&str> = path.iter().map(String::as_str).collect();
            match lists.at(&names) {
                ListType::Map(keys) => {
                    let mut merged = base_items.clone();
                    for item in patch_items {
                        let key = item_key(item, &keys);
                        match merged.iter_mut().find(|m| item_key(m, &keys) == key) {
                            Some(existing) => {
                                *existing = merge(existing, item, path, lists, null_deletes)
                            }
                            None => merged.push(item.clone()),
                        }
                    }
                    Value::Array(merged)
                }
                ListType::Set => {
                    let mut merged = base_items.clone();
                    for item in patch_items {
                        if !merged.contains(item) {
                            merged.push(item.clone());
                        }
                    }
                    Value::Array(merged)
                }
                ListType::Atomic => patch.clone(),
            }
        }
        _ => patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containers_merge_by_name_and_atomic_lists_are_replaced() {
        let base = json!({"spec": {"containers": [
            {"name": "a", "image": "1", "args": ["x"]},
            {"name": "b", "image": "1"}
        ]}});
        let patch = json!({"spec": {"containers": [
            {"name": "b", "image": "2"},
            {"name": "a", "args": ["y"]},
            {"name": "c", "image": "3"}
        ]}});
        let merged = merge(&base, &patch, &mut Vec::new(), &ListTypes::Builtin, false);
        assert_eq!(
            merged,
            json!({"spec": {"containers": [
                {"name": "a", "image": "1", "args": ["y"]},
                {"name": "b", "image": "2"},
                {"name": "c", "image": "3"}
            ]}})
        );
    }

    #[test]
    fn strategic_merge_null_deletes_a_field() {
        let base = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let patch = json!({"metadata": {"labels": {"a": null}}});
        let merged = merge(&base, &patch, &mut Vec::new(), &ListTypes::Builtin, true);
        assert_eq!(merged, json!({"metadata": {"labels": {"b": "2"}}}));
    }
}
