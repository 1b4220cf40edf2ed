//! `session`: signed-in browsers, found by the sha-256 of their cookie.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Result;

/// A live session, with what its member may do now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub session_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub user_id: Uuid,
    pub email: String,
    /// The member's role at the time of this read (not at sign-in).
    pub role: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct NewSession<'a> {
    pub session_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(db: impl PgExecutor<'_>, session: &NewSession<'_>) -> Result<()> {
    sqlx::query(
        "insert into session (session_id, organization_id, user_id, token_hash, csrf_token, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session.session_id)
    .bind(session.organization_id)
    .bind(session.user_id)
    .bind(session.token_hash)
    .bind(session.csrf_token)
    .bind(session.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The unexpired session with this token hash, joined with its membership
/// (so a removed member has no session) and organization.
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<SessionRow>> {
    let row = sqlx::query_as::<_, SessionRow>(
        "select s.session_id, s.organization_id, o.name as organization_name, s.user_id,
                u.email, m.role, s.csrf_token, s.expires_at
         from session s
         join membership m on m.organization_id = s.organization_id and m.user_id = s.user_id
         join app_user u on u.user_id = s.user_id
         join organization o on o.organization_id = s.organization_id
         where s.token_hash = $1 and s.expires_at > now()",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Ends a session (sign-out).
pub async fn delete(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    session_id: Uuid,
) -> Result<()> {
    sqlx::query("delete from session where organization_id = $1 and session_id = $2")
        .bind(organization_id)
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes sessions that expired; returns how many.
pub async fn delete_expired(db: impl PgExecutor<'_>) -> Result<u64> {
    let done = sqlx::query("delete from session where expires_at <= now()")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
