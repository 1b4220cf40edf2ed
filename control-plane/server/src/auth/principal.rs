//! The callers handlers take, read from the request's [`Authentication`].

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use fjord_api::Scope;
use uuid::Uuid;

use super::Authentication;
use crate::error::AppError;
use crate::idempotency::IdempotencyRequest;

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

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut principal = Authentication::of_request(parts)?.principal()?;
        // Set by the idempotency middleware, only for a valid API key.
        principal.idempotency = parts.extensions.get::<IdempotencyRequest>().cloned();
        Ok(principal)
    }
}

/// An agent, authenticated by a short-lived access token: it may act only
/// on its own environment.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub organization_id: Uuid,
    pub environment_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for Agent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Authentication::of_request(parts)?.agent()
    }
}

/// An agent, authenticated by its long-lived credential: it may only trade
/// the credential for access tokens of its environment.
#[derive(Debug, Clone)]
pub(crate) struct AgentCredential {
    pub organization_id: Uuid,
    pub environment_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for AgentCredential {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Authentication::of_request(parts)?.agent_credential()
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
