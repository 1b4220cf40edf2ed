//! Prometheus metrics: a registry per process and an HTTP middleware.
//!
//! Metric names follow `fjord_<subsystem>_<name>_<unit>`; labels stay low in
//! cardinality (a route template, never a raw path or an id).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The metrics of one process. Built mutable at start-up, while each
/// subsystem registers what it counts, then shared read-only behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    service: String,
    version: String,
}

impl Metrics {
    /// A registry with the `fjord_build_info` gauge for `service` already set.
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::default();
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                service: service.to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register(
            "fjord_build_info",
            "Build information, always 1",
            build_info,
        );
        Self { registry }
    }

    /// Where subsystems register their metrics during start-up.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The registry in the OpenMetrics text format Prometheus scrapes.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an error here would be a bug in a
        // metric's encoder, which we surface in the body rather than panic on.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            text.push_str(&format!("# encoding error: {error}\n"));
        }
        text
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// Request counters and latency histograms for an axum router, labelled by
/// the matched route template (so `/v1/clusters/{cluster_id}`, not each id).
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
}

impl HttpMetrics {
    /// Creates the metrics and registers them as `fjord_http_*`.
    pub fn register(metrics: &mut Metrics) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16))) as fn() -> Histogram,
        );
        let registry = metrics.registry_mut();
        registry.register(
            "fjord_http_requests",
            "HTTP requests served, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "fjord_http_request_duration_seconds",
            "HTTP request latency, by method and route",
            durations.clone(),
        );
        Self {
            requests,
            durations,
        }
    }

    /// Axum middleware: `router.layer(from_fn_with_state(http_metrics, HttpMetrics::track))`.
    pub async fn track(State(this): State<Arc<Self>>, request: Request, next: Next) -> Response {
        let started = Instant::now();
        let method = request.method().as_str().to_owned();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
        let response = next.run(request).await;
        let status = response.status().as_u16();
        this.durations
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        this.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_exposed_with_service_and_version() {
        let text = Metrics::new("fjord-test").encode();
        assert!(text.contains("fjord_build_info{"), "{text}");
        assert!(text.contains("service=\"fjord-test\""), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
