//! An environment's network and preflight checklist (docs/provisioning.md).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fjord_api::{Checklist, EnvironmentNetwork, NetworkSettings};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::{IdempotencyKey, Problems};
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath};
use crate::mutation::Mutation;
use crate::provisioning::{self, checklist_to_api, network_to_api, unconfigured_network};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_network, put_network))
        .routes(routes!(provision_network))
        .routes(routes!(get_checklist, run_checklist))
}

async fn environment(
    db: &mut sqlx::PgConnection,
    organization_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<fjord_store::environment::EnvironmentRow, AppError> {
    fjord_store::environment::get(db, organization_id, id, lock)
        .await?
        .ok_or_else(|| AppError::not_found("environment", id))
}

/// The environment's network: settings, state, resources and the steps of
/// the latest provisioning operation (state `unconfigured`, settings `null`,
/// until the first `PUT`).
#[utoipa::path(
    get,
    path = "/v1/environments/{environment_id}/network",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The network", body = EnvironmentNetwork),
        Problems,
    )
)]
pub(crate) async fn get_network(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let organization_id = principal.organization_id;
    let Some(row) =
        fjord_store::provisioning::get_network(&state.pool, organization_id, id, false).await?
    else {
        // No settings yet: the environment's network exists in state
        // `unconfigured` (404 only when the environment does not).
        let mut db = state.pool.acquire().await?;
        let environment = environment(&mut db, organization_id, id, false).await?;
        return Ok(axum::Json(unconfigured_network(&environment)).into_response());
    };
    let steps = match row.job_id {
        Some(job_id) => {
            fjord_store::provisioning::list_steps(&state.pool, organization_id, job_id).await?
        }
        None => Vec::new(),
    };
    Ok(axum::Json(network_to_api(row, steps)?).into_response())
}

/// Sets the network to create or adopt; provisioning starts with
/// `POST …/network/provision`.
#[utoipa::path(
    put,
    path = "/v1/environments/{environment_id}/network",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IdempotencyKey),
    request_body = NetworkSettings,
    responses(
        (status = 200, description = "The network", body = EnvironmentNetwork),
        Problems,
    )
)]
pub(crate) async fn put_network(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<NetworkSettings>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    environment(mutation.db(), organization_id, id, true).await?;
    if let Some(current) =
        fjord_store::provisioning::get_network(mutation.db(), organization_id, id, true).await?
    {
        if current.state == "provisioning" {
            return Err(AppError::Conflict(
                "the network is being provisioned; change it when the operation has finished"
                    .into(),
            ));
        }
        if current.resources.is_some() && provisioning::settings_of(&current)? != body {
            return Err(AppError::Conflict(
                "the network is provisioned; delete the environment to start over".into(),
            ));
        }
    }
    let settings = serde_json::to_value(&body).map_err(anyhow::Error::new)?;
    let row = fjord_store::provisioning::put_settings(
        mutation.db(),
        organization_id,
        id,
        settings.clone(),
    )
    .await?;
    mutation
        .audit("environment.network.update", "environment", id, settings)
        .await?;
    let network = network_to_api(row, Vec::new())?;
    mutation.finish(StatusCode::OK, None, Some(&network)).await
}

/// Starts provisioning the network as an operation; safe to repeat (a run
/// over a provisioned network changes nothing).
#[utoipa::path(
    post,
    path = "/v1/environments/{environment_id}/network/provision",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IdempotencyKey),
    responses(
        (status = 202, description = "Provisioning started", body = EnvironmentNetwork),
        Problems,
    )
)]
pub(crate) async fn provision_network(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    environment(mutation.db(), organization_id, id, true).await?;
    let current = fjord_store::provisioning::get_network(mutation.db(), organization_id, id, true)
        .await?
        .ok_or_else(|| {
            AppError::Conflict("the environment has no network settings; PUT them first".into())
        })?;
    if current.state == "provisioning" {
        return Err(AppError::Conflict(format!(
            "operation {} is provisioning the network already",
            current.job_id.map(|id| id.to_string()).unwrap_or_default()
        )));
    }
    let job = fjord_store::job::enqueue(
        mutation.db(),
        organization_id,
        provisioning::PROVISION,
        json!({"environment_id": id}),
    )
    .await?;
    let row = fjord_store::provisioning::start_provisioning(
        mutation.db(),
        organization_id,
        id,
        job.job_id,
    )
    .await?
    .ok_or_else(|| AppError::not_found("environment", id))?;
    mutation
        .audit(
            "environment.network.provision",
            "environment",
            id,
            json!({"operation_id": job.job_id}),
        )
        .await?;
    let network = network_to_api(row, Vec::new())?;
    mutation
        .finish(StatusCode::ACCEPTED, None, Some(&network))
        .await
}

/// The latest preflight checklist (every check `pending` before the first
/// run).
#[utoipa::path(
    get,
    path = "/v1/environments/{environment_id}/checklist",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The checklist", body = Checklist),
        Problems,
    )
)]
pub(crate) async fn get_checklist(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let organization_id = principal.organization_id;
    let mut connection = state.pool.acquire().await?;
    let environment = environment(&mut connection, organization_id, id, false).await?;
    let checklist =
        match fjord_store::provisioning::get_checklist(&mut *connection, organization_id, id)
            .await?
        {
            Some(row) => checklist_to_api(row)?,
            None => {
                let settings = match fjord_store::provisioning::get_network(
                    &mut *connection,
                    organization_id,
                    id,
                    false,
                )
                .await?
                {
                    Some(row) => provisioning::settings_of(&row)?,
                    None => provisioning::default_settings(),
                };
                let spec = provisioning::spec(&environment, &settings);
                Checklist {
                    environment_id: id,
                    state: "pending".into(),
                    operation_id: None,
                    checks: fjord_provisioner::preflight::pending_checklist(&spec)
                        .iter()
                        .map(provisioning::check_to_api)
                        .collect(),
                    updated_at: environment.updated_at,
                }
            }
        };
    Ok(axum::Json(checklist).into_response())
}

/// Runs the preflight checks as an operation, with the environment's
/// network settings (or a new VPC over three zones when it has none).
#[utoipa::path(
    post,
    path = "/v1/environments/{environment_id}/checklist",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IdempotencyKey),
    responses(
        (status = 202, description = "The checks started", body = Checklist),
        Problems,
    )
)]
pub(crate) async fn run_checklist(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let environment = environment(mutation.db(), organization_id, id, true).await?;
    let settings =
        match fjord_store::provisioning::get_network(mutation.db(), organization_id, id, false)
            .await?
        {
            Some(row) => provisioning::settings_of(&row)?,
            None => provisioning::default_settings(),
        };
    let job = fjord_store::job::enqueue(
        mutation.db(),
        organization_id,
        provisioning::PREFLIGHT,
        json!({"environment_id": id, "settings": settings}),
    )
    .await?;
    let spec = provisioning::spec(&environment, &settings);
    let pending: Vec<_> = fjord_provisioner::preflight::pending_checklist(&spec)
        .iter()
        .map(provisioning::check_to_api)
        .collect();
    let row = fjord_store::provisioning::start_checklist(
        mutation.db(),
        organization_id,
        id,
        job.job_id,
        serde_json::to_value(&pending).map_err(anyhow::Error::new)?,
    )
    .await?;
    mutation
        .audit(
            "environment.checklist.run",
            "environment",
            id,
            json!({"operation_id": job.job_id}),
        )
        .await?;
    let checklist = checklist_to_api(row)?;
    mutation
        .finish(StatusCode::ACCEPTED, None, Some(&checklist))
        .await
}
