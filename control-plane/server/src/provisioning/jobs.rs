//! The three provisioning jobs. Each records every step's outcome on the
//! job (`provisioning_step`) and in the audit log (actor
//! `operation:<job id>`), in one transaction per step.

use fjord_api::NetworkSettings;
use fjord_provisioner::{Access, Error as ProvisionError, Provisioner, RoleTarget, Step};
use fjord_store::job::{JobRow, Outcome};
use fjord_store::provisioning::NewStep;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::convert::{check_to_api, default_settings, resources, spec};
use super::{NOT_CONFIGURED, PREFLIGHT, PROVISION, TEARDOWN};
use crate::state::AppState;

/// Runs one provisioning job.
pub(crate) async fn run(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    match job.kind.as_str() {
        PREFLIGHT => preflight(state, job).await,
        PROVISION => provision(state, job).await,
        TEARDOWN => teardown(state, job).await,
        other => Ok(Outcome::Abandoned(format!(
            "not a provisioning job: {other}"
        ))),
    }
}

/// In the transaction that marks `job` failed for good: a provisioning
/// operation out of attempts leaves its network `failed`, not
/// `provisioning`.
pub(crate) async fn when_failed_for_good(
    db: &mut PgConnection,
    job: &JobRow,
    error: &str,
) -> anyhow::Result<()> {
    if job.kind == PROVISION {
        let environment_id = environment_id(job)?;
        fjord_store::provisioning::finish_provisioning(
            db,
            job.organization_id,
            environment_id,
            job.job_id,
            "failed",
            Some(error),
            None,
        )
        .await?;
    }
    Ok(())
}

fn environment_id(job: &JobRow) -> anyhow::Result<Uuid> {
    Ok(serde_json::from_value(
        job.payload.0["environment_id"].clone(),
    )?)
}

/// The role of the job's own organization's cloud account.
async fn role_target(
    state: &AppState,
    job: &JobRow,
    cloud_account_id: Uuid,
    region: &str,
) -> anyhow::Result<Option<RoleTarget>> {
    let account =
        fjord_store::cloud_account::get(&state.pool, job.organization_id, cloud_account_id, false)
            .await?;
    Ok(account.map(|account| RoleTarget {
        organization_id: job.organization_id,
        job_id: job.job_id,
        role_arn: account.role_arn,
        external_id: account.external_id,
        region: region.to_owned(),
    }))
}

