use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant. Every other object belongs to exactly one organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    pub organization_id: Uuid,
    /// DNS-1123 label, unique across the control plane.
    pub name: String,
    pub created_at: DateTime<Utc>,
}
