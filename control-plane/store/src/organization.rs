//! `organization`: the tenants.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub organization_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(db: impl PgExecutor<'_>, id: Uuid, name: &str) -> Result<OrganizationRow> {
    let row = sqlx::query_as::<_, OrganizationRow>(
        "insert into organization (organization_id, name) values ($1, $2)
         returning organization_id, name, created_at",
    )
    .bind(id)
    .bind(name)
    .fetch_one(db)
    .await?;
    Ok(row)
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<OrganizationRow>> {
    let row = sqlx::query_as::<_, OrganizationRow>(
        "select organization_id, name, created_at from organization where organization_id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// The organization with this name.
pub async fn by_name(db: impl PgExecutor<'_>, name: &str) -> Result<Option<OrganizationRow>> {
    let row = sqlx::query_as::<_, OrganizationRow>(
        "select organization_id, name, created_at from organization where name = $1",
    )
    .bind(name)
    .fetch_optional(db)
    .await?;
    Ok(row)
}
