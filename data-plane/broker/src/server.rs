//! The Kafka listener: accepts connections and serves each on its own task
//! ([`crate::connection`]: pipelined, answered strictly in order).
//!
//! A TLS listener runs each handshake on the connection's own task, under
//! [`HANDSHAKE_TIMEOUT`], so a slow or failing client holds only its own
//! socket; the client certificate, if any, names the connection's
//! principal.
//!
//! On shutdown the listener stops accepting, each connection stops reading
//! and finishes the requests it has in flight, and the broker waits up to
//! [`SHUTDOWN_GRACE`] for them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::KafkaListener;
use crate::connection::serve_connection;
use crate::handler::Handler;
use crate::metrics::BrokerMetrics;
use crate::security::acl::Authorizer;
use crate::security::sasl::SaslListener;
use crate::security::users::ScramUsers;
use crate::security::{Principal, ReloadingTls, SecurityProtocol};

/// How long shutdown waits for open connections to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client may take over its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
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

/// A Kafka listener whose port is taken but which does not listen yet.
#[derive(Debug)]
pub struct BoundListener {
    pub listener: KafkaListener,
    pub socket: TcpSocket,
}

/// Binds every Kafka listener ([`bind_unlistened`]); a taken port fails
/// the start.
pub fn bind_listeners(listeners: &[KafkaListener]) -> crate::Result<Vec<BoundListener>> {
    listeners
        .iter()
        .map(|listener| {
            Ok(BoundListener {
                listener: listener.clone(),
                socket: bind_unlistened(listener.listen)?,
            })
        })
        .collect()
}

/// Opens every bound listener and serves each with its own context (its
/// protocol, its advertised addresses) until `shutdown`.
pub async fn serve_listeners(
    bound: Vec<BoundListener>,
    shared: &ConnectionContext,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let mut serving = Vec::with_capacity(bound.len());
    for BoundListener { listener, socket } in bound {
        let tcp = socket
            .listen(LISTEN_BACKLOG)
            .map_err(|source| crate::Error::Listen {
                address: listener.listen.to_string(),
                source,
            })?;
        info!(
            name = %listener.name,
            kafka = %listener.listen,
            security_protocol = %listener.security_protocol,
            advertised = %format!("{}:{}", listener.advertised_host, listener.advertised_port),
            "kafka listener open"
        );
        let context = Arc::new(shared.for_listener(&listener));
        serving.push(tokio::spawn(serve(tcp, context, shutdown.clone())));
    }
    for task in serving {
        if let Err(error) = task.await {
            warn!(%error, "a kafka listener's task failed");
        }
    }
    Ok(())
}

/// Everything a connection task needs.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    pub handler: Handler,
    pub metrics: BrokerMetrics,
    pub frame_bytes_max: u32,
    /// Requests a connection may have read but not yet answered.
    pub in_flight_requests_max: usize,
    /// Request bytes a connection may have read but not yet answered.
    pub in_flight_bytes_max: u32,
    /// The listener's security protocol.
    pub security_protocol: SecurityProtocol,
    /// The listener's TLS configuration, when its protocol uses TLS.
    pub tls: Option<ReloadingTls>,
    /// The listener's SASL settings, when its protocol uses SASL.
    pub sasl: Option<SaslListener>,
    /// The users this broker authenticates.
    pub users: Arc<ScramUsers>,
    /// Principals allowed everything (`--super-users`).
    pub super_users: BTreeSet<Principal>,
    /// Checks requests against ACLs (or allows them, `--authorizer=none`).
    pub authorizer: Arc<Authorizer>,
}

impl ConnectionContext {
    /// The context of connections on `listener`: its protocol, with the
    /// shared TLS and SASL settings only when it uses them.
    #[must_use]
    pub fn for_listener(&self, listener: &KafkaListener) -> Self {
        let protocol = listener.security_protocol;
        let mut context = self.clone();
        context.handler = self.handler.for_listener(listener);
        context.security_protocol = protocol;
        context.tls = self.tls.clone().filter(|_| protocol.uses_tls());
        context.sasl = self.sasl.clone().filter(|_| protocol.uses_sasl());
        context
    }
}

/// Runs the listener's handshake on an accepted connection, then serves it.
async fn open_connection(
    stream: TcpStream,
    peer: SocketAddr,
    context: &ConnectionContext,
    shutdown: &CancellationToken,
) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%peer, %error, "cannot disable nagle");
    }
    let Some(tls) = &context.tls else {
        let (read_half, write_half) = stream.into_split();
        let principal = Principal::anonymous();
        // Boxed: a connection's future is large (about 16 KiB) and lives as long
        // as the connection; one allocation per connection keeps the accept loop's
        // task small.
        Box::pin(serve_connection(
            read_half, write_half, peer, principal, context, shutdown,
        ))
        .await;
        return;
    };
    let handshake = tokio::select! {
        () = shutdown.cancelled() => return,
        handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream)) => handshake,
    };
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            context.metrics.tls_handshake_failures.inc();
            // The reason names what the client did wrong, never key material.
            warn!(%peer, %error, "tls handshake failed");
            return;
        }
        Err(_) => {
            context.metrics.tls_handshake_failures.inc();
            warn!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "tls handshake did not finish in time");
            return;
        }
    };
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first());
    let principal = match certificate.map(|leaf| Principal::from_certificate(leaf.as_ref())) {
        None => Principal::anonymous(),
        Some(Ok(principal)) => principal,
        Some(Err(error)) => {
            context.metrics.tls_handshake_failures.inc();
            warn!(%peer, %error, "client certificate subject is unreadable; closing");
            return;
        }
    };
    debug!(%peer, %principal, protocol = %context.security_protocol, "tls connection established");
    let (read_half, write_half) = tokio::io::split(stream);
    Box::pin(serve_connection(
        read_half, write_half, peer, principal, context, shutdown,
    ))
    .await;
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
                    // Boxed: a connection's pipeline is a large future.
                    Box::pin(open_connection(stream, peer, &context, &shutdown)).await;
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
