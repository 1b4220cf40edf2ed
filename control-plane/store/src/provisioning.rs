//! `environment_network`, `environment_checklist`, `provisioning_step`:
//! what provisioning of an environment's network asks for, shows and did.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::Result;
use crate::scoped::{Lock, Table};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NetworkRow {
    pub environment_id: Uuid,
    pub organization_id: Uuid,
    pub settings: Json<serde_json::Value>,
    pub state: String,
    pub message: Option<String>,
    pub job_id: Option<Uuid>,
    pub resources: Option<Json<serde_json::Value>>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const NETWORK_COLUMNS: &str = "environment_id, organization_id, settings, state, message, \
                               job_id, resources, revision, created_at, updated_at";

const NETWORKS: Table = Table {
    columns: NETWORK_COLUMNS,
    from: "environment_network",
    organization: "organization_id",
    id: "environment_id",
};

/// Sets what the environment's network should be (back to `pending`).
pub async fn put_settings(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    settings: serde_json::Value,
) -> Result<NetworkRow> {
    let sql = format!(
        "insert into environment_network (environment_id, organization_id, settings)
         values ($2, $1, $3)
         on conflict (environment_id) do update
             set settings = excluded.settings, state = 'pending', message = null,
                 revision = environment_network.revision + 1
             where environment_network.organization_id = excluded.organization_id
         returning {NETWORK_COLUMNS}"
    );
    let row = sqlx::query_as::<_, NetworkRow>(sqlx::AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .bind(Json(settings))
        .fetch_one(db)
        .await?;
    Ok(row)
}

/// The network row, locked for update when `lock`.
pub async fn get_network(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    lock: bool,
) -> Result<Option<NetworkRow>> {
    NETWORKS
        .get(db, organization_id, environment_id, Lock::update_if(lock))
        .await
}

/// Records a new provisioning operation for the network.
pub async fn start_provisioning(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    job_id: Uuid,
) -> Result<Option<NetworkRow>> {
    let sql = format!(
        "update environment_network
         set state = 'provisioning', message = null, job_id = $3, revision = revision + 1
         where organization_id = $1 and environment_id = $2
         returning {NETWORK_COLUMNS}"
    );
    let row = sqlx::query_as::<_, NetworkRow>(sqlx::AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .bind(job_id)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// Records how the operation `job_id` ended, unless a newer one replaced it.
pub async fn finish_provisioning(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    job_id: Uuid,
    state: &str,
    message: Option<&str>,
    resources: Option<serde_json::Value>,
) -> Result<bool> {
    let done = sqlx::query(
        "update environment_network
         set state = $4, message = $5, resources = coalesce($6, resources),
             revision = revision + 1
         where organization_id = $1 and environment_id = $2 and job_id = $3",
    )
    .bind(organization_id)
    .bind(environment_id)
    .bind(job_id)
    .bind(state)
    .bind(message)
    .bind(resources.map(Json))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub step: String,
    pub outcome: String,
    pub message: String,
    pub aws_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct NewStep<'a> {
    pub organization_id: Uuid,
    pub job_id: Uuid,
    pub step: &'a str,
    pub outcome: &'a str,
    pub message: &'a str,
    pub aws_code: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn insert_step(db: impl PgExecutor<'_>, step: NewStep<'_>) -> Result<()> {
    sqlx::query(
        "insert into provisioning_step
             (provisioning_step_id, organization_id, job_id, step, outcome, message, aws_code, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(step.organization_id)
    .bind(step.job_id)
    .bind(step.step)
    .bind(step.outcome)
    .bind(step.message)
    .bind(step.aws_code)
    .bind(Json(step.detail))
    .execute(db)
    .await?;
    Ok(())
}

/// The steps of one operation, in the order they ran (at most 200).
pub async fn list_steps(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    job_id: Uuid,
) -> Result<Vec<StepRow>> {
    let rows = sqlx::query_as::<_, StepRow>(
        "select step, outcome, message, aws_code, created_at from provisioning_step
         where organization_id = $1 and job_id = $2
         order by provisioning_step_id limit 200",
    )
    .bind(organization_id)
    .bind(job_id)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChecklistRow {
    pub environment_id: Uuid,
    pub organization_id: Uuid,
    pub state: String,
    pub job_id: Option<Uuid>,
    pub checks: Json<serde_json::Value>,
    pub updated_at: DateTime<Utc>,
}

const CHECKLIST_COLUMNS: &str =
    "environment_id, organization_id, state, job_id, checks, updated_at";

const CHECKLISTS: Table = Table {
    columns: CHECKLIST_COLUMNS,
    from: "environment_checklist",
    organization: "organization_id",
    id: "environment_id",
};

/// Starts a checklist run: every check pending.
pub async fn start_checklist(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    job_id: Uuid,
    checks: serde_json::Value,
) -> Result<ChecklistRow> {
    let sql = format!(
        "insert into environment_checklist (environment_id, organization_id, job_id, checks)
         values ($2, $1, $3, $4)
         on conflict (environment_id) do update
             set state = 'running', job_id = excluded.job_id, checks = excluded.checks
             where environment_checklist.organization_id = excluded.organization_id
         returning {CHECKLIST_COLUMNS}"
    );
    let row = sqlx::query_as::<_, ChecklistRow>(sqlx::AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .bind(job_id)
        .bind(Json(checks))
        .fetch_one(db)
        .await?;
    Ok(row)
}

/// Stores the results of the run `job_id`, unless a newer run replaced it.
pub async fn finish_checklist(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    job_id: Uuid,
    checks: serde_json::Value,
) -> Result<bool> {
    let done = sqlx::query(
        "update environment_checklist set state = 'done', checks = $4
         where organization_id = $1 and environment_id = $2 and job_id = $3",
    )
    .bind(organization_id)
    .bind(environment_id)
    .bind(job_id)
    .bind(Json(checks))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_checklist(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Option<ChecklistRow>> {
    CHECKLISTS
        .get(db, organization_id, environment_id, Lock::None)
        .await
}
