//! The admin API over mutual TLS (`--admin-tls-listen` with its files): a
//! second admin port serving the same routes over TLS, where a client
//! certificate that chains to `--admin-tls-client-ca-file` is the
//! credential, as an alternative to the bearer token.
//!
//! Client certificates are *requested*, not required, so kubelet and
//! Prometheus still reach `/healthz`, `/readyz` and `/metrics` without
//! one; every other route needs a verified certificate (or the token, when
//! the broker has one). A certificate from another CA fails the handshake
//! itself. The files are reloaded when they change, as the Kafka
//! listener's are ([`super::ReloadingTls`]).
//!
//! Each handshake runs on its own task under [`HANDSHAKE_TIMEOUT`], so a
//! stalled client holds only its own socket; finished handshakes are handed
//! to axum through a bounded queue.
//!
//! With mTLS configured, the plain admin port no longer serves the guarded
//! routes without the token: either a token is set (brokers send it to
//! each other there) or those routes are only reachable with a
//! certificate.

use std::net::SocketAddr;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::admin::{AdminToken, OPEN_PATHS};
use super::reload::ReloadingTls;
use crate::metrics::BrokerMetrics;

/// How long an admin client may take over its TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Finished handshakes waiting for axum to take them.
const ACCEPTED_QUEUE: usize = 64;

/// The TLS admin port as axum's listener: TCP accepts and handshakes run
/// in the background; `accept` hands out finished TLS streams.
pub struct AdminTlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl std::fmt::Debug for AdminTlsListener {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AdminTlsListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl AdminTlsListener {
    /// Starts accepting on `listener` until `shutdown`.
    pub fn start(
        listener: TcpListener,
        tls: ReloadingTls,
        metrics: BrokerMetrics,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, accepted) = mpsc::channel(ACCEPTED_QUEUE);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    () = shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            warn!(%error, "admin tls accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let acceptor = tls.acceptor();
                let sender = sender.clone();
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = sender.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => {
                            metrics.admin_tls_handshake_failures.inc();
                            warn!(%peer, %error, "admin tls handshake refused");
                        }
                        Err(_) => {
                            metrics.admin_tls_handshake_failures.inc();
                            warn!(%peer, "admin tls handshake did not finish in time");
                        }
                    }
                });
            }
        });
        Ok(Self { accepted, local })
    }
}

impl axum::serve::Listener for AdminTlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept loop stopped (shutdown): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves `app` on the TLS admin port until `shutdown`, with
/// [`require_certificate`] in front (`token`, if any, admits too).
pub fn serve(
    listener: TcpListener,
    tls: ReloadingTls,
    app: axum::Router,
    token: Option<AdminToken>,
    metrics: BrokerMetrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = AdminTlsListener::start(listener, tls, metrics, shutdown.clone())?;
    let app = app.layer(axum::middleware::from_fn_with_state(
        token,
        require_certificate,
    ));
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<AdminPeer>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
        if let Err(error) = served {
            warn!(%error, "the tls admin server stopped");
        }
    });
    Ok(())
}

/// What the TLS handshake established about an admin client.
#[derive(Debug, Clone, Copy)]
pub struct AdminPeer {
    pub address: SocketAddr,
    /// A certificate that chains to the admin client CA was presented
    /// (rustls verified it during the handshake).
    pub certified: bool,
}

impl Connected<IncomingStream<'_, AdminTlsListener>> for AdminPeer {
    fn connect_info(stream: IncomingStream<'_, AdminTlsListener>) -> Self {
        let certified = stream
            .io()
            .get_ref()
            .1
            .peer_certificates()
            .is_some_and(|chain| !chain.is_empty());
        Self {
            address: *stream.remote_addr(),
            certified,
        }
    }
}

/// Middleware of the TLS admin port: the open paths for anyone; the rest
/// for a client certificate from the admin CA, or the token if set.
pub async fn require_certificate(
    State(token): State<Option<AdminToken>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let peer = request
        .extensions()
        .get::<ConnectInfo<AdminPeer>>()
        .map(|info| info.0);
    let certified = peer.is_some_and(|peer| peer.certified);
    let with_token = token
        .as_ref()
        .is_some_and(|token| token.admits(request.headers()));
    if OPEN_PATHS.contains(&path) || certified || with_token {
        debug!(path, certified, "admin request admitted");
        return next.run(request).await;
    }
    warn!(path, peer = ?peer.map(|p| p.address), "admin request without a client certificate refused");
    refusal("this admin route needs a client certificate from the admin CA")
}

/// Middleware of the plain admin port when mTLS is on and no token is
/// set: only the open paths.
pub async fn open_paths_only(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if OPEN_PATHS.contains(&path) {
        return next.run(request).await;
    }
    warn!(
        path,
        "admin request on the plain port refused (use the tls admin port)"
    );
    refusal("this admin route is served on the TLS admin port, with a client certificate")
}

fn refusal(detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": detail,
    });
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
