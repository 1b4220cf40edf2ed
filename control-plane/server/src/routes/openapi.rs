//! What many routes declare alike in the OpenAPI document, declared once:
//! the problem every route can answer and the headers of changes. They are
//! inlined into each operation, so the document reads as if each route
//! spelled them out.
//!
//! These types exist only to be named in `#[utoipa::path]` attributes; no
//! value of them is ever made.

use fjord_api::Problem;
use utoipa::{IntoParams, IntoResponses};

/// Any 4xx answer: an RFC 7807 problem (`application/problem+json`).
#[derive(IntoResponses)]
#[response(
    status = "4XX",
    description = "A problem",
    content_type = "application/problem+json"
)]
#[expect(dead_code, reason = "only named in OpenAPI attributes")]
pub(crate) struct Problems(Problem);

/// `Idempotency-Key`, which every change accepts (see
/// [`crate::idempotency`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "only named in OpenAPI attributes")]
pub(crate) struct IdempotencyKey {
    /// Replays the first response for a retried request
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[\\x21-\\x7e]+$"
    )]
    idempotency_key: Option<String>,
}

/// `If-Match`, which updates and deletions of a revised object accept (see
/// [`crate::mutation::check_if_match`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "only named in OpenAPI attributes")]
pub(crate) struct IfMatch {
    // No description: the API's description says what it does.
    #[param(rename = "If-Match")]
    if_match: Option<String>,
}
