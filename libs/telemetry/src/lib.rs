//! Telemetry shared by every Fjord server: one way to log, one way to expose
//! Prometheus metrics, one way to answer health and readiness probes.
//!
//! - [`logging::init`] sets up `tracing` (human-readable on a terminal, JSON
//!   when asked) with an `EnvFilter` read from `RUST_LOG`.
//! - [`metrics::Metrics`] owns a Prometheus registry and renders it in the
//!   text exposition format; [`metrics::HttpMetrics`] is an axum middleware
//!   that counts requests and their latency by route.
//! - [`endpoints::router`] serves `/metrics`, `/healthz` (liveness) and
//!   `/readyz` (readiness, from named checks) for any server to merge in.

pub mod endpoints;
mod error;
pub mod logging;
pub mod metrics;

pub use endpoints::{Readiness, router as endpoints_router};
pub use error::{Error, Result};
pub use logging::{LogFormat, LoggingArgs};
pub use metrics::{HttpMetrics, Metrics};
