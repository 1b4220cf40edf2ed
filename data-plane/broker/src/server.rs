//! The Kafka listener: accepts connections and serves each on its own task
//! ([`crate::connection`]: pipelined, answered strictly in order).
//!
//! On shutdown the listener stops accepting, each connection stops reading
//! and finishes the requests it has in flight, and the broker waits up to
//! [`SHUTDOWN_GRACE`] for them.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::connection::serve_connection;
use crate::handler::Handler;
use crate::metrics::BrokerMetrics;

/// How long shutdown waits for open connections to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything a connection task needs.
#[derive(Debug)]
pub struct ConnectionContext {
    pub handler: Handler,
    pub metrics: BrokerMetrics,
    pub frame_bytes_max: u32,
    /// Requests a connection may have read but not yet answered.
    pub in_flight_requests_max: usize,
    /// Request bytes a connection may have read but not yet answered.
    pub in_flight_bytes_max: u32,
}

/// Accepts Kafka connections until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    context: Arc<ConnectionContext>,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                context.metrics.connections_accepted.inc();
                let context = Arc::clone(&context);
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    context.metrics.connections_open.inc();
                    serve_connection(stream, peer, &context, &shutdown).await;
                    context.metrics.connections_open.dec();
                });
            }
            Err(error) => {
                // Running out of file descriptors must not end the listener.
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    connections.close();
    info!(
        open = connections.len(),
        "listener stopped, waiting for connections to finish"
    );
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        warn!(
            open = connections.len(),
            "connections still open after the grace period"
        );
    }
}
