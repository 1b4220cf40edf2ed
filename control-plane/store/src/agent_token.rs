//! `agent_access_token`: short-lived tokens agents use on `/v1/agent`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Result;

pub async fn insert(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into agent_access_token (token_hash, organization_id, environment_id, expires_at)
         values ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(organization_id)
    .bind(environment_id)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The (organization, environment) of an unexpired token.
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query_as::<_, (Uuid, Uuid)>(
        "select organization_id, environment_id from agent_access_token
         where token_hash = $1 and expires_at > now()",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Drops expired tokens; returns how many.
pub async fn delete_expired(db: impl PgExecutor<'_>) -> Result<u64> {
    let done = sqlx::query("delete from agent_access_token where expires_at <= now()")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
