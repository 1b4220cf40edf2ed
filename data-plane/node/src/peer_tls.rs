//! Mutual TLS between peers: each node presents its certificate and accepts
//! only peers whose certificate chains to the cluster's trust bundle, in
//! both directions, before a single frame is read (docs/security.md). The
//! rustls configurations are built by the caller (the broker, from PEM
//! files); this module runs the handshakes. The caller may replace them
//! while the node runs ([`PeerTls::replace`], certificate rotation): every
//! handshake from then on uses the new ones, connections already open keep
//! the session they negotiated.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long a peer may take over its TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS side of the peer transport; clones share the configurations,
/// so a replacement reaches every connection task.
#[derive(Clone)]
pub struct PeerTls {
    sides: Arc<RwLock<Sides>>,
}

#[derive(Clone)]
struct Sides {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PeerTls")
    }
}

impl PeerTls {
    /// `server` must require client certificates from the trust bundle;
    /// `client` must present this node's certificate and trust the bundle.
    pub fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Self {
        Self {
            sides: Arc::new(RwLock::new(Sides::new(server, client))),
        }
    }

    /// Takes new configurations (rotated certificates or trust bundle) for
    /// every handshake from now on, in both directions.
    pub fn replace(&self, server: Arc<ServerConfig>, client: Arc<ClientConfig>) {
        let sides = Sides::new(server, client);
        *self.sides.write().unwrap_or_else(PoisonError::into_inner) = sides;
    }

    fn current(&self) -> Sides {
        self.sides
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sides {
    fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Self {
        Self {
            acceptor: TlsAcceptor::from(server),
            connector: TlsConnector::from(client),
        }
    }
}

/// A peer connection, over TCP or TLS.
pub(crate) trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerIo for T {}
pub(crate) type PeerStream = Box<dyn PeerIo>;

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "tls handshake timed out")
}

/// The connecting side: TLS to the peer named `name` when configured (its
/// DNS name when the peer was given by name, else its IP address: the name
/// is sent as SNI and handed to the certificate verifier).
pub(crate) async fn connect(
    tls: Option<&PeerTls>,
    stream: TcpStream,
    name: ServerName<'static>,
) -> std::io::Result<PeerStream> {
    let Some(tls) = tls else {
        return Ok(Box::new(stream));
    };
    let handshake = tls.current().connector.connect(name, stream);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| timed_out())??;
    Ok(Box::new(stream))
}

/// The accepting side: TLS with a required client certificate when
/// configured.
pub(crate) async fn accept(
    tls: Option<&PeerTls>,
    stream: TcpStream,
) -> std::io::Result<PeerStream> {
    let Some(tls) = tls else {
        return Ok(Box::new(stream));
    };
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.current().acceptor.accept(stream))
        .await
        .map_err(|_| timed_out())??;
    Ok(Box::new(stream))
}
