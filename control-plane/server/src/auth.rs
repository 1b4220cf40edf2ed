//! Who is calling: an API key (automation), a signed-in user (the console's
//! session cookie, see [`crate::session`]) or an agent.
//!
//! Keys and agent tokens are bearer tokens, sessions are a cookie; all are
//! looked up by their sha-256. A key or session carries its organization;
//! every handler reads and writes only that organization's rows. An agent access token carries its organization *and* environment,
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

/// Who made a request on behalf of an organization.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// An API key.
    ApiKey { api_key_id: Uuid },
    /// A user signed in to the console, by email.
    User { email: String },
}

/// An authenticated API key or signed-in user.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub organization_id: Uuid,
    pub caller: Caller,
    /// What the caller may do: an admin key or user changes things, a
    /// read-only key or viewer only reads.
    pub scope: Scope,
    /// The client's address, for the audit log.
    pub source: Option<String>,
    /// Set when the request carried an `Idempotency-Key`.
    pub idempotency: Option<IdempotencyRequest>,
}

impl Principal {
    /// How the audit log names this caller.
    pub(crate) fn actor(&self) -> String {
        match &self.caller {
            Caller::ApiKey { api_key_id } => format!("api-key:{api_key_id}"),
            Caller::User { email, .. } => format!("user:{email}"),
        }
    }

    /// Fails with 403 unless the caller may change things.
    pub(crate) fn require_admin(&self) -> Result<(), AppError> {
        match (self.scope, &self.caller) {
            (Scope::Admin, _) => Ok(()),
            (Scope::ReadOnly, Caller::ApiKey { .. }) => Err(AppError::Forbidden(
                "this API key is read-only; use an admin key to make changes".into(),
            )),
            (Scope::ReadOnly, Caller::User { .. }) => Err(AppError::Forbidden(
                "you are a viewer in this organization; ask an admin to make changes".into(),
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
    Ok((key.organization_id, key.api_key_id, key.scope))
}

/// What a verified API key grants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerifiedKey {
    pub organization_id: Uuid,
    pub api_key_id: Uuid,
    pub scope: Scope,
}

/// API keys this replica verified in the last [`VerifiedKeys::TTL`], by
/// token hash, so a read costs one query instead of two.
///
/// A revocation drops the key at once on the replica that made it and, on
/// the others, when its NOTIFY ([`fjord_store::api_key::REVOKED_CHANNEL`])
/// arrives; a lost listener connection clears everything. A lookup that
/// started before a revocation committed must not put the key back: every
/// drop bumps an epoch, and a lookup caches its result only if the epoch is
/// the one it started in. Bounded to [`VerifiedKeys::ENTRIES_MAX`] entries.
#[derive(Debug, Default)]
pub(crate) struct VerifiedKeys(std::sync::Mutex<KeyCache>);

#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    epoch: u64,
    keys: std::collections::HashMap<Vec<u8>, (std::time::Instant, VerifiedKey)>,
}

impl VerifiedKeys {
    /// How long a verification is trusted without asking the database.
    const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    const ENTRIES_MAX: usize = 10_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, token_hash: &[u8]) -> Option<VerifiedKey> {
        self.lock()
            .keys
            .get(token_hash)
            .filter(|(verified_at, _)| verified_at.elapsed() < Self::TTL)
            .map(|(_, key)| *key)
    }

    fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    fn insert(&self, epoch: u64, token_hash: Vec<u8>, key: VerifiedKey) {
        let mut cache = self.lock();
        if cache.epoch != epoch {
            return;
        }
        if cache.keys.len() >= Self::ENTRIES_MAX {
            cache
                .keys
                .retain(|_, (verified_at, _)| verified_at.elapsed() < Self::TTL);
            if cache.keys.len() >= Self::ENTRIES_MAX {
                cache.keys.clear();
            }
        }
        cache
            .keys
            .insert(token_hash, (std::time::Instant::now(), key));
    }

    /// Drops a revoked key.
    pub(crate) fn forget(&self, api_key_id: Uuid) {
        let mut cache = self.lock();
        cache.epoch += 1;
        cache
            .keys
            .retain(|_, (_, key)| key.api_key_id != api_key_id);
    }

    /// Drops everything (revocations may have been missed).
    pub(crate) fn clear(&self) {
        let mut cache = self.lock();
        cache.epoch += 1;
        cache.keys.clear();
    }
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

/// The client's address as an extractor (see [`source`]).
#[derive(Debug, Clone)]
pub(crate) struct Source(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(source(parts)))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(AUTHORIZATION)
            && let Some(token) = crate::session::session_token(&parts.headers)
        {
            let session = authenticate_session(state, token).await?;
            require_csrf(parts, &session.csrf_token)?;
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
            return Ok(Self {
                organization_id: session.organization_id,
                caller: Caller::User {
                    email: session.email,
                },
                scope,
                source: source(parts),
                // Replays are for automation that retries; a browser session
                // does not get them (see docs/console.md).
                idempotency: None,
            });
        }
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
            caller: Caller::ApiKey { api_key_id },
            scope,
            source: source(parts),
            idempotency,
        })
    }
}

