use axum::Json;
use axum::extract::State;
use fjord_api::{Intent, SigningKey};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppPath, AppQuery};
use crate::intent;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_intents))
        .routes(routes!(get_intent))
        .routes(routes!(get_signing_key))
}

/// Paging of intent history (newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IntentHistoryQuery {
    /// Only generations below this one.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// An environment's intent history, newest first.
#[utoipa::path(
    get,
    path = "/v1/environments/{environment_id}/intents",
    tag = "intents",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IntentHistoryQuery),
    responses(
        (status = 200, description = "Intents, newest first", body = Vec<Intent>),
        Problems,
    )
)]
pub(crate) async fn list_intents(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(environment_id): AppPath<Uuid>,
    AppQuery(query): AppQuery<IntentHistoryQuery>,
) -> Result<Json<Vec<Intent>>, AppError> {
    if query.before.is_some_and(|before| before < 1) {
        return Err(AppError::BadRequest("before must be 1 or more".into()));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and 100, got {limit}"
        )));
    }
    fjord_store::environment::get(
        &state.pool,
        principal.organization_id,
        environment_id,
        false,
    )
    .await?
    .ok_or_else(|| AppError::not_found("environment", environment_id))?;
    let rows = fjord_store::intent::list(
        &state.pool,
        principal.organization_id,
        environment_id,
        query.before,
        limit,
    )
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(intent::to_api)
            .collect::<Result<_, _>>()?,
    ))
}

/// One generation of an environment's intent.
#[utoipa::path(
    get,
    path = "/v1/environments/{environment_id}/intents/{generation}",
    tag = "intents",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), ("generation" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The intent", body = Intent),
        Problems,
    )
)]
pub(crate) async fn get_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath((environment_id, generation)): AppPath<(Uuid, i64)>,
) -> Result<Json<Intent>, AppError> {
    let row = fjord_store::intent::get(
        &state.pool,
        principal.organization_id,
        environment_id,
        generation,
    )
    .await?
    .ok_or_else(|| {
        AppError::NotFound(format!(
            "environment {environment_id} has no intent generation {generation}"
        ))
    })?;
    Ok(Json(intent::to_api(row)?))
}

/// The public key intents are signed with, for agents to pin.
#[utoipa::path(
    get,
    path = "/v1/signing-key",
    tag = "intents",
    responses((status = 200, description = "The public key", body = SigningKey))
)]
pub(crate) async fn get_signing_key(State(state): State<AppState>) -> Json<SigningKey> {
    Json(SigningKey {
        algorithm: "ed25519".to_owned(),
        public_key: state.signer.public_key_base64(),
        key_id: state.signer.key_id().to_owned(),
    })
}
