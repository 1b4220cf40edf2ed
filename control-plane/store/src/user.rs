//! `app_user` and `membership`: people who sign in to the console, and
//! their role in each organization.
//!
//! Every read of members takes the `organization_id`; only sign-in looks a
//! user up by email alone, because that is how a person names themselves.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

/// A user as sign-in sees them: identity and password hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub user_id: Uuid,
    pub email: String,
    pub password_hash: String,
}

/// A user as a member of one organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

const MEMBER_COLUMNS: &str = "u.user_id, m.organization_id, u.email, m.role, m.created_at";

const MEMBERS: Table = Table {
    columns: MEMBER_COLUMNS,
    from: "membership m join app_user u using (user_id)",
    organization: "m.organization_id",
    id: "m.user_id",
};

/// Creates a user (email already normalized, password already hashed).
pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    email: &str,
    password_hash: &str,
) -> Result<UserRow> {
    let row = sqlx::query_as::<_, UserRow>(
        "insert into app_user (user_id, email, password_hash) values ($1, $2, $3)
         returning user_id, email, password_hash",
    )
    .bind(user_id)
    .bind(email)
    .bind(password_hash)
    .fetch_one(db)
    .await?;
    Ok(row)
}

/// The user with this (normalized) email, in any organization.
pub async fn by_email(db: impl PgExecutor<'_>, email: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query_as::<_, UserRow>(
        "select user_id, email, password_hash from app_user where email = $1",
    )
    .bind(email)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Makes the user a member of the organization with `role`.
pub async fn add_member(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<()> {
    sqlx::query("insert into membership (organization_id, user_id, role) values ($1, $2, $3)")
        .bind(organization_id)
        .bind(user_id)
        .bind(role)
        .execute(db)
        .await?;
    Ok(())
}

/// The organizations the user belongs to, with the role in each, oldest
/// membership first.
pub async fn memberships(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<MemberRow>> {
    let sql = format!(
        "select {MEMBER_COLUMNS} from membership m join app_user u using (user_id)
         where m.user_id = $1 order by m.created_at, m.organization_id"
    );
    let rows = sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_all(db)
        .await?;
    Ok(rows)
}

pub async fn list_members(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    page: PageRequest,
) -> Result<Vec<MemberRow>> {
    MEMBERS.list(organization_id, page).fetch(db).await
}

pub async fn get_member(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
) -> Result<Option<MemberRow>> {
    MEMBERS.get(db, organization_id, user_id, Lock::None).await
}

/// Changes a member's role; `None` when they are not a member.
pub async fn set_role(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<Option<MemberRow>> {
    let sql = format!(
        "with m as (
             update membership set role = $3
             where organization_id = $1 and user_id = $2
             returning organization_id, user_id, role, created_at
         )
         select {MEMBER_COLUMNS} from m join app_user u using (user_id)"
    );
    let row = sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(user_id)
        .bind(role)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// Removes a member (and, by cascade, their sessions in the organization);
/// returns whether they were one.
pub async fn remove_member(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
) -> Result<bool> {
    let done = sqlx::query("delete from membership where organization_id = $1 and user_id = $2")
        .bind(organization_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// How many admins the organization has, counted under a lock on its
/// admin memberships, so two concurrent demotions cannot both pass a
/// "someone else is still admin" check.
pub async fn lock_admins(db: &mut sqlx::PgConnection, organization_id: Uuid) -> Result<i64> {
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "select user_id from membership where organization_id = $1 and role = 'admin' for update",
    )
    .bind(organization_id)
    .fetch_all(&mut *db)
    .await?;
    Ok(i64::try_from(ids.len()).unwrap_or(i64::MAX))
}

/// Deletes the user when they belong to no organization any more, so the
/// email can be used again.
pub async fn delete_if_orphaned(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<()> {
    sqlx::query(
        "delete from app_user u where u.user_id = $1
           and not exists (select 1 from membership m where m.user_id = u.user_id)",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}
