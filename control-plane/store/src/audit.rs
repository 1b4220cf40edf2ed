//! `audit_record`: who did what to which object, when, from where.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::scoped::Table;
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub audit_record_id: Uuid,
    pub organization_id: Uuid,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: Uuid,
    pub source: Option<String>,
    pub detail: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

const TABLE: Table = Table {
    columns: "audit_record_id, organization_id, actor, action, object_type, object_id, source, \
              detail, created_at",
    from: "audit_record",
    organization: "organization_id",
    id: "audit_record_id",
};

#[derive(Debug)]
pub struct NewAuditRecord<'a> {
    pub organization_id: Uuid,
    pub actor: &'a str,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: Uuid,
    pub source: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn insert(db: impl PgExecutor<'_>, record: NewAuditRecord<'_>) -> Result<()> {
    sqlx::query(
        "insert into audit_record
             (audit_record_id, organization_id, actor, action, object_type, object_id, source, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(record.organization_id)
    .bind(record.actor)
    .bind(record.action)
    .bind(record.object_type)
    .bind(record.object_id)
    .bind(record.source)
    .bind(Json(record.detail))
    .execute(db)
    .await?;
    Ok(())
}

/// Filters of the audit log; `None` matches everything.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Vec<AuditRow>> {
    TABLE
        .list(organization_id, page)
        .filter("actor =", filter.actor.as_deref())
        .filter("action =", filter.action.as_deref())
        .filter("object_type =", filter.object_type.as_deref())
        .filter("object_id =", filter.object_id)
        .filter("created_at >=", filter.since)
        .fetch(db)
        .await
}
