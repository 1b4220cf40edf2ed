//! The broker's admin HTTP API: `/healthz`, `/readyz`, `/metrics`.
//!
//! Later the operator's upgrade probes (cluster health, pre-restart probe,
//! maintenance mode) live here too, on the same port.

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
