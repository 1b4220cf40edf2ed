//! `/v1/users`: the organization's members and their roles.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fjord_api::{Page, Role, User, UserCreate, UserUpdate, normalize_email};
use fjord_store::user::MemberRow;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::mutation::Mutation;
use crate::pagination::PageQuery;
use crate::session::hash_password;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
}

fn to_api(row: MemberRow) -> User {
    User {
        user_id: row.user_id,
        email: row.email,
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        created_at: row.created_at,
    }
}

/// Lists the organization's members.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    security(("api_key" = []), ("session" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of members", body = Page<User>),
        Problems,
    )
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<Json<Page<User>>, AppError> {
    let rows =
        fjord_store::user::list_members(&state.pool, principal.organization_id, query.request()?)
            .await?;
    Ok(Json(query.page(rows, |row| row.user_id, to_api)?))
}

/// Adds a user with a first password and a role (admin only). An email
/// that already has a user is a 409.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    security(("api_key" = []), ("session" = [])),
    request_body = UserCreate,
    responses(
        (status = 201, description = "The new member", body = User),
        Problems,
    )
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<UserCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    principal.require_admin()?;
    let email = normalize_email(&body.email);
    let password_hash = hash_password(body.password).await?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let user =
        fjord_store::user::insert(mutation.db(), Uuid::now_v7(), &email, &password_hash).await?;
    fjord_store::user::add_member(
        mutation.db(),
        organization_id,
        user.user_id,
        body.role.as_str(),
    )
    .await?;
    let row = fjord_store::user::get_member(mutation.db(), organization_id, user.user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the member just added is not readable"))?;
    mutation
        .audit(
            "user.create",
            "user",
            user.user_id,
            json!({"email": email, "role": body.role}),
        )
        .await?;
    mutation
        .finish(StatusCode::CREATED, None, Some(&to_api(row)))
        .await
}

/// One member.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}",
    tag = "users",
    security(("api_key" = []), ("session" = [])),
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The member", body = User),
        Problems,
    )
)]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<User>, AppError> {
    let row = fjord_store::user::get_member(&state.pool, principal.organization_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))?;
    Ok(Json(to_api(row)))
}

/// Refuses a change that would leave the organization without an admin
/// user while it has users at all (viewers could then never be promoted
/// from the console).
async fn keep_an_admin(mutation: &mut Mutation, member: &MemberRow) -> Result<(), AppError> {
    let organization_id = mutation.organization_id();
    let admins = fjord_store::user::lock_admins(mutation.db(), organization_id).await?;
    if member.role == Role::Admin.as_str() && admins <= 1 {
        return Err(AppError::Conflict(
            "this is the organization's last admin user; make another user admin first".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role (admin only); applies to their next request.
#[utoipa::path(
    patch,
    path = "/v1/users/{user_id}",
    tag = "users",
    security(("api_key" = []), ("session" = [])),
    params(("user_id" = Uuid, Path)),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "The member with the new role", body = User),
        Problems,
    )
)]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<UserUpdate>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let member = fjord_store::user::get_member(mutation.db(), organization_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))?;
    if body.role != Role::Admin {
        keep_an_admin(&mut mutation, &member).await?;
    }
    let row = fjord_store::user::set_role(mutation.db(), organization_id, id, body.role.as_str())
        .await?
        .ok_or_else(|| AppError::not_found("user", id))?;
    mutation
        .audit(
            "user.update",
            "user",
            id,
            json!({"email": row.email, "role": body.role}),
        )
        .await?;
    mutation
        .finish(StatusCode::OK, None, Some(&to_api(row)))
        .await
}

/// Removes a member from the organization (admin only) and ends their
/// sessions in it.
#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}",
    tag = "users",
    security(("api_key" = []), ("session" = [])),
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Removed"),
        Problems,
    )
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let member = fjord_store::user::get_member(mutation.db(), organization_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))?;
    keep_an_admin(&mut mutation, &member).await?;
    fjord_store::user::remove_member(mutation.db(), organization_id, id).await?;
    fjord_store::user::delete_if_orphaned(mutation.db(), id).await?;
    mutation
        .audit("user.delete", "user", id, json!({"email": member.email}))
        .await?;
    mutation
        .finish::<()>(StatusCode::NO_CONTENT, None, None)
        .await
}
