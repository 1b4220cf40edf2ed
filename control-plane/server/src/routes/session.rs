//! `/v1/session`: signing in to the console and out again.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fjord_api::{Problem, Role, Session, SignIn, normalize_email};
use fjord_store::session::{NewSession, SessionRow};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::Problems;
use crate::auth::{Authentication, Source};
use crate::error::AppError;
use crate::extract::AppJson;
use crate::secret::{self, TokenKind};
use crate::session::{self, clear_cookie, session_cookie, verify_password};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in, get_session, sign_out))
}

/// The signed-in session behind the request's cookie (never an API key).
#[derive(Debug)]
pub(crate) struct CookieSession(pub SessionRow);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CookieSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        Authentication::of_request(parts)?.session().map(Self)
    }
}

fn to_api(row: SessionRow) -> Result<Session, AppError> {
    let role = Role::parse(&row.role)
        .ok_or_else(|| anyhow::anyhow!("membership has unknown role {}", row.role))?;
    Ok(Session {
        user_id: row.user_id,
        email: row.email,
        organization_id: row.organization_id,
        organization_name: row.organization_name,
        role,
        csrf_token: row.csrf_token,
        expires_at: row.expires_at,
    })
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.sessions.cookie_secure || session::over_tls(headers)
}

fn with_cookie(mut response: Response, cookie: &str) -> Result<Response, AppError> {
    let value = HeaderValue::from_str(cookie).map_err(anyhow::Error::new)?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Signs in with email and password: sets the `fjord_session` cookie and
/// returns the session with its CSRF token. After 5 failed attempts for an
/// email (or 30 from one address) in 15 minutes, answers 429 until the
/// window ends.
#[utoipa::path(
    post,
    path = "/v1/session",
    tag = "users",
    security(()),
    request_body = SignIn,
    responses(
        (status = 201, description = "Signed in; the session cookie is set", body = Session),
        (status = "4XX", description = "A problem (401: wrong email or password; 429: too many failed attempts)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Source(source): Source,
    AppJson(body): AppJson<SignIn>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let email = normalize_email(&body.email);
    if let Err(wait) = state
        .sign_in_limiter
        .check(&email, source.as_deref(), Instant::now())
    {
        let seconds = wait.as_secs().max(1);
        let mut response = AppError::TooManyRequests(format!(
            "too many failed sign-in attempts; try again in {} minute(s)",
            seconds.div_ceil(60)
        ))
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    let user = fjord_store::user::by_email(&state.pool, &email).await?;
    let matches = verify_password(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            state
                .sign_in_limiter
                .failed(&email, source.as_deref(), Instant::now());
            tracing::info!(
                source = source.as_deref().unwrap_or("unknown"),
                "sign-in refused"
            );
            return Err(AppError::Unauthenticated("wrong email or password".into()));
        }
    };
    state.sign_in_limiter.succeeded(&email);
    let organization_id =
        choose_organization(&state, user.user_id, body.organization.as_deref()).await?;

    let (token, token_hash) = secret::generate(TokenKind::Session)?;
    let csrf_token = URL_SAFE_NO_PAD.encode(secret::random_bytes()?);
    let lifetime =
        chrono::Duration::from_std(state.sessions.lifetime).map_err(anyhow::Error::new)?;
    let session_id = Uuid::now_v7();
    let mut transaction = state.pool.begin().await?;
    fjord_store::session::insert(
        &mut *transaction,
        &NewSession {
            session_id,
            organization_id,
            user_id: user.user_id,
            token_hash: &token_hash,
            csrf_token: &csrf_token,
            expires_at: chrono::Utc::now() + lifetime,
        },
    )
    .await?;
    fjord_store::audit::insert(
        &mut *transaction,
        fjord_store::audit::NewAuditRecord {
            organization_id,
            actor: &format!("user:{}", user.email),
            action: "session.create",
            object_type: "user",
            object_id: user.user_id,
            source: source.as_deref(),
            detail: json!({"session_id": session_id}),
        },
    )
    .await?;
    let row = fjord_store::session::authenticate(&mut *transaction, &token_hash)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the session just created is not readable"))?;
    transaction.commit().await?;
    tracing::info!(user_id = %user.user_id, %organization_id, "signed in");
    let cookie = session_cookie(
        &token,
        state.sessions.lifetime.as_secs(),
        secure(&state, &headers),
    );
    with_cookie(
        (StatusCode::CREATED, Json(to_api(row)?)).into_response(),
        &cookie,
    )
}

/// The organization a sign-in opens: the one named, or the only one.
async fn choose_organization(
    state: &AppState,
    user_id: Uuid,
    named: Option<&str>,
) -> Result<Uuid, AppError> {
    let memberships = fjord_store::user::memberships(&state.pool, user_id).await?;
    match named {
        Some(name) => {
            let organization = fjord_store::organization::by_name(&state.pool, name).await?;
            organization
                .filter(|organization| {
                    memberships
                        .iter()
                        .any(|m| m.organization_id == organization.organization_id)
                })
                .map(|organization| organization.organization_id)
                .ok_or_else(|| {
                    AppError::Invalid(format!("organization: you are not a member of {name:?}"))
                })
        }
        None => match memberships.as_slice() {
            [only] => Ok(only.organization_id),
            [] => Err(AppError::Forbidden(
                "you are not a member of any organization; ask an admin to add you".into(),
            )),
            _ => Err(AppError::Invalid(
                "organization: you belong to several organizations; name the one to sign in to"
                    .into(),
            )),
        },
    }
}

/// The signed-in user's session (who, which organization, which role).
#[utoipa::path(
    get,
    path = "/v1/session",
    tag = "users",
    security(("session" = [])),
    responses(
        (status = 200, description = "The current session", body = Session),
        (status = "4XX", description = "A problem (401: not signed in)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_session(
    CookieSession(session): CookieSession,
) -> Result<Response, AppError> {
    let mut response = Json(to_api(session)?).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Signs out: ends the session and clears its cookie.
#[utoipa::path(
    delete,
    path = "/v1/session",
    tag = "users",
    security(("session" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (required)")),
    responses(
        (status = 204, description = "Signed out"),
        Problems,
    )
)]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    CookieSession(session): CookieSession,
) -> Result<Response, AppError> {
    let mut transaction = state.pool.begin().await?;
    fjord_store::session::delete(
        &mut *transaction,
        session.organization_id,
        session.session_id,
    )
    .await?;
    fjord_store::audit::insert(
        &mut *transaction,
        fjord_store::audit::NewAuditRecord {
            organization_id: session.organization_id,
            actor: &format!("user:{}", session.email),
            action: "session.delete",
            object_type: "user",
            object_id: session.user_id,
            source: None,
            detail: json!({"session_id": session.session_id}),
        },
    )
    .await?;
    transaction.commit().await?;
    with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        &clear_cookie(secure(&state, &headers)),
    )
}
