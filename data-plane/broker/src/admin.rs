//! The base of the broker's admin HTTP API: `/healthz`, `/readyz`,
//! `/metrics`. `main.rs` merges the other routes onto the same port: the
//! cluster's (controller requests, health, restart probe, maintenance,
//! decommission; `cluster/http.rs`) and the live settings (`live/http.rs`),
//! behind the token or client-certificate check of `security/admin.rs`.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use fjord_telemetry::{HttpMetrics, Metrics, Readiness};

/// The admin router.
pub fn router(
    metrics: Arc<Metrics>,
    http_metrics: Arc<HttpMetrics>,
    readiness: Readiness,
) -> Router {
    fjord_telemetry::endpoints_router(metrics, readiness)
        .layer(from_fn_with_state(http_metrics, HttpMetrics::track))
}
