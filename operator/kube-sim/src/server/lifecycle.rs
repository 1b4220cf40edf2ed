//! Per-object rules shared by every write: names, server-set metadata, status on
//! create, schema (built-in decoding or the CRD's structural schema), generation.

use serde_json::{Value, json};

use super::State;
use super::write::FieldValidation;
use crate::discovery::{Origin, ResourceType};
use crate::schema::apply_schema;
use crate::status::{ApiStatus, Cause};
use crate::store::ObjectKey;
use crate::store::object::{metadata_mut, now_timestamp, spec_part};

/// A fresh `metadata.uid`.
pub(super) fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Stores a Namespace as the API server creates it.
pub(super) fn create_namespace(state: &mut State, name: &str) {
    let object = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": new_uid(), "creationTimestamp": now_timestamp(),
            "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    });
    let resource = crate::discovery::GroupResource {
        group: String::new(),
        resource: "namespaces".into(),
    };
    state.store.put(&resource, ObjectKey::new("", name), object);
}

/// The rule a kind's `metadata.name` follows, as the API server's validation
/// picks it: most kinds take a DNS subdomain; Services a DNS-1035 label (the
/// name becomes a DNS label); Namespaces an RFC 1123 label; RBAC objects any
/// path segment (so `system:controller:x` is a valid ClusterRole name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameRule {
    Subdomain,
    Label,
    Dns1035Label,
    PathSegment,
}

fn name_rule(resource_type: &ResourceType) -> NameRule {
    match (resource_type.group.as_str(), resource_type.kind.as_str()) {
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::PathSegment,
        ("", "Service") => NameRule::Dns1035Label,
        ("", "Namespace") => NameRule::Label,
        _ => NameRule::Subdomain,
    }
}

/// Why `name` breaks `rule` (the API server's wording), or `None`.
fn name_problem(rule: NameRule, name: &str) -> Option<String> {
    let lowercase_alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ends_alphanumeric = name.ends_with(lowercase_alphanumeric);
    match rule {
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                return Some(format!("may not be '{name}'"));
            }
            ['/', '%']
                .into_iter()
                .find(|c| name.contains(*c))
                .map(|bad| format!("may not contain '{bad}'"))
        }
        NameRule::Subdomain => {
            let valid = name.len() <= 253
                && name
                    .split('.')
                    .all(|part| !part.is_empty() && label_like(part, lowercase_alphanumeric));
            (!valid).then(|| {
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                 characters, '-' or '.', and must start and end with an alphanumeric character"
                    .to_owned()
            })
        }
        NameRule::Label => {
            if name.len() > 63 {
                Some("must be no more than 63 characters".to_owned())
            } else if !label_like(name, lowercase_alphanumeric) {
                Some(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric \
                     characters or '-', and must start and end with an alphanumeric character"
                        .to_owned(),
                )
            } else {
                None
            }
        }
        NameRule::Dns1035Label => {
            if name.len() > 63 {
                Some("must be no more than 63 characters".to_owned())
            } else if !(label_like(name, |c: char| c.is_ascii_lowercase()) && ends_alphanumeric) {
                Some(
                    "a DNS-1035 label must consist of lower case alphanumeric characters or \
                     '-', start with an alphabetic character, and end with an alphanumeric \
                     character"
                        .to_owned(),
                )
            } else {
                None
            }
        }
    }
}

/// Lowercase alphanumerics and '-', starting with a character `first` takes
/// and ending with an alphanumeric.
fn label_like(part: &str, first: impl Fn(char) -> bool) -> bool {
    part.starts_with(first)
        && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `metadata.name` must follow its kind's rule ([`NameRule`]).
pub(super) fn validate_name(resource_type: &ResourceType, name: &str) -> Result<(), ApiStatus> {
    let problem = if name.is_empty() {
        Some("Required value: name or generateName is required".to_owned())
    } else {
        name_problem(name_rule(resource_type), name)
            .map(|why| format!("Invalid value: \"{name}\": {why}"))
    };
    let Some(message) = problem else {
        return Ok(());
    };
    Err(ApiStatus::invalid(
        &qualified_kind(resource_type),
        name,
        vec![Cause {
            reason: if name.is_empty() {
                "FieldValueRequired"
            } else {
                "FieldValueInvalid"
            }
            .into(),
            message,
            field: "metadata.name".into(),
        }],
    )
    .with_details(&resource_type.group, &resource_type.kind, name))
}

/// `Kind.group`, as 422 messages name a type.
pub(super) fn qualified_kind(resource_type: &ResourceType) -> String {
    if resource_type.group.is_empty() {
        resource_type.kind.clone()
    } else {
        format!("{}.{}", resource_type.kind, resource_type.group)
    }
}

/// What the API server puts in `status` on create for types with a status subresource.
pub(super) fn reset_status_on_create(resource_type: &ResourceType, object: &mut Value) {
    if !resource_type.status_subresource {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let initial = match (resource_type.group.as_str(), resource_type.plural.as_str()) {
        ("", "pods") => Some(json!({"phase": "Pending", "qosClass": "BestEffort"})),
        ("", "namespaces") => Some(json!({"phase": "Active"})),
        ("", "persistentvolumeclaims") => Some(json!({"phase": "Pending"})),
        _ => None,
    };
    match initial {
        Some(status) => map.insert("status".into(), status),
        None => map.remove("status"),
    };
}

/// Checks and canonicalises an object's body: built-ins decode into their k8s-openapi
/// type (400 on a wrong field type), custom resources are pruned, defaulted and
/// validated against the CRD schema (422). Returns the warnings to send.
pub(super) fn check_schema(
    resource_type: &ResourceType,
    object: &mut Value,
    validation: FieldValidation,
) -> Result<Vec<String>, ApiStatus> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match &resource_type.origin {
        Origin::Builtin { normalize } => {
            let normalized = normalize(object.clone()).map_err(|error| {
                ApiStatus::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: {error}",
                    resource_type.kind, resource_type.version, resource_type.kind
                ))
            })?;
            *object = normalized;
            Ok(Vec::new())
        }
        Origin::Custom {
            schema: Some(schema),
            ..
        } => {
            let outcome = apply_schema(object, schema);
            if !outcome.causes.is_empty() {
                return Err(ApiStatus::invalid(
                    &qualified_kind(resource_type),
                    &name,
                    outcome.causes,
                )
                .with_details(&resource_type.group, &resource_type.kind, &name));
            }
            let warnings: Vec<String> = outcome
                .unknown_fields
                .iter()
                .map(|field| format!("unknown field \"{field}\""))
                .collect();
            match validation {
                FieldValidation::Strict if !warnings.is_empty() => Err(ApiStatus::bad_request(
                    format!("strict decoding error: {}", warnings.join(", ")),
                )),
                FieldValidation::Ignore => Ok(Vec::new()),
                _ => Ok(warnings),
            }
        }
        Origin::Custom { schema: None, .. } => Ok(Vec::new()),
    }
}

