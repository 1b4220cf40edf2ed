//! Who is calling: an API key (automation), a signed-in user (the console's
//! session cookie, see [`crate::session`]) or an agent.
//!
//! Keys and agent tokens are bearer tokens, sessions are a cookie; all are
//! looked up by their sha-256. A key or session carries its organization;
//! every handler reads and writes only that organization's rows. An agent
//! access token carries its organization *and* environment, and the agent
//! endpoints read only that environment.
//!
//! A request is authenticated once, by [`middleware`], before anything else
//! reads it: the middleware checks each credential the request carries (the
//! bearer token, by its kind, and the session cookie) and puts what they
//! proved, an [`Authentication`], in the request's extensions. It refuses
//! nothing itself. The idempotency middleware and the extractors
//! ([`Principal`], [`Agent`], [`AgentCredential`],
//! [`crate::routes::session::CookieSession`]) read it from there, each
//! refusing with the problem its kind of caller gets, at the point in the
//! handler's extraction where it stands; a handler that takes none of them
//! serves callers without credentials.

pub(crate) mod keys;
mod principal;

pub(crate) use principal::{Agent, AgentCredential, Caller, Principal, Source, source};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use fjord_api::Scope;
use fjord_store::session::SessionRow;

use self::keys::{RecentUses, VerifiedKey};
use crate::error::AppError;
use crate::secret::{self, TokenKind};
use crate::state::AppState;

/// What a request's credentials proved, refusals included; set by
/// [`middleware`] on every API route.
#[derive(Debug, Clone)]
pub(crate) struct Authentication {
    /// Whether the request has an `Authorization` header: then its bearer
    /// token says who the caller is, never the session cookie.
    authorization: bool,
    /// The bearer token by kind with what it proved, or why there is none.
    bearer: Result<Bearer, AppError>,
    /// The session behind the `fjord_session` cookie, its CSRF token
    /// checked; `None` without the cookie.
    session: Option<Result<SessionRow, AppError>>,
    /// The client's address, for the audit log.
    source: Option<String>,
}

/// A bearer token by its kind, with what it proved.
#[derive(Debug, Clone)]
enum Bearer {
    ApiKey(Result<VerifiedKey, AppError>),
    AgentAccess(Result<Agent, AppError>),
    AgentCredential(Result<AgentCredential, AppError>),
    /// A token of a kind no route takes as a bearer token.
    Other,
}

/// Authenticates the request (see the module's comment).
pub(crate) async fn middleware(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let authentication = Authentication::of(&state, &parts).await;
    parts.extensions.insert(authentication);
    next.run(Request::from_parts(parts, body)).await
}

impl Authentication {
    async fn of(state: &AppState, parts: &Parts) -> Self {
        let bearer = match bearer(&parts.headers) {
            Ok(token) => Ok(match TokenKind::of(token) {
                Some(TokenKind::ApiKey) => Bearer::ApiKey(verify_api_key(state, token).await),
                Some(TokenKind::AgentAccess) => {
                    Bearer::AgentAccess(verify_access_token(state, token).await)
                }
                Some(TokenKind::AgentCredential) => {
                    Bearer::AgentCredential(verify_agent_credential(state, token).await)
                }
                _ => Bearer::Other,
            }),
            Err(error) => Err(error),
        };
        let session = match crate::session::session_token(&parts.headers) {
            Some(token) => Some(verify_session(state, parts, token).await),
            None => None,
        };
        Self {
            authorization: parts.headers.contains_key(AUTHORIZATION),
            bearer,
            session,
            source: source(parts),
        }
    }

    /// What the middleware put in the request; an internal error on a route
    /// outside it.
    pub(crate) fn of_request(parts: &Parts) -> Result<&Self, AppError> {
        parts.extensions.get::<Self>().ok_or_else(|| {
            anyhow::anyhow!("the route is outside the authentication middleware").into()
        })
    }

    /// The API key of the bearer token, when it is one and valid.
    pub(crate) fn api_key(&self) -> Option<&VerifiedKey> {
        match &self.bearer {
            Ok(Bearer::ApiKey(Ok(key))) => Some(key),
            _ => None,
        }
    }

    /// The live session of the cookie (never the bearer token).
    pub(crate) fn session(&self) -> Result<SessionRow, AppError> {
        self.session.clone().unwrap_or_else(|| {
            Err(AppError::Unauthenticated(
                "you are not signed in (no session cookie)".into(),
            ))
        })
    }

    /// The API key or, without an `Authorization` header, the session.
    fn principal(&self) -> Result<Principal, AppError> {
        if !self.authorization
            && let Some(session) = &self.session
        {
            let session = session.clone()?;
            let scope = match fjord_api::Role::parse(&session.role) {
                Some(fjord_api::Role::Admin) => Scope::Admin,
                Some(fjord_api::Role::Viewer) => Scope::ReadOnly,
                None => {
                    return Err(anyhow::anyhow!(
                        "membership of user {} has unknown role {}",
                        session.user_id,
                        session.role
                    )
                    .into());
                }
            };
            return Ok(Principal {
                organization_id: session.organization_id,
                caller: Caller::User {
                    email: session.email,
                },
                scope,
                source: self.source.clone(),
                // Replays are for automation that retries; a browser session
                // does not get them (see docs/console.md).
                idempotency: None,
            });
        }
        match self.bearer.clone()? {
            Bearer::ApiKey(key) => {
                let key = key?;
                Ok(Principal {
                    organization_id: key.organization_id,
                    caller: Caller::ApiKey {
                        api_key_id: key.api_key_id,
                    },
                    scope: key.scope,
                    source: self.source.clone(),
                    idempotency: None,
                })
            }
            Bearer::AgentAccess(_) | Bearer::AgentCredential(_) | Bearer::Other => Err(
                AppError::Unauthenticated("the bearer token is not an API key".into()),
            ),
        }
    }

