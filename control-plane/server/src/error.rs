//! One error type for every handler, written as RFC 7807 problem+json.
//!
//! 4xx bodies say what was wrong with the request. 5xx bodies say only that
//! the server failed; the cause is logged inside the request's span, never
//! sent to the client.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fjord_api::{PROBLEM_JSON, Problem};

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{detail}")]
    NotFound { detail: String },
    #[error("{detail}")]
    BadRequest { detail: String },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn status_and_kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
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
