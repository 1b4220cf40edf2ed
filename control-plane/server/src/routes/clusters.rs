use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fjord_api::{Cluster, ClusterCreate, ClusterStatus, ClusterUpdate, Page};
use fjord_store::cluster::{ClusterRow, ClusterSpec};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::{IdempotencyKey, IfMatch, Problems};
use crate::auth::Principal;
use crate::cluster_operation;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::intent;
use crate::mutation::{self, Mutation, with_etag};
use crate::pagination::PageQuery;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clusters, create_cluster))
        .routes(routes!(get_cluster, update_cluster, delete_cluster))
}

fn to_api(row: ClusterRow) -> Cluster {
    let conditions = serde_json::from_value(row.conditions.0).unwrap_or_default();
    let metrics: BTreeMap<String, f64> = serde_json::from_value(row.metrics.0).unwrap_or_default();
    let brokers = serde_json::from_value(row.brokers.0).unwrap_or_default();
    Cluster {
        cluster_id: row.cluster_id,
        environment_id: row.environment_id,
        name: row.name,
        version: row.version,
        broker_count: row.broker_count,
        storage_gib: row.storage_gib,
        config: row.config.0,
        status: ClusterStatus {
            phase: row.phase,
            observed_version: row.observed_version,
            brokers_ready: row.brokers_ready,
            conditions,
            metrics,
            brokers,
            bootstrap_address: row.bootstrap_address,
            reported_at: row.reported_at,
        },
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn require_release(db: &mut PgConnection, version: &str) -> Result<(), AppError> {
    match fjord_store::release::get(db, version).await? {
        Some(release) if !release.deprecated => Ok(()),
        Some(_) => Err(AppError::Invalid(format!(
            "version {version} is deprecated"
        ))),
        None => Err(AppError::Invalid(format!(
            "version {version:?} is not in the release catalog (GET /v1/releases)"
        ))),
    }
}

/// Creates a cluster; its environment's agent gets a new intent.
#[utoipa::path(
    post,
    path = "/v1/clusters",
    tag = "inventory",
    security(("api_key" = [])),
    params(IdempotencyKey),
    request_body = ClusterCreate,
    responses(
        (status = 201, description = "The cluster", body = Cluster, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn create_cluster(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<ClusterCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    fjord_store::environment::get(mutation.db(), organization_id, body.environment_id, false)
        .await?
        .ok_or_else(|| {
            AppError::Invalid(format!("environment_id {} not found", body.environment_id))
        })?;
    require_release(mutation.db(), &body.version).await?;
    let spec = ClusterSpec {
        version: body.version,
        broker_count: body.broker_count,
        storage_gib: body.storage_gib,
        config: body.config,
    };
    let row = fjord_store::cluster::insert(
        mutation.db(),
        organization_id,
        body.environment_id,
        Uuid::now_v7(),
        &body.name,
        &spec,
    )
    .await?;
    let generation = intent::publish(
        mutation.db(),
        &state.signer,
        organization_id,
        row.environment_id,
    )
    .await?;
    let operation_id = cluster_operation::enqueue(
        mutation.db(),
        cluster_operation::CREATE,
        organization_id,
        row.environment_id,
        row.cluster_id,
        generation,
    )
    .await?;
    mutation
        .audit(
            "cluster.create",
            "cluster",
            row.cluster_id,
            json!({"name": row.name, "version": row.version, "broker_count": row.broker_count,
                   "operation_id": operation_id}),
        )
        .await?;
    mutation.finish_with(StatusCode::CREATED, row, to_api).await
}

/// Filters of the cluster list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClusterFilter {
    /// Only clusters of this environment.
    environment_id: Option<Uuid>,
}

/// Lists clusters with their reported status.
#[utoipa::path(
    get,
    path = "/v1/clusters",
    tag = "inventory",
    security(("api_key" = [])),
    params(PageQuery, ClusterFilter),
    responses(
        (status = 200, description = "A page of clusters", body = Page<Cluster>),
        Problems,
    )
)]
pub(crate) async fn list_clusters(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
    AppQuery(filter): AppQuery<ClusterFilter>,
) -> Result<Json<Page<Cluster>>, AppError> {
    let rows = fjord_store::cluster::list(
        &state.pool,
        principal.organization_id,
        filter.environment_id,
        query.request()?,
    )
    .await?;
    Ok(Json(query.page(rows, |row| row.cluster_id, to_api)?))
}

/// One cluster.
#[utoipa::path(
    get,
    path = "/v1/clusters/{cluster_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cluster_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The cluster", body = Cluster, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn get_cluster(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let row = fjord_store::cluster::get(&state.pool, principal.organization_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("cluster", id))?;
    Ok(with_etag(row.revision, to_api(row)))
}

/// Changes a cluster's version, size or configuration.
#[utoipa::path(
    patch,
    path = "/v1/clusters/{cluster_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cluster_id" = Uuid, Path), IfMatch, IdempotencyKey),
    request_body = ClusterUpdate,
    responses(
        (status = 200, description = "The updated cluster", body = Cluster, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn update_cluster(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    AppJson(body): AppJson<ClusterUpdate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::cluster::get(mutation.db(), organization_id, id, true).await?,
        "cluster",
        id,
        &headers,
    )?;
    if let Some(version) = &body.version {
        require_release(mutation.db(), version).await?;
    }
    if body
        .storage_gib
        .is_some_and(|storage| storage < current.storage_gib)
    {
        return Err(AppError::Invalid(format!(
            "storage_gib may only grow, from {}",
            current.storage_gib
        )));
    }
    let spec = ClusterSpec {
        version: body.version.clone().unwrap_or(current.version),
        broker_count: body.broker_count.unwrap_or(current.broker_count),
        storage_gib: body.storage_gib.unwrap_or(current.storage_gib),
        config: body.config.clone().unwrap_or(current.config.0),
    };
    let row = fjord_store::cluster::update_spec(mutation.db(), organization_id, id, &spec)
        .await?
        .ok_or_else(|| AppError::not_found("cluster", id))?;
    intent::publish(
        mutation.db(),
        &state.signer,
        organization_id,
        row.environment_id,
    )
    .await?;
    mutation
        .audit(
            "cluster.update",
            "cluster",
            id,
            serde_json::to_value(&body).map_err(anyhow::Error::new)?,
        )
        .await?;
    mutation.finish_with(StatusCode::OK, row, to_api).await
}

/// Deletes a cluster and its topics.
#[utoipa::path(
    delete,
    path = "/v1/clusters/{cluster_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cluster_id" = Uuid, Path), IfMatch, IdempotencyKey),
    responses(
        (status = 204, description = "Deleted"),
        Problems,
    )
)]
pub(crate) async fn delete_cluster(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::cluster::get(mutation.db(), organization_id, id, true).await?,
        "cluster",
        id,
        &headers,
    )?;
    fjord_store::cluster::delete(mutation.db(), organization_id, id).await?;
    let generation = intent::publish(
        mutation.db(),
        &state.signer,
        organization_id,
        current.environment_id,
    )
    .await?;
    let operation_id = cluster_operation::enqueue(
        mutation.db(),
        cluster_operation::DELETE,
        organization_id,
        current.environment_id,
        id,
        generation,
    )
    .await?;
    mutation
        .audit(
            "cluster.delete",
            "cluster",
            id,
            json!({"name": current.name, "operation_id": operation_id}),
        )
        .await?;
    mutation
        .finish::<()>(StatusCode::NO_CONTENT, None, None)
        .await
}
