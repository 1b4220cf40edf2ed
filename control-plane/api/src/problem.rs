use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error, as RFC 7807 `application/problem+json`.
///
/// `type` is stable per kind of error, so clients can branch on it; `detail`
/// is written for a person and says what was wrong with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of error, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of error.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}
