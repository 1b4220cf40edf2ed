use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fjord_api::{ApiKey, ApiKeyCreate, ApiKeyCreated, Page, Scope};
use fjord_store::api_key::{ApiKeyRow, NewApiKey};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::{IdempotencyKey, Problems};
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::mutation::Mutation;
use crate::pagination::PageQuery;
use crate::secret::{self, TokenKind};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key))
        .routes(routes!(revoke_api_key))
}

pub(crate) fn to_api(row: ApiKeyRow) -> ApiKey {
    ApiKey {
        api_key_id: row.api_key_id,
        name: row.name,
        scope: Scope::parse(&row.scope).unwrap_or(Scope::ReadOnly),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    }
}

/// Creates an API key; its secret is in this response only.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "organization",
    security(("api_key" = [])),
    params(IdempotencyKey),
    request_body = ApiKeyCreate,
    responses(
        (status = 201, description = "The key and its secret", body = ApiKeyCreated),
        Problems,
    )
)]
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<ApiKeyCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let (token, token_hash) = secret::generate(TokenKind::ApiKey)?;
    let row = fjord_store::api_key::insert(
        mutation.db(),
        &NewApiKey {
            api_key_id: Uuid::now_v7(),
            organization_id: principal.organization_id,
            name: &body.name,
            scope: body.scope.as_str(),
            token_hash: &token_hash,
        },
    )
    .await?;
    mutation
        .audit(
            "api-key.create",
            "api_key",
            row.api_key_id,
            json!({"name": row.name, "scope": row.scope}),
        )
        .await?;
    let created = ApiKeyCreated {
        api_key: to_api(row),
        secret: token,
    };
    mutation
        .finish(StatusCode::CREATED, None, Some(&created))
        .await
}

/// Lists the organization's API keys, revoked ones included.
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "organization",
    security(("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKey>),
        Problems,
    )
)]
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<Json<Page<ApiKey>>, AppError> {
    let rows = fjord_store::api_key::list(&state.pool, principal.organization_id, query.request()?)
        .await?;
    Ok(Json(query.page(rows, |row| row.api_key_id, to_api)?))
}

/// One API key (never its secret).
#[utoipa::path(
    get,
    path = "/v1/api-keys/{api_key_id}",
    tag = "organization",
    security(("api_key" = [])),
    params(("api_key_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        Problems,
    )
)]
pub(crate) async fn get_api_key(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<ApiKey>, AppError> {
    let row = fjord_store::api_key::get(&state.pool, principal.organization_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("api key", id))?;
    Ok(Json(to_api(row)))
}

/// Revokes an API key at once; it stays listed with `revoked_at`, so the
/// audit trail can name it. Revoking twice keeps the first time.
#[utoipa::path(
    post,
    path = "/v1/api-keys/{api_key_id}/revoke",
    tag = "organization",
    security(("api_key" = [])),
    params(("api_key_id" = Uuid, Path), IdempotencyKey),
    responses(
        (status = 200, description = "The revoked key", body = ApiKey),
        Problems,
    )
)]
pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let row = fjord_store::api_key::revoke(mutation.db(), principal.organization_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("api key", id))?;
    mutation
        .audit("api-key.revoke", "api_key", id, json!({}))
        .await?;
    let response = mutation
        .finish(StatusCode::OK, None, Some(&to_api(row)))
        .await?;
    // At once on this replica; others drop it when the NOTIFY arrives.
    state.intents.verified_keys.forget(id);
    Ok(response)
}