/// Whether a write changed what `metadata.generation` tracks: everything but metadata,
/// and but status when status is a subresource.
pub(super) fn spec_changed(resource_type: &ResourceType, old: &Value, new: &Value) -> bool {
    if resource_type.status_subresource {
        return spec_part(old) != spec_part(new);
    }
    let strip = |object: &Value| {
        let mut copy = object.clone();
        if let Some(map) = copy.as_object_mut() {
            map.remove("metadata");
        }
        copy
    };
    strip(old) != strip(new)
}

/// Whether a write changed nothing a client could see (the API server then keeps the
/// resource version and sends no event). ManagedFields timestamps do not count.
pub(super) fn is_noop(old: &Value, new: &Value) -> bool {
    let strip = |object: &Value| {
        let mut copy = object.clone();
        let metadata = metadata_mut(&mut copy);
        metadata.remove("resourceVersion");
        if let Some(entries) = metadata
            .get_mut("managedFields")
            .and_then(Value::as_array_mut)
        {
            for entry in entries {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("time");
                }
            }
        }
        copy
    };
    strip(old) == strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Registry;

    #[test]
    fn names_must_be_lowercase_subdomains() {
        let registry = Registry::default();
        let pods = registry.get("", "v1", "pods").unwrap();
        assert!(validate_name(&pods, "web-0.a").is_ok());
        let error = validate_name(&pods, "Web").unwrap_err();
        assert_eq!(error.code, 422);
        assert!(
            error
                .message
                .starts_with("Pod \"Web\" is invalid: metadata.name: Invalid value")
        );
    }

    #[test]
    fn each_kind_validates_its_name_by_its_own_rule() {
        let registry = Registry::default();
        let get = |group: &str, version: &str, resource: &str| {
            registry.get(group, version, resource).unwrap()
        };
        let rbac = "rbac.authorization.k8s.io";
        // RBAC names are path segments: colons are fine, slashes are not.
        let bindings = get(rbac, "v1", "clusterrolebindings");
        assert!(validate_name(&bindings, "fjord-broker-rack:ns:racked").is_ok());
        assert!(validate_name(&get(rbac, "v1", "clusterroles"), "system:controller:x").is_ok());
        let error = validate_name(&bindings, "a/b").unwrap_err();
        assert!(
            error.message.contains("may not contain '/'"),
            "{}",
            error.message
        );
        assert!(validate_name(&bindings, "..").is_err());
        // Services are DNS-1035 labels: no dots, no leading digit, at most 63.
        let services = get("", "v1", "services");
        assert!(validate_name(&services, "racked-brokers").is_ok());
        assert!(validate_name(&services, "a.b").is_err());
        assert!(validate_name(&services, "1abc").is_err());
        assert!(validate_name(&services, &"a".repeat(64)).is_err());
        // Namespaces are RFC 1123 labels; ConfigMaps subdomains.
        assert!(validate_name(&get("", "v1", "namespaces"), "a.b").is_err());
        assert!(validate_name(&get("", "v1", "configmaps"), "a.b").is_ok());
        assert!(validate_name(&get("", "v1", "configmaps"), "a..b").is_err());
        assert!(validate_name(&get("", "v1", "configmaps"), "a:b").is_err());
    }

    #[test]
    fn generation_ignores_metadata_and_subresource_status() {
        let registry = Registry::default();
        let sts = registry.get("apps", "v1", "statefulsets").unwrap();
        let old = json!({"metadata": {"labels": {}}, "spec": {"replicas": 1}, "status": {}});
        let relabelled = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        assert!(!spec_changed(&sts, &old, &relabelled));
        let scaled = json!({"metadata": {}, "spec": {"replicas": 2}});
        assert!(spec_changed(&sts, &old, &scaled));
    }
}
