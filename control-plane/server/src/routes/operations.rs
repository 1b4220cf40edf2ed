use axum::Json;
use axum::extract::State;
use fjord_api::{Operation, Page};
use fjord_store::job::JobRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppPath, AppQuery};
use crate::pagination::PageQuery;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_operations))
        .routes(routes!(get_operation))
}

fn to_api(row: JobRow) -> Operation {
    Operation {
        operation_id: row.job_id,
        kind: row.kind,
        state: row.state,
        attempts: row.attempts,
        last_error: row.last_error,
        target: row.payload.0,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Lists long-running operations.
#[utoipa::path(
    get,
    path = "/v1/operations",
    tag = "rollouts",
    security(("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of operations", body = Page<Operation>),
        Problems,
    )
)]
pub(crate) async fn list_operations(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<Json<Page<Operation>>, AppError> {
    let rows =
        fjord_store::job::list(&state.pool, principal.organization_id, query.request()?).await?;
    Ok(Json(query.page(rows, |row| row.job_id, to_api)?))
}

/// One operation.
#[utoipa::path(
    get,
    path = "/v1/operations/{operation_id}",
    tag = "rollouts",
    security(("api_key" = [])),
    params(("operation_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The operation", body = Operation),
        Problems,
    )
)]
pub(crate) async fn get_operation(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Operation>, AppError> {
    let row = fjord_store::job::get(&state.pool, principal.organization_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("operation", id))?;
    Ok(Json(to_api(row)))
}
