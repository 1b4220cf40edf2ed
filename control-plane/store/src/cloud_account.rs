//! `cloud_account`: AWS accounts reached through a cross-account role.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};
use uuid::Uuid;

use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CloudAccountRow {
    pub cloud_account_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub aws_account_id: String,
    pub role_arn: String,
    pub external_id: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "cloud_account_id, organization_id, name, aws_account_id, role_arn, \
                       external_id, revision, created_at, updated_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "cloud_account",
    organization: "organization_id",
    id: "cloud_account_id",
};

#[derive(Debug)]
pub struct NewCloudAccount<'a> {
    pub cloud_account_id: Uuid,
    pub organization_id: Uuid,
    pub name: &'a str,
    pub aws_account_id: &'a str,
    pub role_arn: &'a str,
    pub external_id: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewCloudAccount<'_>) -> Result<CloudAccountRow> {
    let sql = format!(
        "insert into cloud_account
             (cloud_account_id, organization_id, name, aws_account_id, role_arn, external_id)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, CloudAccountRow>(AssertSqlSafe(sql))
        .bind(new.cloud_account_id)
        .bind(new.organization_id)
        .bind(new.name)
        .bind(new.aws_account_id)
        .bind(new.role_arn)
        .bind(new.external_id)
        .fetch_one(db)
        .await?;
    Ok(row)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    page: PageRequest,
) -> Result<Vec<CloudAccountRow>> {
    TABLE.list(organization_id, page).fetch(db).await
}

/// The account, locked for update when `lock` (inside a transaction).
pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<CloudAccountRow>> {
    TABLE
        .get(db, organization_id, id, Lock::update_if(lock))
        .await
}

pub async fn update_role(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    role_arn: &str,
) -> Result<Option<CloudAccountRow>> {
    let sql = format!(
        "update cloud_account set role_arn = $3, revision = revision + 1
         where organization_id = $1 and cloud_account_id = $2 returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, CloudAccountRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(id)
        .bind(role_arn)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

pub async fn delete(db: impl PgExecutor<'_>, organization_id: Uuid, id: Uuid) -> Result<bool> {
    let done = sqlx::query(
        "delete from cloud_account where organization_id = $1 and cloud_account_id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
