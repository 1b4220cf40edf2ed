//! The live settings on the admin port (behind the admin token, like the
//! other admin routes):
//!
//! - `GET /v1/config`: every live setting's value now, its source
//!   (`static`: read at start; `dynamic`: set here since), the value it
//!   started with and the built-in default;
//! - `PATCH /v1/config`: a JSON object of live settings (`{"message-bytes-max":
//!   2097152}`; `null` goes back to the start-up value), applied all or
//!   nothing. An unknown or restart-only key, a wrong type or an
//!   out-of-range value is a 400 problem document naming it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use super::{LiveConfig, LiveKey, LiveMetrics, Source};
use crate::cluster::http::problem;
use crate::metrics::OutcomeLabels;
use crate::topic_config::TopicDefaults;
use crate::topics::Topics;

/// The path of both routes.
pub const CONFIG_PATH: &str = "/v1/config";

/// What the routes share.
#[derive(Debug, Clone)]
pub struct LiveApi {
    pub live: LiveConfig,
    /// Told when the default `max.message.bytes` changes.
    pub topics: Arc<Topics>,
    pub metrics: LiveMetrics,
}

pub fn router(api: LiveApi) -> Router {
    Router::new()
        .route(CONFIG_PATH, get(describe).patch(change))
        .with_state(api)
}

#[derive(Debug, Serialize)]
struct Effective {
    value: Value,
    source: Source,
    startup: Value,
    default: Value,
}

#[derive(Debug, Serialize)]
struct Described {
    settings: BTreeMap<&'static str, Effective>,
}

async fn describe(State(api): State<LiveApi>) -> Response {
    let state = api.live.state();
    let settings = LiveKey::ALL
        .into_iter()
        .map(|key| {
            let effective = Effective {
                value: state.current.value(key),
                source: state.source(key),
                startup: state.startup.value(key),
                default: state.defaults.value(key),
            };
            (key.name(), effective)
        })
        .collect();
    axum::Json(Described { settings }).into_response()
}

async fn change(State(api): State<LiveApi>, body: Bytes) -> Response {
    let refused = |api: &LiveApi, detail: String| {
        api.metrics
            .changes
            .get_or_create(&OutcomeLabels { outcome: "refused" })
            .inc();
        warn!(%detail, "live config change refused");
        problem(StatusCode::BAD_REQUEST, detail)
    };
    let change: Value = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(error) => return refused(&api, format!("the body is not JSON: {error}")),
    };
    let (before, after) = match api.live.apply(&change) {
        Ok(settings) => settings,
        Err(error) => return refused(&api, error.to_string()),
    };
    if before.message_bytes_max != after.message_bytes_max {
        let topics = Arc::clone(&api.topics);
        let defaults = TopicDefaults {
            message_bytes_max: after.message_bytes_max,
        };
        if let Err(error) = tokio::task::spawn_blocking(move || topics.set_defaults(defaults)).await
        {
            warn!(%error, "applying the default max.message.bytes stopped");
        }
    }
    for key in LiveKey::ALL {
        let (old, new) = (before.value(key), after.value(key));
        if old != new {
            info!(setting = key.name(), %old, %new, "live setting changed");
        }
    }
    api.metrics
        .changes
        .get_or_create(&OutcomeLabels { outcome: "applied" })
        .inc();
    describe(State(api)).await
}
