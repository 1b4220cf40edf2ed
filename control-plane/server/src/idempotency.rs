//! `Idempotency-Key` on mutations.
//!
//! The middleware runs inside [`crate::auth::middleware`]. It hashes the
//! request (method, path, query, body) and looks the key up for the
//! caller's organization, that of the API key the authentication found: a
//! stored response for the same request is replayed; a stored response for
//! a different request is 422.
//! Otherwise the handler runs and [`crate::mutation::Mutation::finish`] stores
//! its response *in the mutation's own transaction*, so a response is stored
//! exactly when the change it describes commits. Two concurrent requests
//! with one key: the second to commit hits the primary key and gets 409
//! (retrying then replays the first's response).

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Authentication;
use crate::error::AppError;
use crate::state::AppState;

/// The header clients send.
pub(crate) const HEADER: &str = "idempotency-key";

/// Largest body the middleware buffers.
const BODY_BYTES_MAX: usize = 1024 * 1024;

/// A mutation that carries an `Idempotency-Key`, for the handler's
/// transaction to store its response under.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyRequest {
    pub organization_id: Uuid,
    pub key: String,
    pub request_hash: Vec<u8>,
}

/// What the middleware needs: the app, and the operations the API has
/// (method, route template), so that a method a route does not have is left
/// to the router's 405 whatever its headers.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyState {
    pub app: AppState,
    pub operations: Arc<HashSet<(String, String)>>,
}

impl IdempotencyState {
    pub(crate) fn new(app: AppState, document: &utoipa::openapi::OpenApi) -> Self {
        let mut operations = HashSet::new();
        for (path, item) in &document.paths.paths {
            let methods = [
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    operations.insert((method.to_string(), path.clone()));
                }
            }
        }
        Self {
            app,
            operations: Arc::new(operations),
        }
    }
}

pub(crate) async fn middleware(
    State(state): State<IdempotencyState>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| {
            let operation = (request.method().to_string(), path.as_str().to_owned());
            state.operations.contains(&operation)
        });
    if !declared {
        return next.run(request).await;
    }
    match prepare(&state.app, request).await {
        Ok(Prepared::Run(request)) => {
            let idempotency = request.extensions().get::<IdempotencyRequest>().cloned();
            let response = next.run(request).await;
            match idempotency {
                Some(request) if response.status() == StatusCode::CONFLICT => {
                    after_conflict(&state.app, &request, response).await
                }
                _ => response,
            }
        }
        Ok(Prepared::Replay(response)) => response,
        Err(error) => error.into_response(),
    }
}

/// A concurrent twin of this request (same key) may have committed while
/// this one ran and collided with it (a unique name, or the key itself):
/// then the twin's response is the answer, as if this were a retry.
async fn after_conflict(
    state: &AppState,
    request: &IdempotencyRequest,
    response: Response,
) -> Response {
    match fjord_store::idempotency::get(&state.pool, request.organization_id, &request.key).await {
        Ok(Some(stored)) if stored.request_hash == request.request_hash => {
            replay(stored).unwrap_or_else(IntoResponse::into_response)
        }
        Ok(_) => response,
        Err(error) => AppError::from(error).into_response(),
    }
}

enum Prepared {
    Run(Request),
    Replay(Response),
}

async fn prepare(state: &AppState, request: Request) -> Result<Prepared, AppError> {
    let mutates = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(Prepared::Run(request));
    };
    if !mutates {
        return Ok(Prepared::Run(request));
    }
    // Only API-key callers get idempotency; anything else is left to the
    // handler to reject (401) or serve.
    let Some(organization_id) = request
        .extensions()
        .get::<Authentication>()
        .and_then(Authentication::api_key)
        .map(|key| key.organization_id)
    else {
        return Ok(Prepared::Run(request));
    };
    let key = key
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            AppError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
        })?
        .to_owned();
    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_BYTES_MAX).await.map_err(|_| {
        AppError::PayloadTooLarge(format!("the body exceeds {BODY_BYTES_MAX} bytes"))
    })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hasher.finalize().to_vec();

    if let Some(stored) = fjord_store::idempotency::get(&state.pool, organization_id, &key).await? {
        if stored.request_hash != request_hash {
            return Err(AppError::IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key".into(),
            ));
        }
        return Ok(Prepared::Replay(replay(stored)?));
    }
    parts.extensions.insert(IdempotencyRequest {
        organization_id,
        key,
        request_hash,
    });
    Ok(Prepared::Run(Request::from_parts(parts, Body::from(bytes))))
}

fn replay(stored: fjord_store::idempotency::IdempotencyRow) -> Result<Response, AppError> {
    let status = u16::try_from(stored.status)
        .ok()
        .and_then(|status| StatusCode::from_u16(status).ok())
        .ok_or_else(|| anyhow::anyhow!("stored idempotent status {} is invalid", stored.status))?;
    let mut response = if stored.body.is_empty() {
        status.into_response()
    } else {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            stored.body,
        )
            .into_response()
    };
    if let Some(etag) = stored
        .etag
        .and_then(|etag| HeaderValue::from_str(&etag).ok())
    {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}
