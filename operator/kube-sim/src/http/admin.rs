//! Admin endpoints for tests driving a server over HTTP: faults, compaction, state.
//!
//! - `POST /admin/faults` with `{"failRequests": {"code": 500, "seconds": 5}}`,
//!   `{"failNext": {"code": 429, "count": 3}}`, `{"dropWatchesSeconds": 2}`,
//!   `{"eventDelayMillis": 300}` (any combination) or `{"clear": true}`;
//! - `POST /admin/compact`: forget the change log (older watches get 410);
//! - `GET /admin/state`: the state file's content.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::server::ApiServer;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: u16,
    #[serde(default)]
    seconds: u64,
    #[serde(default)]
    count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FaultRequest {
    #[serde(default)]
    clear: bool,
    fail_requests: Option<Code>,
    fail_next: Option<Code>,
    drop_watches_seconds: Option<u64>,
    event_delay_millis: Option<u64>,
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

async fn faults(State(server): State<ApiServer>, Json(request): Json<FaultRequest>) -> Response {
    let faults = server.faults();
    let valid = |code: u16| matches!(code, 429 | 500 | 503);
    if request.clear {
        faults.clear();
    }
    if let Some(fail) = request.fail_requests {
        if !valid(fail.code) {
            return bad("code must be 429, 500 or 503");
        }
        faults.fail_requests_for(fail.code, Duration::from_secs(fail.seconds));
    }
    if let Some(fail) = request.fail_next {
        if !valid(fail.code) {
            return bad("code must be 429, 500 or 503");
        }
        faults.fail_next_requests(fail.code, fail.count);
    }
    if let Some(seconds) = request.drop_watches_seconds {
        faults.drop_watches_for(Duration::from_secs(seconds));
    }
    if let Some(millis) = request.event_delay_millis {
        faults.delay_events(Duration::from_millis(millis));
    }
    tracing::info!("faults changed");
    Json(json!({"ok": true})).into_response()
}

async fn compact(State(server): State<ApiServer>) -> Response {
    server.compact();
    Json(json!({"compactedThrough": server.resource_version()})).into_response()
}

async fn state(State(server): State<ApiServer>) -> Response {
    Json(server.snapshot()).into_response()
}

/// The `/admin` routes.
pub(crate) fn router() -> Router<ApiServer> {
    Router::new()
        .route("/admin/faults", post(faults))
        .route("/admin/compact", post(compact))
        .route("/admin/state", get(state))
}