/// The live session behind a `fjord_session` cookie.
pub(crate) async fn authenticate_session(
    state: &AppState,
    token: &str,
) -> Result<fjord_store::session::SessionRow, AppError> {
    if TokenKind::of(token) != Some(TokenKind::Session) {
        return Err(AppError::Unauthenticated(
            "the session cookie is not a session; sign in again".into(),
        ));
    }
    fjord_store::session::authenticate(&state.pool, &secret::hash(token))
        .await?
        .ok_or_else(|| {
            AppError::Unauthenticated("your session has expired or was ended; sign in again".into())
        })
}

/// A change made with a session cookie must carry the session's CSRF token
/// in `X-CSRF-Token` (another site can make a browser send the cookie, never
/// the header).
pub(crate) fn require_csrf(parts: &Parts, expected: &str) -> Result<(), AppError> {
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

/// When this replica last wrote a "last seen" timestamp for each object, so
/// that a busy object costs one statement per period per replica instead of
/// one per request: API keys (`last_used_at` has minute precision) and agent
/// contact (a wave of long-poll re-polls would otherwise update the one
/// environment row once per agent).
#[derive(Debug, Default)]
pub(crate) struct RecentUses(std::sync::Mutex<std::collections::HashMap<Uuid, std::time::Instant>>);

impl RecentUses {
    /// How often an API key's use is written.
    pub(crate) const API_KEY_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

    /// Whether `id`'s use should be written now, at most once a `period`;
    /// assumes it will be.
    pub(crate) fn due(&self, id: Uuid, period: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        let mut uses = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match uses.get(&id) {
            Some(last) if now.duration_since(*last) < period => false,
            _ => {
                uses.insert(id, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(api_key_id: Uuid) -> VerifiedKey {
        VerifiedKey {
            organization_id: Uuid::nil(),
            api_key_id,
            scope: Scope::Admin,
        }
    }

    #[test]
    fn a_revocation_drops_the_key_and_stale_lookups_cannot_restore_it() {
        let keys = VerifiedKeys::default();
        let id = Uuid::now_v7();
        let epoch = keys.epoch();
        keys.insert(epoch, b"hash".to_vec(), key(id));
        assert!(keys.get(b"hash").is_some());
        // A lookup that started before the revocation ...
        let stale = keys.epoch();
        keys.forget(id);
        assert!(keys.get(b"hash").is_none());
        // ... finishes after it: its result is not cached.
        keys.insert(stale, b"hash".to_vec(), key(id));
        assert!(keys.get(b"hash").is_none());
        keys.insert(keys.epoch(), b"other".to_vec(), key(Uuid::now_v7()));
        keys.clear();
        assert!(keys.get(b"other").is_none());
    }
}
