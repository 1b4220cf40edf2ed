//! What `fjord-operator run` is made of: the validated settings, leader
//! election over a Lease, the registry of controllers that run only on the
//! leader, their metrics, and the HTTP server for `/metrics`, `/healthz` and
//! `/readyz`.
//!
//! ```ignore
//! let runtime = Runtime::new(config);
//! let controllers = Controllers::default()
//!     .register("topic", move |client| topic::run(client, topic_config.clone()));
//! runtime.run(client, controllers, shutdown).await?;
//! ```

mod controllers;
#[cfg(test)]
mod controllers_test;
mod elector;
mod lease;
#[cfg(test)]
mod lease_test;
mod metrics;
mod options;
mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use controllers::{Controllers, Running};
pub use elector::Elector;
pub use lease::{Decision, LeaseConfig, Observer};
pub use metrics::{ControllerMetrics, OperatorMetrics};
pub use options::{DEFAULT_LEASE_NAMESPACE, RunArgs, RunConfig};

use crate::error::{Error, Result};

/// The operator process: settings and metrics, until [`Runtime::run`].
#[derive(Debug)]
pub struct Runtime {
    config: RunConfig,
    registry: fjord_telemetry::Metrics,
    metrics: OperatorMetrics,
}

impl Runtime {
    /// Registers the operator's metrics.
    pub fn new(config: RunConfig) -> Self {
        let mut registry = fjord_telemetry::Metrics::new("fjord-operator");
        let metrics = OperatorMetrics::register(&mut registry);
        Self {
            config,
            registry,
            metrics,
        }
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The metrics handles controllers count with (`metrics().controller(name)`).
    pub fn metrics(&self) -> &OperatorMetrics {
        &self.metrics
    }

    /// Serves HTTP and runs the election until `shutdown`; the selected
    /// `controllers` run only while this replica leads. On shutdown the
    /// controllers stop first, then the Lease is released.
    pub async fn run(
        self,
        client: kube::Client,
        controllers: Controllers,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let Self {
            config,
            registry,
            metrics,
        } = self;
        let controllers = match &config.controllers {
            Some(wanted) => controllers.select(wanted)?,
            None => controllers,
        };
        let elector = Elector::new(client.clone(), config.lease.clone(), metrics)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Listen {
                address: config.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Listen {
            address: config.listen,
            source,
        })?;
        let app = server::app(Arc::new(registry), client.clone());
        let server = tokio::spawn({
            let stop = shutdown.clone();
            async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            }
        });
        tracing::info!(
            %address,
            identity = %config.lease.identity,
            lease = %format!("{}/{}", config.lease.namespace, config.lease.name),
            namespace = config.namespace.as_deref().unwrap_or("(all)"),
            controllers = ?controllers.names(),
            "operator running: /metrics, /healthz, /readyz"
        );
        let outcome = elector.run(client, controllers, shutdown.clone()).await;
        shutdown.cancel();
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(source)) => return Err(Error::Listen { address, source }),
            Err(error) => tracing::error!(%error, "http server task failed"),
        }
        outcome
    }
}
