//! How a list merges: atomically, as a set, or as a map keyed by some of its items'
//! fields (`x-kubernetes-list-type`), for server-side apply and strategic merge patch.

use serde_json::Value;

/// The merge strategy of one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole (the default).
    Atomic,
    /// Scalars merged as a set.
    Set,
    /// Objects merged by these key fields.
    Map(Vec<String>),
}

/// Answers "how does the list at this path merge" for one resource type.
#[derive(Debug, Clone)]
pub enum ListTypes {
    /// A built-in type: the list keys Kubernetes declares for the fields we serve.
    Builtin,
    /// A custom resource: read from the CRD's `openAPIV3Schema`.
    Schema(Value),
    /// A custom resource without a schema: every list atomic.
    None,
}

fn keys(names: &[&str]) -> ListType {
    ListType::Map(names.iter().map(|n| (*n).to_owned()).collect())
}

/// Metadata lists, the same for every type.
fn metadata_list(path: &[&str]) -> Option<ListType> {
    match path {
        ["metadata", "finalizers"] => Some(ListType::Set),
        ["metadata", "ownerReferences"] => Some(keys(&["uid"])),
        _ => None,
    }
}

/// The patch-merge keys of the built-in lists we serve (Kubernetes' `+listType=map`
/// and `patchMergeKey` markers).
fn builtin_list(path: &[&str]) -> ListType {
    let Some(last) = path.last() else {
        return ListType::Atomic;
    };
    match *last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => keys(&["name"]),
        "volumeMounts" => keys(&["mountPath"]),
        "conditions" => keys(&["type"]),
        "hostAliases" => keys(&["ip"]),
        "ports" if path.iter().any(|p| p.ends_with("ontainers")) => {
            keys(&["containerPort", "protocol"])
        }
        "ports" => keys(&["port", "protocol"]),
        _ => ListType::Atomic,
    }
}

/// Follows field names through `properties` (and array `items`) of a structural schema.
fn schema_at<'a>(schema: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut current = schema;
    for name in path {
        if current.get("type").and_then(Value::as_str) == Some("array") {
            current = current.get("items")?;
        }
        current = match current.get("properties").and_then(|p| p.get(*name)) {
            Some(property) => property,
            None => current
                .get("additionalProperties")
                .filter(|a| a.is_object())?,
        };
    }
    Some(current)
}

impl ListTypes {
    /// The merge strategy of the list at `path` (field names from the root; list items
    /// are stepped through implicitly).
    pub fn at(&self, path: &[&str]) -> ListType {
        if let Some(list) = metadata_list(path) {
            return list;
        }
        match self {
            Self::Builtin => builtin_list(path),
            Self::None => ListType::Atomic,
            Self::Schema(schema) => {
                let Some(list) = schema_at(schema, path) else {
                    return ListType::Atomic;
                };
                match list.get("x-kubernetes-list-type").and_then(Value::as_str) {
                    Some("map") => ListType::Map(
                        list.get("x-kubernetes-list-map-keys")
                            .and_then(Value::as_array)
                            .map(|k| {
                                k.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    Some("set") => ListType::Set,
                    _ => ListType::Atomic,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builtin_containers_merge_by_name_and_their_ports_by_port_and_protocol() {
        let types = ListTypes::Builtin;
        assert_eq!(
            types.at(&["spec", "template", "spec", "containers"]),
            keys(&["name"])
        );
        assert_eq!(
            types.at(&["spec", "containers", "ports"]),
            keys(&["containerPort", "protocol"])
        );
        assert_eq!(types.at(&["spec", "ports"]), keys(&["port", "protocol"]));
        assert_eq!(types.at(&["spec", "args"]), ListType::Atomic);
        assert_eq!(types.at(&["metadata", "finalizers"]), ListType::Set);
    }

    #[test]
    fn custom_resource_list_types_come_from_the_schema() {
        let schema = json!({"type": "object", "properties": {"status": {"type": "object", "properties": {
            "conditions": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"], "items": {"type": "object"}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
        }}}});
        let types = ListTypes::Schema(schema);
        assert_eq!(types.at(&["status", "conditions"]), keys(&["type"]));
        assert_eq!(types.at(&["status", "tags"]), ListType::Set);
        assert_eq!(types.at(&["spec", "other"]), ListType::Atomic);
    }
}
