use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use fjord_api::{
    ConnectionState, Environment, EnvironmentConnection, EnvironmentCreate, EnvironmentCreated,
    EnvironmentUpdate, Page, RegistrationToken,
};
use fjord_store::environment::{EnvironmentRow, NewEnvironment};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::{IdempotencyKey, IfMatch, Problems};
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::mutation::{self, Mutation, with_etag};
use crate::pagination::PageQuery;
use crate::secret::{self, TokenKind};
use crate::state::{AgentSettings, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_environments, create_environment))
        .routes(routes!(
            get_environment,
            update_environment,
            delete_environment
        ))
        .routes(routes!(reissue_registration_token))
}

/// The API form, with the connection state as of now.
pub(crate) fn to_api(row: EnvironmentRow, settings: &AgentSettings) -> Environment {
    let state = match (row.agent_registered_at, row.agent_last_seen_at) {
        (None, _) => ConnectionState::Pending,
        (Some(_), Some(seen))
            if (Utc::now() - seen).to_std().unwrap_or_default() < settings.disconnected_after =>
        {
            ConnectionState::Connected
        }
        (Some(_), _) => ConnectionState::Disconnected,
    };
    Environment {
        environment_id: row.environment_id,
        cloud_account_id: row.cloud_account_id,
        name: row.name,
        region: row.region,
        connection: EnvironmentConnection {
            state,
            registered_at: row.agent_registered_at,
            last_seen_at: row.agent_last_seen_at,
            agent_version: row.agent_version,
            observed_generation: row.observed_generation,
            last_intent_report: row
                .agent_last_intent_report
                .and_then(|report| serde_json::from_value(report.0).ok()),
        },
        generation: row.generation,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Creates an environment in a cloud account; the response carries the
/// one-time token its agent registers with.
#[utoipa::path(
    post,
    path = "/v1/environments",
    tag = "inventory",
    security(("api_key" = [])),
    params(IdempotencyKey),
    request_body = EnvironmentCreate,
    responses(
        (status = 201, description = "The environment and its registration token", body = EnvironmentCreated, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn create_environment(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<EnvironmentCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    fjord_store::cloud_account::get(mutation.db(), organization_id, body.cloud_account_id, false)
        .await?
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "cloud_account_id {} not found",
                body.cloud_account_id
            ))
        })?;
    let (token, token_hash) = secret::generate(TokenKind::Registration)?;
    let row = fjord_store::environment::insert(
        mutation.db(),
        &NewEnvironment {
            environment_id: Uuid::now_v7(),
            organization_id,
            cloud_account_id: body.cloud_account_id,
            name: &body.name,
            region: &body.region,
            registration_token_hash: &token_hash,
        },
    )
    .await?;
    mutation
        .audit(
            "environment.create",
            "environment",
            row.environment_id,
            json!({"name": row.name, "region": row.region}),
        )
        .await?;
    let revision = row.revision;
    let created = EnvironmentCreated {
        environment: to_api(row, &state.agent),
        registration_token: token,
    };
    mutation
        .finish(StatusCode::CREATED, Some(revision), Some(&created))
        .await
}

/// Lists environments with their connection state.
#[utoipa::path(
    get,
    path = "/v1/environments",
    tag = "inventory",
    security(("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of environments", body = Page<Environment>),
        Problems,
    )
)]
pub(crate) async fn list_environments(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<Json<Page<Environment>>, AppError> {
    let rows =
        fjord_store::environment::list(&state.pool, principal.organization_id, query.request()?)
            .await?;
    Ok(Json(query.page(
        rows,
        |row| row.environment_id,
        |row| to_api(row, &state.agent),
    )?))
}

/// One environment.
#[utoipa::path(
    get,
    path = "/v1/environments/{environment_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The environment", body = Environment, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn get_environment(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let row = fjord_store::environment::get(&state.pool, principal.organization_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("environment", id))?;
    Ok(with_etag(row.revision, to_api(row, &state.agent)))
}

/// Renames an environment.
#[utoipa::path(
    patch,
    path = "/v1/environments/{environment_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IfMatch, IdempotencyKey),
    request_body = EnvironmentUpdate,
    responses(
        (status = 200, description = "The updated environment", body = Environment, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn update_environment(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    AppJson(body): AppJson<EnvironmentUpdate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    mutation::current(
        fjord_store::environment::get(mutation.db(), organization_id, id, true).await?,
        "environment",
        id,
        &headers,
    )?;
    let row = fjord_store::environment::rename(mutation.db(), organization_id, id, &body.name)
        .await?
        .ok_or_else(|| AppError::not_found("environment", id))?;
    mutation
        .audit(
            "environment.update",
            "environment",
            id,
            json!({"name": row.name}),
        )
        .await?;
    let revision = row.revision;
    mutation
        .finish(
            StatusCode::OK,
            Some(revision),
            Some(&to_api(row, &state.agent)),
        )
        .await
}

/// Deletes an environment that has no clusters left.
#[utoipa::path(
    delete,
    path = "/v1/environments/{environment_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IfMatch, IdempotencyKey),
    responses(
        (status = 204, description = "Deleted"),
        Problems,
    )
)]
pub(crate) async fn delete_environment(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::environment::get(mutation.db(), organization_id, id, true).await?,
        "environment",
        id,
        &headers,
    )?;
    // Removes what Fjord created in the customer's account (docs/provisioning.md);
    // rolled back with the deletion when clusters remain (409).
    let teardown = crate::provisioning::enqueue_teardown(mutation.db(), &current).await?;
    fjord_store::environment::delete(mutation.db(), organization_id, id).await?;
    mutation
        .audit(
            "environment.delete",
            "environment",
            id,
            json!({"name": current.name, "teardown_operation_id": teardown}),
        )
        .await?;
    mutation
        .finish::<()>(StatusCode::NO_CONTENT, None, None)
        .await
}

/// Issues a new one-time registration token (e.g. to reinstall the agent);
/// the previous token stops working. A registered agent keeps its
/// credential until one registers with the new token.
#[utoipa::path(
    post,
    path = "/v1/environments/{environment_id}/registration-token",
    tag = "inventory",
    security(("api_key" = [])),
    params(("environment_id" = Uuid, Path), IdempotencyKey),
    responses(
        (status = 201, description = "The new token", body = RegistrationToken),
        Problems,
    )
)]
pub(crate) async fn reissue_registration_token(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let (token, token_hash) = secret::generate(TokenKind::Registration)?;
    if !fjord_store::environment::set_registration_token(
        mutation.db(),
        organization_id,
        id,
        &token_hash,
    )
    .await?
    {
        return Err(AppError::not_found("environment", id));
    }
    mutation
        .audit(
            "environment.registration-token",
            "environment",
            id,
            json!({}),
        )
        .await?;
    let body = RegistrationToken {
        registration_token: token,
    };
    mutation
        .finish(StatusCode::CREATED, None, Some(&body))
        .await
}
