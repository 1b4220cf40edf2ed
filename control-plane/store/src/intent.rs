//! `intent`: the signed desired state of an environment, one row per
//! generation, kept as history.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
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

/// Largest part of a payload sent in one statement (see [`insert`]).
const PART_BYTES: usize = 12 * 1024;

/// Stores a new generation and notifies listeners when the transaction
/// commits (NOTIFY is transactional).
///
/// A payload larger than [`PART_BYTES`] is sent in parts, each appended to a
/// transaction-local setting, and the row is inserted from that setting.
/// Why: sqlx 0.9.0 no longer sets `TCP_NODELAY`, and a message spanning
/// several TLS records then waits for Postgres's delayed ACK (40 ms on
/// Linux) per record: writes of large environments took 50-150 ms under
/// the environment's lock, nearly all of it waiting. Statements below one
/// TLS record (16 KiB) do not wait. The stored bytes are checked against
/// the payload's sha-256 before the transaction can commit.
pub async fn insert(db: &mut sqlx::PgConnection, row: &IntentRow) -> Result<()> {
    let payload = std::str::from_utf8(&row.payload).map_err(|error| {
        sqlx::Error::Protocol(format!("intent payload is not UTF-8 JSON: {error}"))
    })?;
    let mut parts = Vec::new();
    let mut rest = payload;
    while rest.len() > PART_BYTES {
        let mut end = PART_BYTES;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (part, tail) = rest.split_at(end);
        parts.push(part);
        rest = tail;
    }
    parts.push(rest);
    let stored: Vec<u8> = if parts.len() == 1 {
        sqlx::query_scalar(
            "insert into intent (intent_id, organization_id, environment_id, generation,
                                 content_hash, payload, signature, key_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning sha256(payload)",
        )
        .bind(Uuid::now_v7())
        .bind(row.organization_id)
        .bind(row.environment_id)
        .bind(row.generation)
        .bind(&row.content_hash)
        .bind(&row.payload)
        .bind(&row.signature)
        .bind(&row.key_id)
        .fetch_one(&mut *db)
        .await?
    } else {
        for (index, part) in parts.iter().enumerate() {
            let sql = if index == 0 {
                "select set_config('fjord.intent_payload', $1, true)"
            } else {
                "select set_config('fjord.intent_payload',
                                   current_setting('fjord.intent_payload') || $1, true)"
            };
            sqlx::query(sql).bind(*part).execute(&mut *db).await?;
        }
        sqlx::query_scalar(
            "insert into intent (intent_id, organization_id, environment_id, generation,
                                 content_hash, payload, signature, key_id)
             values ($1, $2, $3, $4, $5,
                     convert_to(current_setting('fjord.intent_payload'), 'UTF8'), $6, $7)
             returning sha256(payload)",
        )
        .bind(Uuid::now_v7())
        .bind(row.organization_id)
        .bind(row.environment_id)
        .bind(row.generation)
        .bind(&row.content_hash)
        .bind(&row.signature)
        .bind(&row.key_id)
        .fetch_one(&mut *db)
        .await?
    };
    if stored[..] != Sha256::digest(&row.payload)[..] {
        return Err(sqlx::Error::Protocol(
            "the stored intent payload differs from the signed one".into(),
        )
        .into());
    }
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(row.environment_id.to_string())
        .execute(&mut *db)
        .await?;
    Ok(())
}
