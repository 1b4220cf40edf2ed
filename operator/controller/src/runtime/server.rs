//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz`
//! (liveness: the process answers) and `/readyz` (the Kubernetes API answers).
//! Standby replicas are ready too: readiness says the replica can lead, not
//! that it does (the `fjord_operator_leader` gauge says that).

use std::sync::Arc;

use axum::Router;
use fjord_telemetry::{Metrics, Readiness};

/// The router served on `--listen`.
pub(crate) fn app(metrics: Arc<Metrics>, client: kube::Client) -> Router {
    let readiness = Readiness::default().with_check("kubernetes-api", move || {
        let client = client.clone();
        Box::pin(async move {
            client
                .apiserver_version()
                .await
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
    });
    fjord_telemetry::endpoints_router(metrics, readiness)
}
