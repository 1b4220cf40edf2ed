//! Sets of field paths, as server-side apply tracks ownership, and their `FieldsV1`
//! encoding (`{"f:spec":{"f:replicas":{}}}`, `"k:{\"name\":\"c\"}"`, `"v:\"x\""`).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::schema::{ListType, ListTypes};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// An object field.
    Field(String),
    /// A map-list item, by its key fields as canonical JSON.
    Key(String),
    /// A set-list item, by its value as canonical JSON.
    Value(String),
}

/// A path from the object's root.
pub type FieldPath = Vec<PathElement>;

/// Owned paths: leaves, and list items (owning an item means owning its existence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    paths: BTreeSet<FieldPath>,
}

/// `serde_json` with sorted object keys is canonical enough for keys and set values.
fn canonical(value: &Value) -> String {
    value.to_string()
}

/// The key of a map-list item: its key fields, a missing one as its declared
/// default (Kubernetes matches by the defaulted key, so an applied port
/// without `protocol` is the stored `TCP` port), else as null.
pub fn item_key(item: &Value, key_fields: &[String]) -> String {
    let mut key = Map::new();
    for field in key_fields {
        let value = item
            .get(field)
            .cloned()
            .or_else(|| key_field_default(field))
            .unwrap_or(Value::Null);
        key.insert(field.clone(), value);
    }
    canonical(&Value::Object(key))
}

/// The schema default of a key field of the built-in map lists we serve:
/// `protocol` of Service and container ports is `TCP` (the only key field
/// with a default in the types kube-sim knows).
fn key_field_default(field: &str) -> Option<Value> {
    (field == "protocol").then(|| Value::String("TCP".to_owned()))
}

fn field_names(path: &[PathElement]) -> Vec<&str> {
    path.iter()
        .filter_map(|element| match element {
            PathElement::Field(name) => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

/// Metadata fields that are ownership-tracked; the rest of `metadata` is the server's.
const TRACKED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

impl FieldSet {
    /// Whether no path is owned.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Whether exactly this path is owned.
    pub fn contains(&self, path: &FieldPath) -> bool {
        self.paths.contains(path)
    }

    /// Whether this path or anything below it is owned.
    pub fn contains_prefix(&self, prefix: &FieldPath) -> bool {
        self.paths
            .range(prefix.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(prefix))
    }

    /// Owns a path.
    pub fn insert(&mut self, path: FieldPath) {
        self.paths.insert(path);
    }

    /// Gives up a path.
    pub fn remove(&mut self, path: &FieldPath) -> bool {
        self.paths.remove(path)
    }

    /// Owned paths in order.
    pub fn iter(&self) -> impl Iterator<Item = &FieldPath> {
        self.paths.iter()
    }

    /// Keeps only the paths `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&FieldPath) -> bool) {
        self.paths.retain(|p| keep(p));
    }

    /// Every owned path of an object (what applying it, or writing it whole, sets).
    pub fn of_object(object: &Value, lists: &ListTypes) -> Self {
        let mut set = Self::default();
        let Some(map) = object.as_object() else {
            return set;
        };
        for (name, value) in map {
            match name.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => {
                    for tracked in TRACKED_METADATA {
                        if let Some(field) = value.get(tracked) {
                            let path = vec![
                                PathElement::Field("metadata".into()),
                                PathElement::Field(tracked.into()),
                            ];
                            set.collect(field, path, lists);
                        }
                    }
                }
                _ => set.collect(value, vec![PathElement::Field(name.clone())], lists),
            }
        }
        set
    }

    fn collect(&mut self, value: &Value, path: FieldPath, lists: &ListTypes) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (name, child) in map {
                    let mut child_path = path.clone();
                    child_path.push(PathElement::Field(name.clone()));
                    self.collect(child, child_path, lists);
                }
            }
            Value::Array(items) => match lists.at(&field_names(&path)) {
                ListType::Map(key_fields) => {
                    for item in items {
                        let mut item_path = path.clone();
                        item_path.push(PathElement::Key(item_key(item, &key_fields)));
                        self.paths.insert(item_path.clone());
                        if let Some(fields) = item.as_object() {
                            for (name, child) in fields {
                                let mut child_path = item_path.clone();
                                child_path.push(PathElement::Field(name.clone()));
                                self.collect(child, child_path, lists);
                            }
                        }
                    }
                }
                ListType::Set => {
                    for item in items {
                        let mut item_path = path.clone();
                        item_path.push(PathElement::Value(canonical(item)));
                        self.paths.insert(item_path);
                    }
                }
                ListType::Atomic => {
                    self.paths.insert(path);
                }
            },
            _ => {
                self.paths.insert(path);
            }
        }
    }

    /// The `FieldsV1` JSON.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.paths {
            let mut node = &mut root;
            for element in path {
                let name = match element {
                    PathElement::Field(f) => format!("f:{f}"),
                    PathElement::Key(k) => format!("k:{k}"),
                    PathElement::Value(v) => format!("v:{v}"),
                };
                node = node
                    .entry(name)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("fieldsV1 nodes are objects");
            }
            if matches!(
                path.last(),
                Some(PathElement::Key(_) | PathElement::Value(_))
            ) {
                node.insert(".".into(), Value::Object(Map::new()));
            }
        }
        Value::Object(root)
    }

    /// Reads `FieldsV1` JSON; unknown entries are skipped.
    pub fn from_fields_v1(fields: &Value) -> Self {
        let mut set = Self::default();
        set.read_node(fields, Vec::new());
        set
    }

    fn read_node(&mut self, node: &Value, path: FieldPath) {
        let Some(map) = node.as_object() else {
            return;
        };
        if !path.is_empty() && (map.is_empty() || map.contains_key(".")) {
            self.paths.insert(path.clone());
        }
        for (name, child) in map {
            let element = if let Some(f) = name.strip_prefix("f:") {
                PathElement::Field(f.to_owned())
            } else if let Some(k) = name.strip_prefix("k:") {
                PathElement::Key(k.to_owned())
            } else if let Some(v) = name.strip_prefix("v:") {
                PathElement::Value(v.to_owned())
            } else {
                continue;
            };
            let mut child_path = path.clone();
            child_path.push(element);
            self.read_node(child, child_path);
        }
    }
}

