use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fjord_api::{Page, Rollout, RolloutClusterProgress, RolloutCreate};
use fjord_store::rollout::RolloutRow;
use serde_json::json;
use sqlx::PgConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::{IdempotencyKey, IfMatch, Problems};
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::mutation::{Mutation, check_if_match, with_etag};
use crate::pagination::PageQuery;
use crate::rollout::JOB_KIND;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rollouts, create_rollout))
        .routes(routes!(get_rollout))
        .routes(routes!(pause_rollout))
        .routes(routes!(resume_rollout))
}

async fn load(db: &mut PgConnection, row: RolloutRow) -> Result<Rollout, AppError> {
    let clusters =
        fjord_store::rollout::clusters(&mut *db, row.organization_id, row.rollout_id).await?;
    Ok(Rollout {
        rollout_id: row.rollout_id,
        target_version: row.target_version,
        max_in_flight: row.max_in_flight,
        state: row.state,
        halted_reason: row.halted_reason,
        operation_id: row.job_id,
        clusters: clusters
            .into_iter()
            .map(|c| RolloutClusterProgress {
                cluster_id: c.cluster_id,
                wave: c.wave,
                state: c.state,
                message: c.message,
                started_at: c.started_at,
                finished_at: c.finished_at,
            })
            .collect(),
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Starts a rollout; an operation drives it in the background.
#[utoipa::path(
    post,
    path = "/v1/rollouts",
    tag = "rollouts",
    security(("api_key" = [])),
    params(IdempotencyKey),
    request_body = RolloutCreate,
    responses(
        (status = 201, description = "The rollout, running", body = Rollout, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn create_rollout(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<RolloutCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = principal.organization_id;
    if fjord_store::release::get(mutation.db(), &body.target_version)
        .await?
        .is_none()
    {
        return Err(AppError::Invalid(format!(
            "target_version {:?} is not in the release catalog",
            body.target_version
        )));
    }
    for cluster_id in body.waves.iter().flatten() {
        if fjord_store::cluster::get(mutation.db(), organization_id, *cluster_id, false)
            .await?
            .is_none()
        {
            return Err(AppError::Invalid(format!(
                "cluster {cluster_id} in waves not found"
            )));
        }
    }
    let rollout_id = Uuid::now_v7();
    fjord_store::rollout::insert(
        mutation.db(),
        organization_id,
        rollout_id,
        &body.target_version,
        body.max_in_flight,
        &body.waves,
    )
    .await?;
    let job = fjord_store::job::enqueue(
        mutation.db(),
        organization_id,
        JOB_KIND,
        json!({"rollout_id": rollout_id}),
    )
    .await?;
    let row = fjord_store::rollout::set_state(
        mutation.db(),
        organization_id,
        rollout_id,
        "running",
        None,
        Some(job.job_id),
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("rollout {rollout_id} vanished in its own transaction"))?;
    mutation
        .audit(
            "rollout.create",
            "rollout",
            rollout_id,
            json!({"target_version": body.target_version, "waves": body.waves}),
        )
        .await?;
    let revision = row.revision;
    let rollout = load(mutation.db(), row).await?;
    mutation
        .finish(StatusCode::CREATED, Some(revision), Some(&rollout))
        .await
}

/// Lists rollouts.
#[utoipa::path(
    get,
    path = "/v1/rollouts",
    tag = "rollouts",
    security(("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of rollouts", body = Page<Rollout>),
        Problems,
    )
)]
pub(crate) async fn list_rollouts(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<Json<Page<Rollout>>, AppError> {
    let rows = fjord_store::rollout::list(&state.pool, principal.organization_id, query.request()?)
        .await?;
    let page = query.page(rows, |row| row.rollout_id, |row| row)?;
    let mut connection = state.pool.acquire().await?;
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(load(&mut connection, row).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// One rollout with every cluster's progress.
#[utoipa::path(
    get,
    path = "/v1/rollouts/{rollout_id}",
    tag = "rollouts",
    security(("api_key" = [])),
    params(("rollout_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The rollout", body = Rollout, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn get_rollout(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let mut connection = state.pool.acquire().await?;
    let row = fjord_store::rollout::get(&mut *connection, principal.organization_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("rollout", id))?;
    let revision = row.revision;
    Ok(with_etag(revision, load(&mut connection, row).await?))
}

/// Pauses a running rollout: clusters in flight finish, none start.
#[utoipa::path(
    post,
    path = "/v1/rollouts/{rollout_id}/pause",
    tag = "rollouts",
    security(("api_key" = [])),
    params(("rollout_id" = Uuid, Path), IfMatch, IdempotencyKey),
    responses(
        (status = 200, description = "The paused rollout", body = Rollout, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn pause_rollout(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    transition(&state, &principal, id, &headers, Transition::Pause).await
}

/// Resumes a paused or halted rollout; failed clusters are tried again.
#[utoipa::path(
    post,
    path = "/v1/rollouts/{rollout_id}/resume",
    tag = "rollouts",
    security(("api_key" = [])),
    params(("rollout_id" = Uuid, Path), IfMatch, IdempotencyKey),
    responses(
        (status = 200, description = "The running rollout", body = Rollout, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn resume_rollout(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    transition(&state, &principal, id, &headers, Transition::Resume).await
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transition {
    Pause,
    Resume,
}

async fn transition(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    headers: &HeaderMap,
    transition: Transition,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(state, principal).await?;
    let organization_id = principal.organization_id;
    let current = fjord_store::rollout::get(mutation.db(), organization_id, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("rollout", id))?;
    check_if_match(headers, current.revision)?;
    let row = match (transition, current.state.as_str()) {
        (Transition::Pause, "running") => {
            fjord_store::rollout::set_state(
                mutation.db(),
                organization_id,
                id,
                "paused",
                None,
                None,
            )
            .await?
        }
        (Transition::Resume, "paused" | "halted") => {
            fjord_store::rollout::retry_failed(mutation.db(), organization_id, id).await?;
            let job = fjord_store::job::enqueue(
                mutation.db(),
                organization_id,
                JOB_KIND,
                json!({"rollout_id": id}),
            )
            .await?;
            fjord_store::rollout::set_state(
                mutation.db(),
                organization_id,
                id,
                "running",
                None,
                Some(job.job_id),
            )
            .await?
        }
        (_, state) => {
            return Err(AppError::Conflict(format!(
                "a {state} rollout cannot be {}",
                if transition == Transition::Pause {
                    "paused"
                } else {
                    "resumed"
                }
            )));
        }
    }
    .ok_or_else(|| AppError::not_found("rollout", id))?;
    let action = if transition == Transition::Pause {
        "rollout.pause"
    } else {
        "rollout.resume"
    };
    mutation
        .audit(action, "rollout", id, json!({"from": current.state}))
        .await?;
    let revision = row.revision;
    let rollout = load(mutation.db(), row).await?;
    mutation
        .finish(StatusCode::OK, Some(revision), Some(&rollout))
        .await
}
