//! `job`: long-running work, claimed with `for update skip locked`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub job_id: Uuid,
    pub organization_id: Uuid,
    pub kind: String,
    pub payload: Json<serde_json::Value>,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "job_id, organization_id, kind, payload, state, attempts, max_attempts, \
                       run_after, locked_until, last_error, created_at, updated_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "job",
    organization: "organization_id",
    id: "job_id",
};

pub async fn enqueue(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    kind: &str,
    payload: serde_json::Value,
) -> Result<JobRow> {
    let sql = format!(
        "insert into job (job_id, organization_id, kind, payload) values ($1, $2, $3, $4)
         returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::now_v7())
        .bind(organization_id)
        .bind(kind)
        .bind(Json(payload))
        .fetch_one(db)
        .await?;
    Ok(row)
}

/// Claims one runnable job: queued and due, or running with an expired
/// lease (its worker died). Concurrent claimers skip each other's rows, so
/// a job runs on one worker at a time however many poll.
pub async fn claim(db: impl PgExecutor<'_>, lease: Duration) -> Result<Option<JobRow>> {
    let sql = format!(
        "update job set state = 'running', attempts = attempts + 1,
                        locked_until = now() + make_interval(secs => $1)
         where job_id = (
             select job_id from job
             where (state = 'queued' and run_after <= now())
                or (state = 'running' and locked_until < now())
             order by run_after
             for update skip locked
             limit 1)
         returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
        .bind(lease.as_secs_f64())
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// How a claimed job's run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done for good.
    Succeeded,
    /// Not done; run again after the delay (not a failure: attempts reset).
    Again(Duration),
    /// Failed; retried with backoff unless out of attempts.
    Failed(String),
    /// Failed for good: retrying cannot help (a timeout, a reported failure).
    Abandoned(String),
}

impl Outcome {
    /// The error when this outcome of `job` ends it as `failed`.
    pub fn permanent_error<'a>(&'a self, job: &JobRow) -> Option<&'a str> {
        match self {
            Self::Failed(error) if job.attempts >= job.max_attempts => Some(error),
            Self::Abandoned(error) => Some(error),
            _ => None,
        }
    }
}

/// Records the outcome of the run that claimed `job` (fenced on its
/// attempt number, so a worker whose lease expired cannot overwrite the
/// newer claimer's result). Returns false when fenced off.
pub async fn finish(db: impl PgExecutor<'_>, job: &JobRow, outcome: &Outcome) -> Result<bool> {
    let (state, delay, error, reset) = match outcome {
        Outcome::Succeeded => ("succeeded", Duration::ZERO, None, false),
        Outcome::Again(delay) => ("queued", *delay, None, true),
        Outcome::Failed(error) | Outcome::Abandoned(error)
            if outcome.permanent_error(job).is_some() =>
        {
            ("failed", Duration::ZERO, Some(error.as_str()), false)
        }
        Outcome::Failed(error) | Outcome::Abandoned(error) => {
            ("queued", backoff(job.attempts), Some(error.as_str()), false)
        }
    };
    let done = sqlx::query(
        "update job set state = $3, run_after = now() + make_interval(secs => $4),
                        locked_until = null, last_error = coalesce($5, last_error),
                        attempts = case when $6 then 0 else attempts end
         where job_id = $1 and attempts = $2 and state = 'running'",
    )
    .bind(job.job_id)
    .bind(job.attempts)
    .bind(state)
    .bind(delay.as_secs_f64())
    .bind(error)
    .bind(reset)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks every unfinished job of `kind` whose payload names `cluster_id` as
/// succeeded, now: for an operation whose completion is reported rather than
/// polled (a cluster the agent reports `ready` may be deleted before the
/// next poll would have seen it). A worker running one of them meanwhile is
/// fenced off by [`finish`] (it matches `running` rows only). Returns how
/// many jobs it completed.
pub async fn succeed_for_cluster(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    kind: &str,
    cluster_id: Uuid,
) -> Result<u64> {
    let done = sqlx::query(
        "update job set state = 'succeeded', locked_until = null
         where organization_id = $1 and kind = $2 and payload->>'cluster_id' = $3
           and state in ('queued', 'running')",
    )
    .bind(organization_id)
    .bind(kind)
    .bind(cluster_id.to_string())
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Exponential backoff: 2^attempts seconds, at most five minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    Duration::from_secs(2_u64.pow(exponent).min(300))
}

pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<JobRow>> {
    TABLE.get(db, organization_id, id, Lock::None).await
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    page: PageRequest,
) -> Result<Vec<JobRow>> {
    TABLE.list(organization_id, page).fetch(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(20), Duration::from_secs(300));
    }
}
