//! Who is calling: an API key (users, automation) or an agent.
//!
//! Both are bearer tokens, looked up by their sha-256. An API key carries its
//! organization; every handler reads and writes only that organization's
//! rows. An agent access token carries its organization *and* environment,
//! and the agent endpoints read only that environment.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use fjord_api::Scope;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::idempotency::IdempotencyRequest;
use crate::secret::{self, TokenKind};

/// An authenticated API key.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub organization_id: Uuid,
    pub api_key_id: Uuid,
    pub scope: Scope,
    /// The client's address, for the audit log.
    pub source: Option<String>,
    /// Set when the request carried an `Idempotency-Key`.
    pub idempotency: Option<IdempotencyRequest>,
}

impl Principal {
    /// How the audit log names this caller.
    pub(crate) fn actor(&self) -> String {
        format!("api-key:{}", self.api_key_id)
    }

    /// Fails with 403 unless the key may change things.
    pub(crate) fn require_admin(&self) -> Result<(), AppError> {
        match self.scope {
            Scope::Admin => Ok(()),
            Scope::ReadOnly => Err(AppError::Forbidden(
                "this API key is read-only; use an admin key to make changes".into(),
            )),
        }
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, AppError> {
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

/// The API key behind the request's bearer token.
pub(crate) async fn authenticate_api_key(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Uuid, Uuid, Scope), AppError> {
    let token = bearer(headers)?;
    if TokenKind::of(token) != Some(TokenKind::ApiKey) {
        return Err(AppError::Unauthenticated(
            "the bearer token is not an API key".into(),
        ));
    }
    let key = fjord_store::api_key::authenticate(&state.pool, &secret::hash(token))
        .await?
        .ok_or_else(|| AppError::Unauthenticated("unknown or revoked API key".into()))?;
    let scope = Scope::parse(&key.scope).ok_or_else(|| {
        anyhow::anyhow!("api key {} has unknown scope {}", key.api_key_id, key.scope)
    })?;
    if state.api_key_uses.due(key.api_key_id) {
        fjord_store::api_key::touch(&state.pool, key.organization_id, key.api_key_id).await?;
    }
    Ok((key.organization_id, key.api_key_id, scope))
}

/// The client's address: the first `X-Forwarded-For` hop when behind a
/// proxy, else the socket's peer.
pub(crate) fn source(parts: &Parts) -> Option<String> {
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 64);
    forwarded.or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip().to_string())
    })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (organization_id, api_key_id, scope) =
            authenticate_api_key(state, &parts.headers).await?;
        let idempotency = parts.extensions.get::<IdempotencyRequest>().cloned();
        if let Some(request) = &idempotency
            && request.organization_id != organization_id
        {
            return Err(anyhow::anyhow!("idempotency context of another organization").into());
        }
        Ok(Self {
            organization_id,
            api_key_id,
            scope,
            source: source(parts),
            idempotency,
        })
    }
}

/// An agent, authenticated by a short-lived access token: it may act only
/// on its own environment.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub organization_id: Uuid,
    pub environment_id: Uuid,
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)?;
        if TokenKind::of(token) != Some(TokenKind::AgentAccess) {
            return Err(AppError::Unauthenticated(
                "the bearer token is not an agent access token; trade the agent credential at POST /v1/agent/token".into(),
            ));
        }
        let (organization_id, environment_id) =
            fjord_store::agent_token::authenticate(&state.pool, &secret::hash(token))
                .await?
                .ok_or_else(|| {
                    AppError::Unauthenticated("unknown or expired access token".into())
                })?;
        Ok(Self {
            organization_id,
            environment_id,
        })
    }
}

/// When this replica last recorded each API key's use: `last_used_at` has
/// minute precision, so a key is written at most once a minute per replica
/// instead of costing a statement on every request.
#[derive(Debug, Default)]
pub(crate) struct RecentUses(std::sync::Mutex<std::collections::HashMap<Uuid, std::time::Instant>>);

impl RecentUses {
    const PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

    /// Whether `api_key_id`'s use should be written now; assumes it will be.
    pub(crate) fn due(&self, api_key_id: Uuid) -> bool {
        let now = std::time::Instant::now();
        let mut uses = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match uses.get(&api_key_id) {
            Some(last) if now.duration_since(*last) < Self::PERIOD => false,
            _ => {
                uses.insert(api_key_id, now);
                true
            }
        }
    }
}
