//! One error type for every handler, written as RFC 7807 problem+json.
//!
//! 4xx bodies say what was wrong with the request, and each kind of error
//! has a stable `type` (`/problems/<kind>`) clients can branch on. 5xx bodies
//! say only that the server failed; the cause is logged inside the
//! request's span, never sent to the client. Database constraint
//! violations map, by constraint name, to 409 or 422.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fjord_api::{PROBLEM_JSON, Problem};

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404 `not-found`; also what another organization's object looks like.
    #[error("{0}")]
    NotFound(String),
    /// 400 `bad-request`: the request cannot be read (syntax, path, query).
    #[error("{0}")]
    BadRequest(String),
    /// 422 `invalid-body`: read, but a field is wrong or out of range.
    #[error("{0}")]
    Invalid(String),
    /// 401 `unauthenticated`.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403 `forbidden`: authenticated, but the credential may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 409 `conflict`: the request clashes with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 412 `precondition-failed`: `If-Match` does not match the `ETag`.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413 `payload-too-large`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415 `unsupported-media-type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 `idempotency-key-reused`: same key, different request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// 409 `idempotency-key-in-flight`: same key, request still running.
    #[error("{0}")]
    IdempotencyKeyInFlight(String),
    /// 429 `too-many-requests`: too many failed attempts; retry later.
    #[error("{0}")]
    TooManyRequests(String),
    /// 503 `unavailable`: overloaded or a transaction lost a race; retry.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `internal`; the cause is logged, never sent.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn status_and_kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
            ),
            Self::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
            ),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::IdempotencyKeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            ),
            Self::IdempotencyKeyInFlight(_) => (
                StatusCode::CONFLICT,
                "idempotency-key-in-flight",
                "Idempotency key in flight",
            ),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    pub(crate) fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} {id} not found"))
    }
}

/// A copy answers exactly as the original: same status, `type` and detail.
/// An internal error's copy keeps its cause as text, for the log
/// (`anyhow::Error` cannot be cloned). The authentication middleware keeps
/// refusals this way until an extractor asks (see [`crate::auth`]).
impl Clone for AppError {
    fn clone(&self) -> Self {
        match self {
            Self::NotFound(detail) => Self::NotFound(detail.clone()),
            Self::BadRequest(detail) => Self::BadRequest(detail.clone()),
            Self::Invalid(detail) => Self::Invalid(detail.clone()),
            Self::Unauthenticated(detail) => Self::Unauthenticated(detail.clone()),
            Self::Forbidden(detail) => Self::Forbidden(detail.clone()),
            Self::Conflict(detail) => Self::Conflict(detail.clone()),
            Self::PreconditionFailed(detail) => Self::PreconditionFailed(detail.clone()),
            Self::PayloadTooLarge(detail) => Self::PayloadTooLarge(detail.clone()),
            Self::UnsupportedMediaType(detail) => Self::UnsupportedMediaType(detail.clone()),
            Self::IdempotencyKeyReused(detail) => Self::IdempotencyKeyReused(detail.clone()),
            Self::IdempotencyKeyInFlight(detail) => Self::IdempotencyKeyInFlight(detail.clone()),
            Self::TooManyRequests(detail) => Self::TooManyRequests(detail.clone()),
            Self::Unavailable(detail) => Self::Unavailable(detail.clone()),
            Self::Internal(error) => Self::Internal(anyhow::anyhow!("{error:#}")),
        }
    }
}

impl From<fjord_store::Error> for AppError {
    fn from(error: fjord_store::Error) -> Self {
        if let fjord_store::Error::Database(sqlx::Error::Database(database)) = &error {
            if let Some(mapped) = database.constraint().and_then(on_constraint) {
                return mapped;
            }
            // character_not_in_repertoire, untranslatable_character: text
            // Postgres cannot store (NUL) that a check did not catch
            if matches!(database.code().as_deref(), Some("22021" | "22P05")) {
                return Self::Invalid(
                    "a text value contains a character that cannot be stored (NUL)".into(),
                );
            }
            // serialization_failure, deadlock_detected: safe to retry
            if matches!(database.code().as_deref(), Some("40001" | "40P01")) {
                tracing::warn!(error = %database, "transaction lost a race");
                return Self::Unavailable("the request collided with another; retry it".into());
            }
        }
        if let fjord_store::Error::Database(sqlx::Error::PoolTimedOut) = &error {
            tracing::warn!("no database connection free in time");
            return Self::Unavailable("the service is overloaded; retry shortly".into());
        }
        Self::Internal(anyhow::Error::new(error))
    }
}

/// What a violated constraint means to the client. Unknown constraints are
/// internal errors: they mean a check the handler should have made first.
fn on_constraint(constraint: &str) -> Option<AppError> {
    let error = match constraint {
        "organization_name_key" => {
            AppError::Conflict("an organization with this name already exists".into())
        }
        "cloud_account_name_key" => {
            AppError::Conflict("a cloud account with this name already exists".into())
        }
        "environment_name_key" => {
            AppError::Conflict("an environment with this name already exists".into())
        }
        "cluster_name_key" => {
            AppError::Conflict("a cluster with this name already exists in the environment".into())
        }
        "topic_name_key" => {
            AppError::Conflict("a topic with this name already exists in the cluster".into())
        }
        "environment_cloud_account_fkey" => {
            AppError::Conflict("the cloud account still has environments; delete them first".into())
        }
        "cluster_environment_fkey" => {
            AppError::Conflict("the environment still has clusters; delete them first".into())
        }
        "app_user_email_key" => AppError::Conflict("a user with this email already exists".into()),
        "membership_pkey" => {
            AppError::Conflict("this user is already a member of the organization".into())
        }
        "cluster_version_fkey" => AppError::Invalid("version is not in the release catalog".into()),
        "idempotency_record_pkey" => AppError::IdempotencyKeyInFlight(
            "another request with this Idempotency-Key completed first; retry to get its response"
                .into(),
        ),
        other if other.ends_with("_check") => {
            AppError::Invalid(format!("a value is out of range ({other})"))
        }
        _ => return None,
    };
    Some(error)
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        fjord_store::Error::Database(error).into()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.status_and_kind();
        let detail = match &self {
            Self::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "request failed");
                None
            }
            other => Some(other.to_string()),
        };
        problem_response(status, kind, title, detail)
    }
}

/// Writes a problem+json response.
pub(crate) fn problem_response(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: Option<String>,
) -> Response {
    let problem = Problem {
        problem_type: format!("/problems/{kind}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        instance: None,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}
