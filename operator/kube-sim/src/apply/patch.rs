//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902, `test` included)
//! and strategic merge patch (merge patch that merges keyed lists).

use serde_json::Value;

use super::merge::merge;
use crate::schema::ListTypes;
use crate::status::ApiStatus;

/// The PATCH flavour, from the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    /// Reads a Content-Type header.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Applies a non-apply patch body to `base`.
pub fn apply_patch(
    base: &Value,
    body: &Value,
    kind: PatchKind,
    lists: &ListTypes,
) -> Result<Value, ApiStatus> {
    match kind {
        PatchKind::Merge => {
            let mut doc = base.clone();
            json_patch::merge(&mut doc, body);
            Ok(doc)
        }
        PatchKind::Strategic => {
            if !body.is_object() {
                return Err(ApiStatus::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            Ok(merge(base, body, &mut Vec::new(), lists, true))
        }
        PatchKind::Json => {
            let operations: json_patch::Patch = serde_json::from_value(body.clone())
                .map_err(|error| ApiStatus::bad_request(format!("invalid JSON patch: {error}")))?;
            let mut doc = base.clone();
            for operation in &operations.0 {
                // As the API server's JSON patch library does, `test` of a missing
                // path against null passes (kube's finalizer helper relies on it).
                if let json_patch::PatchOperation::Test(test) = operation
                    && test.value.is_null()
                    && doc.pointer(test.path.as_str()).is_none_or(Value::is_null)
                {
                    continue;
                }
                json_patch::patch(&mut doc, std::slice::from_ref(operation)).map_err(|error| {
                    let mut status = ApiStatus::invalid("", "", Vec::new());
                    status.message = format!(
                        "the server rejected our request due to an error in our request: {error}"
                    );
                    status
                })?;
            }
            Ok(doc)
        }
        PatchKind::Apply => Err(ApiStatus::bad_request(
            "apply patches go through server-side apply",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_patch_test_operation_fails_with_422_when_the_value_differs() {
        let base = json!({"metadata": {"finalizers": ["a"]}});
        let ok = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["a"]},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ]);
        let patched = apply_patch(&base, &ok, PatchKind::Json, &ListTypes::Builtin).unwrap();
        assert_eq!(patched, json!({"metadata": {"finalizers": []}}));
        let absent = json!([
            {"op": "test", "path": "/metadata/labels", "value": null},
            {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}
        ]);
        let added = apply_patch(&base, &absent, PatchKind::Json, &ListTypes::Builtin).unwrap();
        assert_eq!(added["metadata"]["labels"]["a"], "b");
        let stale = json!([{"op": "test", "path": "/metadata/finalizers", "value": ["b"]}]);
        let error = apply_patch(&base, &stale, PatchKind::Json, &ListTypes::Builtin).unwrap_err();
        assert_eq!(error.code, 422);
    }

    #[test]
    fn merge_patch_replaces_lists_and_null_deletes() {
        let base = json!({"spec": {"a": [1, 2], "b": 1}});
        let patch = json!({"spec": {"a": [3], "b": null}});
        let patched = apply_patch(&base, &patch, PatchKind::Merge, &ListTypes::Builtin).unwrap();
        assert_eq!(patched, json!({"spec": {"a": [3]}}));
    }

    #[test]
    fn content_types_select_the_patch_kind() {
        assert_eq!(
            PatchKind::from_content_type("application/apply-patch+yaml"),
            Some(PatchKind::Apply)
        );
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchKind::Merge)
        );
        assert_eq!(PatchKind::from_content_type("text/plain"), None);
    }
}
