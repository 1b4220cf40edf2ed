use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Identity of the control plane answering the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceInfo {
    /// Always `fjord-control-plane`.
    pub service: String,
    /// Release of the control plane, e.g. `0.1.0`.
    pub version: String,
    /// Version of the REST API, e.g. `v1`.
    pub api_version: String,
}
