use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fjord_api::{CloudAccount, CloudAccountCreate, CloudAccountUpdate, Page, validate};
use fjord_store::cloud_account::{CloudAccountRow, NewCloudAccount};
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
use crate::secret;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cloud_accounts, create_cloud_account))
        .routes(routes!(
            get_cloud_account,
            update_cloud_account,
            delete_cloud_account
        ))
}

fn to_api(row: CloudAccountRow) -> CloudAccount {
    CloudAccount {
        cloud_account_id: row.cloud_account_id,
        name: row.name,
        aws_account_id: row.aws_account_id,
        role_arn: row.role_arn,
        external_id: row.external_id,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Registers an AWS account; the response carries the external id to put
/// in the role's trust policy.
#[utoipa::path(
    post,
    path = "/v1/cloud-accounts",
    tag = "inventory",
    security(("api_key" = [])),
    params(IdempotencyKey),
    request_body = CloudAccountCreate,
    responses(
        (status = 201, description = "The account", body = CloudAccount, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn create_cloud_account(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<CloudAccountCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let external_id = format!("fjord-{}", hex::encode(&secret::random_bytes()?[..16]));
    let row = fjord_store::cloud_account::insert(
        mutation.db(),
        &NewCloudAccount {
            cloud_account_id: Uuid::now_v7(),
            organization_id: principal.organization_id,
            name: &body.name,
            aws_account_id: &body.aws_account_id,
            role_arn: &body.role_arn,
            external_id: &external_id,
        },
    )
    .await?;
    mutation
        .audit(
            "cloud-account.create",
            "cloud_account",
            row.cloud_account_id,
            json!({"name": row.name, "aws_account_id": row.aws_account_id}),
        )
        .await?;
    mutation.finish_with(StatusCode::CREATED, row, to_api).await
}

/// Lists cloud accounts.
#[utoipa::path(
    get,
    path = "/v1/cloud-accounts",
    tag = "inventory",
    security(("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of accounts", body = Page<CloudAccount>),
        Problems,
    )
)]
pub(crate) async fn list_cloud_accounts(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<Json<Page<CloudAccount>>, AppError> {
    let rows =
        fjord_store::cloud_account::list(&state.pool, principal.organization_id, query.request()?)
            .await?;
    Ok(Json(query.page(
        rows,
        |row| row.cloud_account_id,
        to_api,
    )?))
}

/// One cloud account.
#[utoipa::path(
    get,
    path = "/v1/cloud-accounts/{cloud_account_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cloud_account_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The account", body = CloudAccount, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn get_cloud_account(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let row = fjord_store::cloud_account::get(&state.pool, principal.organization_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("cloud account", id))?;
    Ok(with_etag(row.revision, to_api(row)))
}

/// Replaces the account's role ARN (e.g. to rotate the role).
#[utoipa::path(
    patch,
    path = "/v1/cloud-accounts/{cloud_account_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cloud_account_id" = Uuid, Path), IfMatch, IdempotencyKey),
    request_body = CloudAccountUpdate,
    responses(
        (status = 200, description = "The updated account", body = CloudAccount, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn update_cloud_account(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    AppJson(body): AppJson<CloudAccountUpdate>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::cloud_account::get(mutation.db(), organization_id, id, true).await?,
        "cloud account",
        id,
        &headers,
    )?;
    validate::role_arn("role_arn", &body.role_arn, &current.aws_account_id)
        .map_err(AppError::Invalid)?;
    let row =
        fjord_store::cloud_account::update_role(mutation.db(), organization_id, id, &body.role_arn)
            .await?
            .ok_or_else(|| AppError::not_found("cloud account", id))?;
    mutation
        .audit(
            "cloud-account.update",
            "cloud_account",
            id,
            json!({"role_arn": row.role_arn}),
        )
        .await?;
    mutation.finish_with(StatusCode::OK, row, to_api).await
}

/// Deletes a cloud account that no environment uses.
#[utoipa::path(
    delete,
    path = "/v1/cloud-accounts/{cloud_account_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("cloud_account_id" = Uuid, Path), IfMatch, IdempotencyKey),
    responses(
        (status = 204, description = "Deleted"),
        Problems,
    )
)]
pub(crate) async fn delete_cloud_account(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::cloud_account::get(mutation.db(), organization_id, id, true).await?,
        "cloud account",
        id,
        &headers,
    )?;
    fjord_store::cloud_account::delete(mutation.db(), organization_id, id).await?;
    mutation
        .audit(
            "cloud-account.delete",
            "cloud_account",
            id,
            json!({"name": current.name}),
        )
        .await?;
    mutation
        .finish::<()>(StatusCode::NO_CONTENT, None, None)
        .await
}
