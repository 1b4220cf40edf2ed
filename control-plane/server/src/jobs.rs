//! Runs jobs from the `job` table: any number of workers on any number of
//! replicas; each job runs on one worker at a time (`for update skip
//! locked` plus a lease); a worker that dies mid-job loses its lease and
//! the job is claimed again; failures retry with exponential backoff.

use std::time::Duration;

use fjord_store::job::{JobRow, Outcome};
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::{cluster_operation, provisioning, rollout};

/// How jobs run.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How long a claimed job is a worker's before others may take it.
    pub lease: Duration,
    /// How long an idle worker sleeps between polls.
    pub idle_poll: Duration,
    /// How often a running rollout is re-evaluated.
    pub rollout_tick: Duration,
    /// How often a cluster creation or deletion checks the agent's reports.
    pub cluster_poll: Duration,
    /// How long a cluster creation or deletion may take before it fails.
    pub cluster_operation_timeout: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
            rollout_tick: Duration::from_secs(5),
            cluster_poll: Duration::from_secs(5),
            cluster_operation_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// Claims and runs one due job; returns whether there was one.
pub async fn run_once(state: &AppState) -> anyhow::Result<bool> {
    let Some(job) = fjord_store::job::claim(&state.pool, state.jobs.lease).await? else {
        return Ok(false);
    };
    let outcome = match dispatch(state, &job).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(job_id = %job.job_id, kind = job.kind, attempts = job.attempts, error = %format!("{error:#}"), "job failed");
            Outcome::Failed(format!("{error:#}"))
        }
    };
    // The outcome and what a permanent failure means for the job's owner
    // commit together: a rollout is never left `running` behind a dead job.
    let mut transaction = state.pool.begin().await?;
    if !fjord_store::job::finish(&mut *transaction, &job, &outcome).await? {
        tracing::warn!(job_id = %job.job_id, "job lease was lost before it finished; its result is dropped");
        return Ok(true);
    }
    if let Some(error) = outcome.permanent_error(&job) {
        tracing::error!(job_id = %job.job_id, kind = job.kind, attempts = job.attempts, error, "job failed permanently");
        if job.kind == rollout::JOB_KIND {
            rollout::halt_after_job_failure(&mut transaction, &job, error).await?;
        }
        if provisioning::handles(&job.kind) {
            provisioning::when_failed_for_good(&mut transaction, &job, error).await?;
        }
    }
    transaction.commit().await?;
    Ok(true)
}

async fn dispatch(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    match job.kind.as_str() {
        rollout::JOB_KIND => rollout::drive(state, job).await,
        cluster_operation::CREATE | cluster_operation::DELETE => {
            cluster_operation::check(state, job).await
        }
        kind if provisioning::handles(kind) => provisioning::run(state, job).await,
        other => Ok(Outcome::Failed(format!("unknown job kind {other}"))),
    }
}

/// How long an `Idempotency-Key` replays its response.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Drops what has expired: stored idempotent responses past
/// [`IDEMPOTENCY_RETENTION`] and expired agent access tokens. Safe to run on
/// every replica at once.
pub async fn housekeeping(state: &AppState) -> anyhow::Result<()> {
    let responses =
        fjord_store::idempotency::delete_older_than(&state.pool, IDEMPOTENCY_RETENTION).await?;
    let tokens = fjord_store::agent_token::delete_expired(&state.pool).await?;
    let sessions = fjord_store::session::delete_expired(&state.pool).await?;
    tracing::debug!(responses, tokens, sessions, "housekeeping done");
    Ok(())
}

/// Runs [`housekeeping`] every `period`.
pub fn spawn_housekeeping(state: &AppState, period: Duration) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            if let Err(error) = housekeeping(&state).await {
                tracing::warn!(error = %format!("{error:#}"), "housekeeping failed");
            }
        }
    })
}

/// Starts `workers` background workers.
pub fn spawn_workers(state: &AppState, workers: usize) -> Vec<JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    match run_once(&state).await {
                        Ok(true) => {}
                        Ok(false) => tokio::time::sleep(state.jobs.idle_poll).await,
                        Err(error) => {
                            tracing::warn!(error = %format!("{error:#}"), "job worker cannot reach the database");
                            tokio::time::sleep(state.jobs.idle_poll).await;
                        }
                    }
                }
            })
        })
        .collect()
}
