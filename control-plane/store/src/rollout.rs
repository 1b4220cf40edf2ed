//! `rollout` and `rollout_cluster`: moving clusters to a version in waves.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RolloutRow {
    pub rollout_id: Uuid,
    pub organization_id: Uuid,
    pub target_version: String,
    pub max_in_flight: i32,
    pub state: String,
    pub halted_reason: Option<String>,
    pub job_id: Option<Uuid>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "rollout_id, organization_id, target_version, max_in_flight, state, \
                       halted_reason, job_id, revision, created_at, updated_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "rollout",
    organization: "organization_id",
    id: "rollout_id",
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RolloutClusterRow {
    pub cluster_id: Uuid,
    pub wave: i32,
    pub state: String,
    pub message: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The cluster's desired version now.
    pub desired_version: String,
    /// As the cluster's agent last reported it.
    pub phase: String,
    pub observed_version: Option<String>,
    /// The conditions the agent last reported (a JSON list).
    pub conditions: Json<serde_json::Value>,
}

pub async fn insert(
    db: &mut sqlx::PgConnection,
    organization_id: Uuid,
    rollout_id: Uuid,
    target_version: &str,
    max_in_flight: i32,
    waves: &[Vec<Uuid>],
) -> Result<RolloutRow> {
    let sql = format!(
        "insert into rollout (rollout_id, organization_id, target_version, max_in_flight)
         values ($1, $2, $3, $4) returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, RolloutRow>(sqlx::AssertSqlSafe(sql))
        .bind(rollout_id)
        .bind(organization_id)
        .bind(target_version)
        .bind(max_in_flight)
        .fetch_one(&mut *db)
        .await?;
    for (wave, clusters) in waves.iter().enumerate() {
        let wave = i32::try_from(wave).unwrap_or(i32::MAX);
        sqlx::query(
            "insert into rollout_cluster (rollout_id, organization_id, cluster_id, wave)
             select $1, $2, unnest($3::uuid[]), $4",
        )
        .bind(rollout_id)
        .bind(organization_id)
        .bind(clusters)
        .bind(wave)
        .execute(&mut *db)
        .await?;
    }
    Ok(row)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<RolloutRow>> {
    TABLE
        .get(db, organization_id, id, Lock::update_if(lock))
        .await
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    page: PageRequest,
) -> Result<Vec<RolloutRow>> {
    TABLE.list(organization_id, page).fetch(db).await
}

/// The rollout's clusters with their reported status, by wave.
pub async fn clusters(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    rollout_id: Uuid,
) -> Result<Vec<RolloutClusterRow>> {
    let rows = sqlx::query_as::<_, RolloutClusterRow>(
        "select rc.cluster_id, rc.wave, rc.state, rc.message, rc.started_at, rc.finished_at,
                c.version as desired_version, c.phase, c.observed_version, c.conditions
         from rollout_cluster rc join cluster c
             on c.organization_id = rc.organization_id and c.cluster_id = rc.cluster_id
         where rc.organization_id = $1 and rc.rollout_id = $2
         order by rc.wave, rc.cluster_id",
    )
    .bind(organization_id)
    .bind(rollout_id)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

pub async fn set_state(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    state: &str,
    halted_reason: Option<&str>,
    job_id: Option<Uuid>,
) -> Result<Option<RolloutRow>> {
    let sql = format!(
        "update rollout set state = $3, halted_reason = $4, job_id = coalesce($5, job_id),
                            revision = revision + 1
         where organization_id = $1 and rollout_id = $2 returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, RolloutRow>(sqlx::AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(id)
        .bind(state)
        .bind(halted_reason)
        .bind(job_id)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

pub async fn set_cluster_state(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    rollout_id: Uuid,
    cluster_id: Uuid,
    state: &str,
    message: &str,
) -> Result<()> {
    sqlx::query(
        "update rollout_cluster
         set state = $4, message = $5,
             started_at = case when $4 = 'in-progress' then now() else started_at end,
             finished_at = case when $4 in ('succeeded', 'failed') then now() else null end
         where organization_id = $1 and rollout_id = $2 and cluster_id = $3",
    )
    .bind(organization_id)
    .bind(rollout_id)
    .bind(cluster_id)
    .bind(state)
    .bind(message)
    .execute(db)
    .await?;
    Ok(())
}

/// Puts failed clusters back to pending (resuming after a fix).
pub async fn retry_failed(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    rollout_id: Uuid,
) -> Result<u64> {
    let done = sqlx::query(
        "update rollout_cluster set state = 'pending', message = '', finished_at = null
         where organization_id = $1 and rollout_id = $2 and state = 'failed'",
    )
    .bind(organization_id)
    .bind(rollout_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
