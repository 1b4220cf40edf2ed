//! A cluster's reported status over time, for charts: the agent's status
//! reports, newest first, the newest 1,000 kept per cluster.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use fjord_api::{ClusterStatusHistory, ClusterStatusSample};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppPath, AppQuery};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_status_history))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// How many samples, newest first: 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// The cluster's reported status samples, newest first.
#[utoipa::path(
    get,
    path = "/v1/clusters/{cluster_id}/status-history",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cluster_id" = Uuid, Path), HistoryQuery),
    responses(
        (status = 200, description = "Samples, newest first", body = ClusterStatusHistory),
        Problems,
    )
)]
pub(crate) async fn get_status_history(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppQuery(query): AppQuery<HistoryQuery>,
) -> Result<Json<ClusterStatusHistory>, AppError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=fjord_store::cluster_status_sample::SAMPLES_PER_CLUSTER).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and 1000, got {limit}"
        )));
    }
    fjord_store::cluster::get(&state.pool, principal.organization_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("cluster", id))?;
    let rows =
        fjord_store::cluster_status_sample::list(&state.pool, principal.organization_id, id, limit)
            .await?;
    let items = rows
        .into_iter()
        .map(|row| ClusterStatusSample {
            reported_at: row.created_at,
            phase: row.phase,
            version: row.observed_version,
            brokers_ready: row.brokers_ready,
            metrics: serde_json::from_value::<BTreeMap<String, f64>>(row.metrics.0)
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(ClusterStatusHistory { items }))
}
