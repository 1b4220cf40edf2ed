//! Kubernetes `Status` failures (`metav1.Status`), the body of every error response.

use serde_json::{Value, json};

/// One field-level cause of a failure (`details.causes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldManagerConflict`, ...
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// `details` of a failure: the object concerned and field-level causes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusDetails {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub causes: Vec<Cause>,
}

/// A failed API call as the API server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiStatus {
    /// HTTP status code.
    pub code: u16,
    /// CamelCase `StatusReason` (`NotFound`, `Conflict`, `Invalid`, ...).
    pub reason: String,
    pub message: String,
    /// Boxed: failures travel in `Result`s and should stay small.
    pub details: Box<StatusDetails>,
}

impl ApiStatus {
    fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            details: Box::default(),
        }
    }

    /// Names the object in `details`.
    pub fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.details.group = group.to_owned();
        self.details.kind = kind.to_owned();
        self.details.name = name.to_owned();
        self
    }

    /// `404 NotFound`: `pods "x" not found`.
    pub fn not_found(qualified_resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{qualified_resource} \"{name}\" not found"),
        )
    }

    /// `404 NotFound` for a path that serves nothing.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// `409 AlreadyExists`.
    pub fn already_exists(qualified_resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{qualified_resource} \"{name}\" already exists"),
        )
    }

    /// `409 Conflict` on a stale `resourceVersion`.
    pub fn stale(qualified_resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {qualified_resource} \"{name}\": the object \
                 has been modified; please apply your changes to the latest version and try again"
            ),
        )
    }

    /// `409 Conflict` from server-side apply, one cause per contested field.
    pub fn apply_conflict(conflicts: &[(String, String)]) -> Self {
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with \"{manager}\": {field}"))
            .collect();
        let count = conflicts.len();
        let plural = if count == 1 { "" } else { "s" };
        let mut status = Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {count} conflict{plural}: {}",
                lines.join("\n")
            ),
        );
        status.details.causes = conflicts
            .iter()
            .map(|(manager, field)| Cause {
                reason: "FieldManagerConflict".to_owned(),
                message: format!("conflict with \"{manager}\""),
                field: field.clone(),
            })
            .collect();
        status
    }

    /// `422 Invalid`: `StreamCluster.fjord.dev "x" is invalid: spec.brokers: ...`.
    pub fn invalid(qualified_kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let mut status = Self::new(
            422,
            "Invalid",
            format!(
                "{qualified_kind} \"{name}\" is invalid: {}",
                summary.join(", ")
            ),
        );
        status.details.causes = causes;
        status
    }

    /// `400 BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// `410 Gone` / `Expired`: the requested resourceVersion is compacted away.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// `415 UnsupportedMediaType`.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json (got {content_type})"
            ),
        )
    }

    /// `500 InternalError` (injected fault).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// `429 TooManyRequests` (injected fault).
    pub fn too_many_requests() -> Self {
        Self::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        )
    }

    /// The `metav1.Status` JSON body.
    pub fn to_json(&self) -> Value {
        let mut details = serde_json::Map::new();
        let own = &self.details;
        if !own.name.is_empty() {
            details.insert("name".into(), json!(own.name));
        }
        if !own.group.is_empty() {
            details.insert("group".into(), json!(own.group));
        }
        if !own.kind.is_empty() {
            details.insert("kind".into(), json!(own.kind));
        }
        if !own.causes.is_empty() {
            let causes: Vec<Value> = own
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            body["details"] = Value::Object(details);
        }
        body
    }
}

impl std::fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_like_the_api_servers_message() {
        let status = ApiStatus::not_found("pods", "web-0").with_details("", "pods", "web-0");
        let body = status.to_json();
        assert_eq!(body["message"], "pods \"web-0\" not found");
        assert_eq!(body["code"], 404);
        assert_eq!(body["details"]["name"], "web-0");
    }

    #[test]
    fn apply_conflict_lists_each_manager_and_field() {
        let status = ApiStatus::apply_conflict(&[("a".into(), ".spec.replicas".into())]);
        assert_eq!(status.code, 409);
        assert!(status.message.starts_with("Apply failed with 1 conflict:"));
        assert_eq!(
            status.to_json()["details"]["causes"][0]["field"],
            ".spec.replicas"
        );
    }
}
