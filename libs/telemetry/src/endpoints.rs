//! `/metrics`, `/healthz` and `/readyz`, merged into every server's router.
//!
//! - `/healthz` is liveness: 200 while the process can answer at all.
//! - `/readyz` is readiness: every named check runs (each bounded by a
//!   timeout); 200 when all pass, 503 with the failing checks otherwise.
//! - `/metrics` is the Prometheus registry in the OpenMetrics text format.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde::Serialize;

use crate::Metrics;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The named checks behind `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(String, CheckFn)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|(name, _)| name.as_str()).collect();
        formatter
            .debug_struct("Readiness")
            .field("checks", &names)
            .finish()
    }
}

impl Readiness {
    /// Adds a check; `Err(reason)` makes the process not ready.
    pub fn with_check<F>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        self.checks.push((name.to_owned(), Arc::new(check)));
        self
    }

    /// Runs every check concurrently; the map holds `"ok"` or the reason.
    pub async fn evaluate(&self) -> (bool, BTreeMap<String, String>) {
        let runs = self.checks.iter().map(|(name, check)| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(reason),
                Err(_) => Err(format!("timed out after {CHECK_TIMEOUT:?}")),
            };
            (name.clone(), outcome)
        });
        let outcomes = futures::future::join_all(runs).await;
        let ready = outcomes.iter().all(|(_, outcome)| outcome.is_ok());
        let report = outcomes
            .into_iter()
            .map(|(name, outcome)| (name, outcome.err().unwrap_or_else(|| "ok".to_owned())))
            .collect();
        (ready, report)
    }
}

#[derive(Clone, Debug)]
struct EndpointState {
    metrics: Arc<Metrics>,
    readiness: Readiness,
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    checks: BTreeMap<String, String>,
}

/// The health and metrics routes, ready to `merge` into a server's router.
pub fn router<S: Clone + Send + Sync + 'static>(
    metrics: Arc<Metrics>,
    readiness: Readiness,
) -> Router<S> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(EndpointState { metrics, readiness })
}

async fn healthz() -> Json<HealthBody> {
    Json(HealthBody {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

async fn readyz(State(state): State<EndpointState>) -> Response {
    let (ready, checks) = state.readiness.evaluate().await;
    if ready {
        (
            StatusCode::OK,
            Json(HealthBody {
                status: "ready",
                checks,
            }),
        )
            .into_response()
    } else {
        tracing::warn!(?checks, "readiness check failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthBody {
                status: "not_ready",
                checks,
            }),
        )
            .into_response()
    }
}

async fn metrics_text(State(state): State<EndpointState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get_path(app: Router, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn app(readiness: Readiness) -> Router {
        router(Arc::new(Metrics::new("fjord-test")), readiness)
    }

    #[tokio::test]
    async fn readyz_reports_each_failing_check_with_503() {
        let readiness = Readiness::default()
            .with_check("database", || {
                Box::pin(async { Err("connection refused".to_owned()) })
            })
            .with_check("disk", || Box::pin(async { Ok(()) }));
        let (status, body) = get_path(app(readiness), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body.contains("\"database\":\"connection refused\""),
            "{body}"
        );
        assert!(body.contains("\"disk\":\"ok\""), "{body}");
    }

    #[tokio::test]
    async fn healthz_and_metrics_answer_without_checks() {
        let (status, body) = get_path(app(Readiness::default()), "/healthz").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "{\"status\":\"ok\"}")
        );
        let (status, body) = get_path(app(Readiness::default()), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("fjord_build_info"), "{body}");
    }
}