/// Renders a path for conflict messages (`.spec.replicas`, `.spec.containers[name="c"]`).
pub fn display_path(path: &FieldPath) -> String {
    let mut text = String::new();
    for element in path {
        match element {
            PathElement::Field(f) => {
                text.push('.');
                text.push_str(f);
            }
            PathElement::Key(k) => {
                let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
                let parts: Vec<String> = key
                    .as_object()
                    .map(|m| m.iter().map(|(f, v)| format!("{f}={v}")).collect())
                    .unwrap_or_default();
                text.push_str(&format!("[{}]", parts.join(",")));
            }
            PathElement::Value(v) => text.push_str(&format!("[{v}]")),
        }
    }
    text
}

/// The value at a path, if the object has it.
pub fn value_at<'a>(object: &'a Value, path: &FieldPath, lists: &ListTypes) -> Option<&'a Value> {
    let mut current = object;
    for (index, element) in path.iter().enumerate() {
        current = match element {
            PathElement::Field(name) => current.get(name)?,
            PathElement::Key(key) => {
                let ListType::Map(key_fields) = lists.at(&field_names(&path[..index])) else {
                    return None;
                };
                current
                    .as_array()?
                    .iter()
                    .find(|item| item_key(item, &key_fields) == *key)?
            }
            PathElement::Value(value) => current
                .as_array()?
                .iter()
                .find(|item| canonical(item) == *value)?,
        };
    }
    Some(current)
}

/// Removes the value at a path; a missing path is left alone.
pub fn remove_at(object: &mut Value, path: &FieldPath, lists: &ListTypes) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut parent = object;
    for (index, element) in parent_path.iter().enumerate() {
        let next = match element {
            PathElement::Field(name) => parent.get_mut(name),
            PathElement::Key(key) => {
                let ListType::Map(key_fields) = lists.at(&field_names(&parent_path[..index]))
                else {
                    return;
                };
                parent
                    .as_array_mut()
                    .and_then(|items| items.iter_mut().find(|i| item_key(i, &key_fields) == *key))
            }
            PathElement::Value(_) => None,
        };
        match next {
            Some(next) => parent = next,
            None => return,
        }
    }
    match last {
        PathElement::Field(name) => {
            if let Some(map) = parent.as_object_mut() {
                map.remove(name);
            }
        }
        PathElement::Key(key) => {
            let ListType::Map(key_fields) = lists.at(&field_names(parent_path)) else {
                return;
            };
            if let Some(items) = parent.as_array_mut() {
                items.retain(|i| item_key(i, &key_fields) != *key);
            }
        }
        PathElement::Value(value) => {
            if let Some(items) = parent.as_array_mut() {
                items.retain(|i| canonical(i) != *value);
            }
        }
    }
}
