//! `idempotency_record`: the stored response of a mutation sent with an
//! `Idempotency-Key`, written in the mutation's own transaction.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdempotencyRow {
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    key: &str,
) -> Result<Option<IdempotencyRow>> {
    let row = sqlx::query_as::<_, IdempotencyRow>(
        "select request_hash, status, etag, body from idempotency_record
         where organization_id = $1 and idempotency_key = $2",
    )
    .bind(organization_id)
    .bind(key)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    key: &str,
    record: &IdempotencyRow,
) -> Result<()> {
    sqlx::query(
        "insert into idempotency_record
             (organization_id, idempotency_key, request_hash, status, etag, body)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(organization_id)
    .bind(key)
    .bind(&record.request_hash)
    .bind(record.status)
    .bind(&record.etag)
    .bind(&record.body)
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets stored responses older than `age`; returns how many.
pub async fn delete_older_than(db: impl PgExecutor<'_>, age: std::time::Duration) -> Result<u64> {
    let done = sqlx::query(
        "delete from idempotency_record where created_at < now() - make_interval(secs => $1)",
    )
    .bind(age.as_secs_f64())
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