/// Records one step on the job and in the audit log.
async fn record(
    state: &AppState,
    job: &JobRow,
    environment_id: Uuid,
    step: &str,
    outcome: Result<(String, serde_json::Value), &ProvisionError>,
) -> anyhow::Result<()> {
    let (outcome, message, aws_code, detail) = match outcome {
        Ok((message, detail)) => ("ok", message, None, detail),
        Err(error) => ("failed", error.to_string(), error.aws_code(), json!({})),
    };
    let mut transaction = state.pool.begin().await?;
    fjord_store::provisioning::insert_step(
        &mut *transaction,
        NewStep {
            organization_id: job.organization_id,
            job_id: job.job_id,
            step,
            outcome,
            message: &message,
            aws_code,
            detail: detail.clone(),
        },
    )
    .await?;
    fjord_store::audit::insert(
        &mut *transaction,
        fjord_store::audit::NewAuditRecord {
            organization_id: job.organization_id,
            actor: &format!("operation:{}", job.job_id),
            action: &format!("environment.network.{step}"),
            object_type: "environment",
            object_id: environment_id,
            source: None,
            detail: json!({"operation_id": job.job_id, "outcome": outcome,
                           "message": message, "aws_code": aws_code, "report": detail}),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// How a failed step ends the run: transient errors are retried by the
/// job table's backoff, the rest fail the operation at once.
fn outcome_of(error: &ProvisionError) -> Outcome {
    if error.is_transient() {
        Outcome::Failed(error.to_string())
    } else {
        Outcome::Abandoned(error.to_string())
    }
}

async fn provision(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    let environment_id = environment_id(job)?;
    let organization_id = job.organization_id;
    let Some(environment) =
        fjord_store::environment::get(&state.pool, organization_id, environment_id, false).await?
    else {
        return Ok(Outcome::Abandoned("the environment was deleted".into()));
    };
    let Some(network) =
        fjord_store::provisioning::get_network(&state.pool, organization_id, environment_id, false)
            .await?
    else {
        return Ok(Outcome::Abandoned(
            "the environment has no network settings".into(),
        ));
    };
    if network.job_id != Some(job.job_id) {
        return Ok(Outcome::Abandoned(format!(
            "superseded by operation {}",
            network.job_id.map(|id| id.to_string()).unwrap_or_default()
        )));
    }
    let finish = |state_name: &'static str,
                  message: Option<String>,
                  resources: Option<serde_json::Value>| async move {
        fjord_store::provisioning::finish_provisioning(
            &state.pool,
            organization_id,
            environment_id,
            job.job_id,
            state_name,
            message.as_deref(),
            resources,
        )
        .await
    };
    let Some(cloud) = state.cloud.clone() else {
        finish("failed", Some(NOT_CONFIGURED.into()), None).await?;
        return Ok(Outcome::Abandoned(NOT_CONFIGURED.into()));
    };
    let settings: NetworkSettings = serde_json::from_value(network.settings.0.clone())?;
    let Some(target) = role_target(
        state,
        job,
        environment.cloud_account_id,
        &environment.region,
    )
    .await?
    else {
        return Ok(Outcome::Abandoned("the cloud account was deleted".into()));
    };
    let spec = spec(&environment, &settings);
    let mut access = Access::new(cloud, target);
    let mut provisioner = match Provisioner::new(&mut access, &spec) {
        Ok(provisioner) => provisioner,
        Err(error) => {
            record(state, job, environment_id, "settings", Err(&error)).await?;
            finish("failed", Some(error.to_string()), None).await?;
            return Ok(outcome_of(&error));
        }
    };
    for step in Step::ALL {
        match provisioner.run_step(step).await {
            Ok(report) => {
                let detail = serde_json::to_value(&report)?;
                record(
                    state,
                    job,
                    environment_id,
                    step.name(),
                    Ok((report.summary(), detail)),
                )
                .await?;
            }
            Err(error) => {
                record(state, job, environment_id, step.name(), Err(&error)).await?;
                let outcome = outcome_of(&error);
                if matches!(outcome, Outcome::Abandoned(_)) {
                    finish("failed", Some(error.to_string()), None).await?;
                }
                return Ok(outcome);
            }
        }
    }
    let resources = resources(provisioner.network())
        .map(serde_json::to_value)
        .transpose()?;
    finish("ready", None, resources).await?;
    Ok(Outcome::Succeeded)
}

async fn preflight(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    let environment_id = environment_id(job)?;
    let organization_id = job.organization_id;
    let Some(environment) =
        fjord_store::environment::get(&state.pool, organization_id, environment_id, false).await?
    else {
        return Ok(Outcome::Abandoned("the environment was deleted".into()));
    };
    let settings: NetworkSettings = match job.payload.0.get("settings") {
        Some(settings) if !settings.is_null() => serde_json::from_value(settings.clone())?,
        _ => default_settings(),
    };
    let spec = spec(&environment, &settings);
    let checks = match (
        state.cloud.clone(),
        role_target(
            state,
            job,
            environment.cloud_account_id,
            &environment.region,
        )
        .await?,
    ) {
        (Some(cloud), Some(target)) => {
            let mut access = Access::new(cloud, target);
            fjord_provisioner::preflight(&mut access, &spec).await
        }
        (cloud, _) => {
            let mut checks = fjord_provisioner::preflight::pending_checklist(&spec);
            if let Some(first) = checks.first_mut() {
                first.status = fjord_provisioner::CheckStatus::Failed;
                first.message = if cloud.is_none() {
                    NOT_CONFIGURED.to_owned()
                } else {
                    "the cloud account was deleted".to_owned()
                };
            }
            checks
        }
    };
    let items: Vec<_> = checks.iter().map(check_to_api).collect();
    let failed: Vec<&str> = items
        .iter()
        .filter(|item| item.status == "failed")
        .map(|item| item.name.as_str())
        .collect();
    let mut transaction = state.pool.begin().await?;
    fjord_store::provisioning::finish_checklist(
        &mut *transaction,
        organization_id,
        environment_id,
        job.job_id,
        serde_json::to_value(&items)?,
    )
    .await?;
    fjord_store::audit::insert(
        &mut *transaction,
        fjord_store::audit::NewAuditRecord {
            organization_id,
            actor: &format!("operation:{}", job.job_id),
            action: "environment.checklist",
            object_type: "environment",
            object_id: environment_id,
            source: None,
            detail: json!({"operation_id": job.job_id, "failed": failed}),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(Outcome::Succeeded)
}

async fn teardown(state: &AppState, job: &JobRow) -> anyhow::Result<Outcome> {
    let environment_id = environment_id(job)?;
    let payload = &job.payload.0;
    let cloud_account_id: Uuid = serde_json::from_value(payload["cloud_account_id"].clone())?;
    let region = payload["region"].as_str().unwrap_or_default().to_owned();
    let Some(cloud) = state.cloud.clone() else {
        return Ok(Outcome::Abandoned(NOT_CONFIGURED.into()));
    };
    let Some(target) = role_target(state, job, cloud_account_id, &region).await? else {
        return Ok(Outcome::Abandoned(format!(
            "the cloud account was deleted: remove the resources tagged \
             fjord:environment-id={environment_id} with fjord:ownership=created by hand"
        )));
    };
    let mut access = Access::new(cloud, target);
    match fjord_provisioner::teardown(&mut access, environment_id).await {
        Ok(report) => {
            let message = format!(
                "teardown: deleted {}; released {}",
                if report.deleted.is_empty() {
                    "nothing".to_owned()
                } else {
                    report.deleted.join(", ")
                },
                if report.released.is_empty() {
                    "nothing".to_owned()
                } else {
                    report.released.join(", ")
                },
            );
            record(
                state,
                job,
                environment_id,
                "teardown",
                Ok((message, serde_json::to_value(&report)?)),
            )
            .await?;
            Ok(Outcome::Succeeded)
        }
        Err(error) => {
            record(state, job, environment_id, "teardown", Err(&error)).await?;
            Ok(outcome_of(&error))
        }
    }
}