    /// The agent behind an access token.
    fn agent(&self) -> Result<Agent, AppError> {
        match self.bearer.clone()? {
            Bearer::AgentAccess(agent) => agent,
            Bearer::ApiKey(_) | Bearer::AgentCredential(_) | Bearer::Other => Err(
                AppError::Unauthenticated(
                    "the bearer token is not an agent access token; trade the agent credential at POST /v1/agent/token".into(),
                ),
            ),
        }
    }

    /// The environment behind an agent credential.
    fn agent_credential(&self) -> Result<AgentCredential, AppError> {
        match self.bearer.clone()? {
            Bearer::AgentCredential(credential) => credential,
            Bearer::ApiKey(_) | Bearer::AgentAccess(_) | Bearer::Other => Err(
                AppError::Unauthenticated("the bearer token is not an agent credential".into()),
            ),
        }
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Result<&str, AppError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| AppError::Unauthenticated("send Authorization: Bearer <token>".into()))?;
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthenticated("the Authorization header is not text".into()))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| AppError::Unauthenticated("expected Authorization: Bearer <token>".into()))
}

/// The API key behind a bearer token of that kind.
async fn verify_api_key(state: &AppState, token: &str) -> Result<VerifiedKey, AppError> {
    let token_hash = secret::hash(token);
    let verified_keys = &state.intents.verified_keys;
    let key = match verified_keys.get(&token_hash) {
        Some(key) => key,
        None => {
            let epoch = verified_keys.epoch();
            let row = fjord_store::api_key::authenticate(&state.pool, &token_hash)
                .await?
                .ok_or_else(|| AppError::Unauthenticated("unknown or revoked API key".into()))?;
            let scope = Scope::parse(&row.scope).ok_or_else(|| {
                anyhow::anyhow!("api key {} has unknown scope {}", row.api_key_id, row.scope)
            })?;
            let key = VerifiedKey {
                organization_id: row.organization_id,
                api_key_id: row.api_key_id,
                scope,
            };
            verified_keys.insert(epoch, token_hash, key);
            key
        }
    };
    if state
        .api_key_uses
        .due(key.api_key_id, RecentUses::API_KEY_PERIOD)
    {
        fjord_store::api_key::touch(&state.pool, key.organization_id, key.api_key_id).await?;
    }
    Ok(key)
}

/// The agent behind a bearer token of the access token kind.
async fn verify_access_token(state: &AppState, token: &str) -> Result<Agent, AppError> {
    let (organization_id, environment_id) =
        fjord_store::agent_token::authenticate(&state.pool, &secret::hash(token))
            .await?
            .ok_or_else(|| AppError::Unauthenticated("unknown or expired access token".into()))?;
    Ok(Agent {
        organization_id,
        environment_id,
    })
}

/// The environment behind a bearer token of the agent credential kind.
async fn verify_agent_credential(
    state: &AppState,
    token: &str,
) -> Result<AgentCredential, AppError> {
    let (organization_id, environment_id) =
        fjord_store::environment::find_by_agent_credential(&state.pool, &secret::hash(token))
            .await?
            .ok_or_else(|| {
                AppError::Unauthenticated("unknown or replaced agent credential".into())
            })?;
    Ok(AgentCredential {
        organization_id,
        environment_id,
    })
}

/// The live session behind a `fjord_session` cookie, with its CSRF token
/// checked against the request.
async fn verify_session(
    state: &AppState,
    parts: &Parts,
    token: &str,
) -> Result<SessionRow, AppError> {
    if TokenKind::of(token) != Some(TokenKind::Session) {
        return Err(AppError::Unauthenticated(
            "the session cookie is not a session; sign in again".into(),
        ));
    }
    let session = fjord_store::session::authenticate(&state.pool, &secret::hash(token))
        .await?
        .ok_or_else(|| {
            AppError::Unauthenticated("your session has expired or was ended; sign in again".into())
        })?;
    require_csrf(parts, &session.csrf_token)?;
    Ok(session)
}

/// A change made with a session cookie must carry the session's CSRF token
/// in `X-CSRF-Token` (another site can make a browser send the cookie, never
/// the header).
fn require_csrf(parts: &Parts, expected: &str) -> Result<(), AppError> {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(crate::session::CSRF_HEADER)
        .map(|value| value.as_bytes())
        .unwrap_or_default();
    if crate::session::same_secret(sent, expected.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "a change made with the session cookie needs the session's X-CSRF-Token header; reload the console".into(),
        ))
    }
}
