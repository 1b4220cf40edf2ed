//! Cloud provisioning as jobs (docs/provisioning.md): the preflight
//! checklist, provisioning of an environment's network, and its teardown
//! when the environment is deleted.
//!
//! Every job reads the cloud account through its own `organization_id`
//! (the job row's), so a job can only ever assume a role of its own
//! organization's accounts; the role's trust policy, which requires the
//! account's external id, is the customer's guarantee on top.

mod convert;
mod jobs;

pub(crate) use convert::{
    check_to_api, checklist_to_api, default_settings, network_to_api, settings_of, spec,
    unconfigured_network,
};
pub(crate) use jobs::{run, when_failed_for_good};

/// Job kind: run the preflight checklist of an environment.
pub(crate) const PREFLIGHT: &str = "environment.preflight";
/// Job kind: create or adopt an environment's network.
pub(crate) const PROVISION: &str = "network.provision";
/// Job kind: remove what Fjord created for a deleted environment.
pub(crate) const TEARDOWN: &str = "network.teardown";

/// Whether `kind` is one of these jobs.
pub(crate) fn handles(kind: &str) -> bool {
    matches!(kind, PREFLIGHT | PROVISION | TEARDOWN)
}

/// What jobs say when the control plane has no AWS settings.
const NOT_CONFIGURED: &str =
    "cloud provisioning is not configured on this control plane (see --aws-access-key-id)";

/// In the transaction deleting `environment`: when Fjord ever provisioned
/// its network, enqueues the teardown, carrying what it needs once the
/// environment row is gone. Returns the operation's id.
pub(crate) async fn enqueue_teardown(
    db: &mut sqlx::PgConnection,
    environment: &fjord_store::environment::EnvironmentRow,
) -> Result<Option<uuid::Uuid>, crate::error::AppError> {
    let network = fjord_store::provisioning::get_network(
        &mut *db,
        environment.organization_id,
        environment.environment_id,
        true,
    )
    .await?;
    if network.is_none_or(|network| network.job_id.is_none()) {
        return Ok(None);
    }
    let job = fjord_store::job::enqueue(
        db,
        environment.organization_id,
        TEARDOWN,
        serde_json::json!({
            "environment_id": environment.environment_id,
            "cloud_account_id": environment.cloud_account_id,
            "region": environment.region,
        }),
    )
    .await?;
    Ok(Some(job.job_id))
}
