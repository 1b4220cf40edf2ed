//! The Kafka listener: accepts connections and serves each on its own task
//! ([`crate::connection`]: pipelined, answered strictly in order).
//!
//! On shutdown the listener stops accepting, each connection stops reading
//! and finishes the requests it has in flight, and the broker waits up to
//! [`SHUTDOWN_GRACE`] for them.

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::connection::serve_connection;
use crate::handler::Handler;
use crate::metrics::BrokerMetrics;

/// How long shutdown waits for open connections to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pending connections the kernel queues for the Kafka listener.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds the Kafka address without listening: the port is taken (a
/// conflict fails the start at once) but connections are refused until
/// [`TcpSocket::listen`]. A cluster broker listens only once it serves
/// (`cluster::startup`).
pub fn bind_unlistened(address: SocketAddr) -> crate::Result<TcpSocket> {
    let listen_error = |source| crate::Error::Listen {
        address: address.to_string(),
        source,
    };
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(listen_error)?;
    // As `TcpListener::bind` does: a restarted broker rebinds its port
    // while the previous process's connections sit in TIME_WAIT.
    socket.set_reuseaddr(true).map_err(listen_error)?;
    socket.bind(address).map_err(listen_error)?;
    Ok(socket)
}

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
