//! `api_key`: hashed secrets that authenticate users and automation.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};
use uuid::Uuid;

use crate::scoped::{self, Lock, Table};
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub api_key_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "api_key_id, organization_id, name, scope, created_at, last_used_at, revoked_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "api_key",
    organization: "organization_id",
    id: "api_key_id",
};

#[derive(Debug)]
pub struct NewApiKey<'a> {
    pub api_key_id: Uuid,
    pub organization_id: Uuid,
    pub name: &'a str,
    pub scope: &'a str,
    pub token_hash: &'a [u8],
}

pub async fn insert(db: impl PgExecutor<'_>, key: &NewApiKey<'_>) -> Result<ApiKeyRow> {
    let sql = format!(
        "insert into api_key (api_key_id, organization_id, name, scope, token_hash)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, ApiKeyRow>(AssertSqlSafe(sql))
        .bind(key.api_key_id)
        .bind(key.organization_id)
        .bind(key.name)
        .bind(key.scope)
        .bind(key.token_hash)
        .fetch_one(db)
        .await?;
    Ok(row)
}

/// The live (unrevoked) key with this secret hash, in any organization:
/// this is how a request finds its organization.
pub async fn authenticate(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<Option<ApiKeyRow>> {
    let sql = format!("select {COLUMNS} from api_key where token_hash = $1 and revoked_at is null");
    let row = sqlx::query_as::<_, ApiKeyRow>(AssertSqlSafe(sql))
        .bind(token_hash)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// Records use, at most once a minute per key so reads stay cheap.
pub async fn touch(db: impl PgExecutor<'_>, organization_id: Uuid, id: Uuid) -> Result<()> {
    sqlx::query(
        "update api_key set last_used_at = now()
         where organization_id = $1 and api_key_id = $2
           and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(organization_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    page: PageRequest,
) -> Result<Vec<ApiKeyRow>> {
    TABLE.list(organization_id, page).fetch(db).await
}

pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<ApiKeyRow>> {
    TABLE.get(db, organization_id, id, Lock::None).await
}

/// The NOTIFY channel that carries `<api key id>` when a revocation
/// commits, so every replica drops the key from its cache of verified keys.
pub const REVOKED_CHANNEL: &str = "fjord_api_key_revoked";

/// Revokes the key (idempotently: revoking twice keeps the first time) and
/// notifies listeners when the transaction commits.
pub async fn revoke(
    db: &mut sqlx::PgConnection,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<ApiKeyRow>> {
    let sql = format!(
        "update api_key set revoked_at = coalesce(revoked_at, now())
         where organization_id = $1 and api_key_id = $2 returning {COLUMNS}"
    );
    let row = scoped::fetch_scoped(&mut *db, sql, organization_id, id).await?;
    if row.is_some() {
        sqlx::query("select pg_notify($1, $2)")
            .bind(REVOKED_CHANNEL)
            .bind(id.to_string())
            .execute(&mut *db)
            .await?;
    }
    Ok(row)
}
