//! The admin HTTP API's credential: with `--admin-token-file`, every route
//! but `/healthz`, `/readyz` and `/metrics` (which kubelet and Prometheus
//! reach without credentials and which reveal no data) requires
//! `Authorization: Bearer <token>`. Brokers send it on their own requests
//! to the controller (`cluster::client`, the observers' record pages).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;

use crate::{Error, Result};

/// Routes open without a credential.
pub const OPEN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The bearer token the admin API requires.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AdminToken(..)")
    }
}

/// The token this process sends on its own admin requests, set once at
/// start-up (a broker is one process with one token).
static OUTGOING: OnceLock<AdminToken> = OnceLock::new();

impl AdminToken {
    /// Reads the token from the first line of `path`; at least 16 bytes.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::Config(format!("--admin-token-file {}: {error}", path.display()))
        })?;
        let token = text.lines().next().unwrap_or_default().trim();
        if token.len() < 16 || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(Error::Config(format!(
                "--admin-token-file {} must hold a token of at least 16 printable bytes",
                path.display()
            )));
        }
        Ok(Self(token.into()))
    }

    /// Makes this the token sent on the broker's own admin requests.
    pub fn send_on_own_requests(&self) {
        let _ = OUTGOING.set(self.clone());
    }

    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        super::scram::constant_time_equal(presented.as_bytes(), self.0.as_bytes())
    }
}

/// Headers for the broker's own requests to other brokers' admin ports.
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(token) = OUTGOING.get()
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", token.0))
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    headers
}

/// Middleware: refuses a request without the token, except on the open
/// paths.
pub async fn require_token(
    State(token): State<AdminToken>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if OPEN_PATHS.contains(&path) || token.admits(request.headers()) {
        return next.run(request).await;
    }
    warn!(path, "admin request without a valid credential refused");
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::WWW_AUTHENTICATE, "Bearer"),
        ],
        r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"this admin route needs Authorization: Bearer <token>"}"#,
    )
        .into_response()
}
