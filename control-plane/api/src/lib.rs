//! The types of the Fjord REST API (`/v1`).
//!
//! Everything a client sends or receives is defined here, with its OpenAPI
//! schema derived from the Rust type, so the server, the generated OpenAPI
//! document, the console's typed client and the Terraform provider cannot
//! drift apart.

mod problem;
mod service;

pub use problem::Problem;
pub use service::ServiceInfo;

/// The media type of every error body (RFC 7807).
pub const PROBLEM_JSON: &str = "application/problem+json";
