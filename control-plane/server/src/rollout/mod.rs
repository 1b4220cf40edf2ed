//! Drives rollouts: one job per running rollout, ticking until the rollout
//! is done, halted or paused. Each tick reads the rollout as recorded, asks
//! the pure [`plan`] what to do, and does it in one transaction (cluster
//! version changes publish intents and are audited as `rollout:<id>`).
//! A tick re-run after a crash sees what the last committed tick did, so
//! the driver resumes where it stopped.

pub(crate) mod plan;

use fjord_store::cluster::ClusterSpec;
use fjord_store::job::{JobRow, Outcome};
use serde_json::json;
use uuid::Uuid;

use crate::intent;
use crate::state::AppState;
use plan::{Member, MemberState, Progress};

/// The job kind of the driver.
pub(crate) const JOB_KIND: &str = "rollout.drive";

/// Halts the rollout whose driver `job` ran out of attempts, with the
/// job's last error as the reason (audited as `rollout.halt`), unless the
/// rollout already moved on. `POST /v1/rollouts/{id}/resume` starts a new
/// driver once the cause is fixed.
pub(crate) async fn halt_after_job_failure(
    transaction: &mut sqlx::PgTransaction<'_>,
    job: &JobRow,
    error: &str,
) -> anyhow::Result<()> {
    let Ok(rollout_id) = serde_json::from_value::<Uuid>(job.payload.0["rollout_id"].clone()) else {
        return Ok(()); // no rollout to halt
    };
    let organization_id = job.organization_id;
    let Some(rollout) =
        fjord_store::rollout::get(&mut **transaction, organization_id, rollout_id, true).await?
    else {
        return Ok(());
    };
    if rollout.state != "running" || rollout.job_id != Some(job.job_id) {
        return Ok(());
    }
    let reason = format!(
        "operation {} failed after {} attempts: {error}",
        job.job_id, job.attempts
    );
    fjord_store::rollout::set_state(
        &mut **transaction,
        organization_id,
        rollout_id,
        "halted",
        Some(&reason),
        None,
    )
    .await?;
    let actor = format!("rollout:{rollout_id}");
    fjord_store::audit::insert(
        &mut **transaction,
        fjord_store::audit::NewAuditRecord {
            organization_id,
            actor: &actor,
            action: "rollout.halt",
            object_type: "rollout",
            object_id: rollout_id,
            source: None,
            detail: json!({"reason": reason, "operation_id": job.job_id}),
        },
    )
    .await?;
    tracing::warn!(%rollout_id, reason, "rollout halted");
    Ok(())
}

/// One tick of the rollout named in the job's payload.
pub(crate) async fn drive(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    let rollout_id: Uuid = serde_json::from_value(job.payload.0["rollout_id"].clone())?;
    let organization_id = job.organization_id;
    let mut transaction = state.pool.begin().await?;
    let Some(rollout) =
        fjord_store::rollout::get(&mut *transaction, organization_id, rollout_id, true).await?
    else {
        return Ok(Outcome::Succeeded);
    };
    if rollout.state != "running" || rollout.job_id != Some(job.job_id) {
        // Paused, halted or finished, or superseded by a newer driver.
        return Ok(Outcome::Succeeded);
    }
    let rows =
        fjord_store::rollout::clusters(&mut *transaction, organization_id, rollout_id).await?;
    let members: Vec<Member> = rows
        .into_iter()
        .map(|row| {
            Ok(Member {
                cluster_id: row.cluster_id,
                wave: row.wave,
                state: MemberState::parse(&row.state).ok_or_else(|| {
                    anyhow::anyhow!("unknown rollout cluster state {}", row.state)
                })?,
                desired_version: row.desired_version,
                phase: row.phase,
                observed_version: row.observed_version,
                roll_paused: plan::roll_paused(&row.conditions.0),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let max_in_flight = usize::try_from(rollout.max_in_flight)?;
    let step = plan::plan(&rollout.target_version, max_in_flight, &members);
    let actor = format!("rollout:{rollout_id}");
    let audit = |action: &'static str,
                 object_type: &'static str,
                 object_id: Uuid,
                 detail: serde_json::Value| {
        fjord_store::audit::NewAuditRecord {
            organization_id,
            actor: &actor,
            action,
            object_type,
            object_id,
            source: None,
            detail,
        }
    };

    for cluster_id in &step.succeeded {
        fjord_store::rollout::set_cluster_state(
            &mut *transaction,
            organization_id,
            rollout_id,
            *cluster_id,
            "succeeded",
            "",
        )
        .await?;
    }
    for (cluster_id, reason) in &step.failed {
        fjord_store::rollout::set_cluster_state(
            &mut *transaction,
            organization_id,
            rollout_id,
            *cluster_id,
            "failed",
            reason,
        )
        .await?;
    }
    for cluster_id in &step.start {
        let Some(cluster) =
            fjord_store::cluster::get(&mut *transaction, organization_id, *cluster_id, true)
                .await?
        else {
            continue; // deleted meanwhile; its rollout row went with it
        };
        let spec = ClusterSpec {
            version: rollout.target_version.clone(),
            broker_count: cluster.broker_count,
            storage_gib: cluster.storage_gib,
            config: cluster.config.0,
        };
        fjord_store::cluster::update_spec(&mut *transaction, organization_id, *cluster_id, &spec)
            .await?;
        intent::publish(
            &mut transaction,
            &state.signer,
            organization_id,
            cluster.environment_id,
        )
        .await
        .map_err(|error| anyhow::anyhow!("cannot publish intent: {error}"))?;
        fjord_store::rollout::set_cluster_state(
            &mut *transaction,
            organization_id,
            rollout_id,
            *cluster_id,
            "in-progress",
            "",
        )
        .await?;
        fjord_store::audit::insert(
            &mut *transaction,
            audit(
                "cluster.update",
                "cluster",
                *cluster_id,
                json!({"version": rollout.target_version, "from": cluster.version}),
            ),
        )
        .await?;
    }
    let outcome = match &step.progress {
        Progress::Continue => Outcome::Again(state.jobs.rollout_tick),
        Progress::Halt(reason) => {
            fjord_store::rollout::set_state(
                &mut *transaction,
                organization_id,
                rollout_id,
                "halted",
                Some(reason),
                None,
            )
            .await?;
            fjord_store::audit::insert(
                &mut *transaction,
                audit(
                    "rollout.halt",
                    "rollout",
                    rollout_id,
                    json!({"reason": reason}),
                ),
            )
            .await?;
            tracing::warn!(%rollout_id, reason, "rollout halted");
            Outcome::Succeeded
        }
        Progress::Done => {
            fjord_store::rollout::set_state(
                &mut *transaction,
                organization_id,
                rollout_id,
                "succeeded",
                None,
                None,
            )
            .await?;
            fjord_store::audit::insert(
                &mut *transaction,
                audit("rollout.succeed", "rollout", rollout_id, json!({})),
            )
            .await?;
            tracing::info!(%rollout_id, "rollout succeeded");
            Outcome::Succeeded
        }
    };
    transaction.commit().await?;
    Ok(outcome)
}
