//! The operations behind cluster creation and deletion: a job that
//! completes when the agent has done the work, or fails with a clear reason
//! when it reports the cluster failed or nothing happens in time.
//!
//! - `cluster.create` succeeds once the agent reports the cluster `ready`
//!   (marked at the report itself, so a deletion right after cannot fail
//!   it); it fails at once when the agent reports `failed`, or when the
//!   cluster is deleted before it was ever ready.
//! - `cluster.delete` succeeds once the agent reports it has applied the
//!   intent generation that no longer holds the cluster.
//!
//! Both fail after [`JobSettings::cluster_operation_timeout`] (counted from
//! the request), naming what the agent last said. Re-running a check is
//! harmless: it only reads.
//!
//! [`JobSettings::cluster_operation_timeout`]: crate::jobs::JobSettings

use chrono::Utc;
use fjord_store::job::{JobRow, Outcome};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;

/// Job kind: wait for a new cluster to become ready.
pub(crate) const CREATE: &str = "cluster.create";
/// Job kind: wait for a deleted cluster to be gone.
pub(crate) const DELETE: &str = "cluster.delete";

/// Records the operation of a cluster change in the change's transaction.
pub(crate) async fn enqueue(
    db: &mut PgConnection,
    kind: &str,
    organization_id: Uuid,
    environment_id: Uuid,
    cluster_id: Uuid,
    generation: Option<i64>,
) -> Result<Uuid, AppError> {
    let payload = json!({"cluster_id": cluster_id, "environment_id": environment_id,
                         "generation": generation});
    let job = fjord_store::job::enqueue(db, organization_id, kind, payload).await?;
    Ok(job.job_id)
}

/// One check of a cluster operation.
pub(crate) async fn check(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    let payload = &job.payload.0;
    let cluster_id: Uuid = serde_json::from_value(payload["cluster_id"].clone())?;
    let environment_id: Uuid = serde_json::from_value(payload["environment_id"].clone())?;
    let organization_id = job.organization_id;
    let (done, last_seen) = if job.kind == CREATE {
        let Some(cluster) =
            fjord_store::cluster::get(&state.pool, organization_id, cluster_id, false).await?
        else {
            return Ok(Outcome::Abandoned(
                "the cluster was deleted before it became ready".into(),
            ));
        };
        match cluster.phase.as_str() {
            "ready" => (true, String::new()),
            "failed" => {
                return Ok(Outcome::Abandoned(format!(
                    "the agent reported the cluster failed: {}",
                    describe(&cluster.conditions.0)
                )));
            }
            _ if cluster.reported_at.is_none() => (
                false,
                "the agent has not reported the cluster yet".to_owned(),
            ),
            phase => (false, format!("the agent last reported phase {phase}")),
        }
    } else {
        let generation = payload["generation"].as_i64().unwrap_or(0);
        let observed =
            fjord_store::environment::get(&state.pool, organization_id, environment_id, false)
                .await?
                .and_then(|environment| environment.observed_generation);
        match observed {
            Some(observed) if observed >= generation => (true, String::new()),
            observed => (
                false,
                format!(
                    "the agent has applied generation {} of {generation}",
                    observed.map_or_else(|| "none".to_owned(), |g| g.to_string())
                ),
            ),
        }
    };
    if done {
        return Ok(Outcome::Succeeded);
    }
    let timeout = chrono::Duration::from_std(state.jobs.cluster_operation_timeout)?;
    if Utc::now() >= job.created_at + timeout {
        return Ok(Outcome::Abandoned(format!(
            "timed out after {}s: {last_seen}",
            state.jobs.cluster_operation_timeout.as_secs()
        )));
    }
    Ok(Outcome::Again(state.jobs.cluster_poll))
}

/// Conditions as people read them: `Ready=False QuotaExceeded: message; …`.
fn describe(conditions: &serde_json::Value) -> String {
    let described: Vec<String> = conditions
        .as_array()
        .into_iter()
        .flatten()
        .map(|condition| {
            let field = |name: &str| condition[name].as_str().unwrap_or_default().to_owned();
            format!(
                "{}={} {}: {}",
                field("type"),
                field("status"),
                field("reason"),
                field("message")
            )
        })
        .collect();
    if described.is_empty() {
        "no conditions given".to_owned()
    } else {
        described.join("; ")
    }
}
