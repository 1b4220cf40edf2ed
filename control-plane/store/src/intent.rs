//! `intent`: the signed desired state of an environment, one row per
//! generation, kept as history.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};
use uuid::Uuid;

use crate::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub organization_id: Uuid,
    pub environment_id: Uuid,
    pub generation: i64,
    pub content_hash: String,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    pub key_id: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "organization_id, environment_id, generation, content_hash, payload, signature, key_id, created_at";

/// The NOTIFY channel that carries `<environment id>` when a new intent of
/// that environment commits.
pub const CHANNEL: &str = "fjord_intent";

pub async fn latest(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Option<IntentRow>> {
    let sql = format!(
        "select {COLUMNS} from intent where organization_id = $1 and environment_id = $2
         order by generation desc limit 1"
    );
    let row = sqlx::query_as::<_, IntentRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// The latest generation of the environment, reading no payload.
pub async fn latest_generation(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Option<i64>> {
    let generation = sqlx::query_scalar(
        "select generation from intent where organization_id = $1 and environment_id = $2
         order by generation desc limit 1",
    )
    .bind(organization_id)
    .bind(environment_id)
    .fetch_optional(db)
    .await?;
    Ok(generation)
}

/// The latest generation and its content hash, reading no payload.
pub async fn latest_hash(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Option<(i64, String)>> {
    let latest = sqlx::query_as(
        "select generation, content_hash from intent
         where organization_id = $1 and environment_id = $2
         order by generation desc limit 1",
    )
    .bind(organization_id)
    .bind(environment_id)
    .fetch_optional(db)
    .await?;
    Ok(latest)
}

/// The latest intent when its generation is above `after`.
pub async fn newer_than(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    after: i64,
) -> Result<Option<IntentRow>> {
    let sql = format!(
        "select {COLUMNS} from intent where organization_id = $1 and environment_id = $2
           and generation > $3
         order by generation desc limit 1"
    );
    let row = sqlx::query_as::<_, IntentRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .bind(after)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    generation: i64,
) -> Result<Option<IntentRow>> {
    let sql = format!(
        "select {COLUMNS} from intent where organization_id = $1 and environment_id = $2 and generation = $3"
    );
    let row = sqlx::query_as::<_, IntentRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .bind(generation)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// History, newest first, generations below `before` when given.
pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<IntentRow>> {
    let sql = format!(
        "select {COLUMNS} from intent where organization_id = $1 and environment_id = $2
           and ($3::bigint is null or generation < $3)
         order by generation desc limit $4"
    );
    let rows = sqlx::query_as::<_, IntentRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .bind(before)
        .bind(limit)
        .fetch_all(db)
        .await?;
    Ok(rows)
}

/// Stores a new generation and notifies listeners when the transaction
/// commits (NOTIFY is transactional).
pub async fn insert(db: &mut sqlx::PgConnection, row: &IntentRow) -> Result<()> {
    sqlx::query(
        "insert into intent (intent_id, organization_id, environment_id, generation, content_hash,
                             payload, signature, key_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(row.organization_id)
    .bind(row.environment_id)
    .bind(row.generation)
    .bind(&row.content_hash)
    .bind(&row.payload)
    .bind(&row.signature)
    .bind(&row.key_id)
    .execute(&mut *db)
    .await?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(row.environment_id.to_string())
        .execute(&mut *db)
        .await?;
    Ok(())
}
