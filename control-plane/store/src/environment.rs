//! `environment`: a customer Kubernetes cluster and its agent.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};
use uuid::Uuid;

use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnvironmentRow {
    pub environment_id: Uuid,
    pub organization_id: Uuid,
    pub cloud_account_id: Uuid,
    pub name: String,
    pub region: String,
    pub agent_registered_at: Option<DateTime<Utc>>,
    pub agent_last_seen_at: Option<DateTime<Utc>>,
    pub agent_version: Option<String>,
    pub observed_generation: Option<i64>,
    /// The agent's latest report on an intent (`fjord_api::IntentReportRecord`).
    pub agent_last_intent_report: Option<sqlx::types::Json<serde_json::Value>>,
    /// Latest intent generation (0 before the first).
    pub generation: i64,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "e.environment_id, e.organization_id, e.cloud_account_id, e.name, e.region, \
    e.agent_registered_at, e.agent_last_seen_at, e.agent_version, e.observed_generation, \
    e.agent_last_intent_report, \
    coalesce((select max(i.generation) from intent i where i.environment_id = e.environment_id), 0) \
        as generation, \
    e.revision, e.created_at, e.updated_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "environment e",
    organization: "e.organization_id",
    id: "e.environment_id",
};

#[derive(Debug)]
pub struct NewEnvironment<'a> {
    pub environment_id: Uuid,
    pub organization_id: Uuid,
    pub cloud_account_id: Uuid,
    pub name: &'a str,
    pub region: &'a str,
    pub registration_token_hash: &'a [u8],
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewEnvironment<'_>) -> Result<EnvironmentRow> {
    let sql = format!(
        "with e as (
             insert into environment (environment_id, organization_id, cloud_account_id, name,
                                      region, registration_token_hash)
             values ($1, $2, $3, $4, $5, $6) returning *)
         select {COLUMNS} from e"
    );
    let row = sqlx::query_as::<_, EnvironmentRow>(AssertSqlSafe(sql))
        .bind(new.environment_id)
        .bind(new.organization_id)
        .bind(new.cloud_account_id)
        .bind(new.name)
        .bind(new.region)
        .bind(new.registration_token_hash)
        .fetch_one(db)
        .await?;
    Ok(row)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    page: PageRequest,
) -> Result<Vec<EnvironmentRow>> {
    TABLE.list(organization_id, page).fetch(db).await
}

/// The environment, locked when `lock` (inside a transaction). The lock is
/// `for no key update`, which does not conflict with the key-share locks
/// foreign-key checks take, so inserting a child row first and locking the
/// environment second cannot deadlock with another such transaction.
pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<EnvironmentRow>> {
    let lock = if lock {
        Lock::NoKeyUpdateOf("e")
    } else {
        Lock::None
    };
    TABLE.get(db, organization_id, id, lock).await
}

pub async fn rename(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    name: &str,
) -> Result<Option<EnvironmentRow>> {
    let sql = format!(
        "with e as (
             update environment set name = $3, revision = revision + 1
             where organization_id = $1 and environment_id = $2 returning *)
         select {COLUMNS} from e"
    );
    let row = sqlx::query_as::<_, EnvironmentRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(id)
        .bind(name)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

pub async fn delete(db: impl PgExecutor<'_>, organization_id: Uuid, id: Uuid) -> Result<bool> {
    let done =
        sqlx::query("delete from environment where organization_id = $1 and environment_id = $2")
            .bind(organization_id)
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the registration token (the old one stops working).
pub async fn set_registration_token(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    token_hash: &[u8],
) -> Result<bool> {
    let done = sqlx::query(
        "update environment set registration_token_hash = $3
         where organization_id = $1 and environment_id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .bind(token_hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Trades a registration token for an agent credential: the token is
/// consumed, the credential replaces any earlier one. `None` when no
/// environment holds the token.
pub async fn register_agent(
    db: impl PgExecutor<'_>,
    registration_token_hash: &[u8],
    credential_hash: &[u8],
    agent_version: Option<&str>,
) -> Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query_as::<_, (Uuid, Uuid)>(
        "update environment
         set registration_token_hash = null, agent_credential_hash = $2,
             agent_registered_at = now(), agent_last_seen_at = now(), agent_version = $3
         where registration_token_hash = $1
         returning organization_id, environment_id",
    )
    .bind(registration_token_hash)
    .bind(credential_hash)
    .bind(agent_version)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// The (organization, environment) whose agent holds this credential.
pub async fn find_by_agent_credential(
    db: impl PgExecutor<'_>,
    credential_hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query_as::<_, (Uuid, Uuid)>(
        "select organization_id, environment_id from environment where agent_credential_hash = $1",
    )
    .bind(credential_hash)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Records that the agent was heard from, and what it said.
pub async fn record_agent_contact(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    agent_version: Option<&str>,
    observed_generation: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "update environment
         set agent_last_seen_at = now(),
             agent_version = coalesce($3, agent_version),
             observed_generation = coalesce($4, observed_generation)
         where organization_id = $1 and environment_id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .bind(agent_version)
    .bind(observed_generation)
    .execute(db)
    .await?;
    Ok(())
}

/// Records the agent's latest decision on an intent (a JSON
/// `fjord_api::IntentReportRecord`), shown on the environment.
pub async fn record_intent_report(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    report: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "update environment set agent_last_intent_report = $3, agent_last_seen_at = now()
         where organization_id = $1 and environment_id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .bind(sqlx::types::Json(report))
    .execute(db)
    .await?;
    Ok(())
}
