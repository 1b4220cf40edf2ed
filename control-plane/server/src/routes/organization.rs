use axum::Json;
use axum::extract::State;
use fjord_api::Organization;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_organization))
}

/// The organization the API key belongs to.
#[utoipa::path(
    get,
    path = "/v1/organization",
    tag = "organization",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The caller's organization", body = Organization),
        Problems,
    )
)]
pub(crate) async fn get_organization(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Organization>, AppError> {
    let row = fjord_store::organization::get(&state.pool, principal.organization_id)
        .await?
        .ok_or_else(|| AppError::not_found("organization", principal.organization_id))?;
    Ok(Json(Organization {
        organization_id: row.organization_id,
        name: row.name,
        created_at: row.created_at,
    }))
}
