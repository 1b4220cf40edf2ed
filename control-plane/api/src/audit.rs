use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Who did what to which object, when, and from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    pub audit_record_id: Uuid,
    /// `api-key:<id>`, `agent:<environment id>` or `admin-cli`.
    pub actor: String,
    /// e.g. `cluster.create`.
    pub action: String,
    /// e.g. `cluster`.
    pub object_type: String,
    pub object_id: Uuid,
    /// The client address the request came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}
