//! An in-memory Kubernetes API server for tests and the local stack (DESIGN.md D7).
//!
//! [`ApiServer`] holds every object as JSON in memory and implements the API
//! semantics the operator and `kubectl` can observe (see the crate README for what
//! is implemented and every known difference from a real `kube-apiserver`). Use it
//! in process through [`ApiServer::client`] (a `kube::Client` over a `tower::Service`,
//! no socket), or serve it on loopback with [`serve`] and [`kubeconfig_yaml`].
//!
//! Layout: `store` (objects, resource versions, change log, state file), `watch`,
//! `apply` (server-side apply, managed fields, patches), `schema` (CRD structural
//! schemas, list merge types), `discovery` (served types, discovery documents),
//! `server` (object lifecycle), `http` (routes, content negotiation, tables),
//! `faults` (injected failures), `testbed` (server, StatefulSet controller and
//! process kubelet started together).

pub mod apply;
pub mod discovery;
mod error;
pub mod faults;
mod http;
pub mod kubelet;
pub mod schema;
pub mod server;
pub mod statefulset;
pub mod status;
pub mod store;
pub mod testbed;
pub mod watch;

use std::future::Future;

use tokio::net::TcpListener;

pub use error::{Error, Result};
pub use faults::Faults;
pub use server::{ApiServer, Target};
pub use status::ApiStatus;

impl ApiServer {
    /// The server as a `tower::Service` (an axum router), for `kube::Client::new`.
    pub fn service(&self) -> axum::Router {
        http::api_router(self.clone())
    }

    /// A `kube::Client` talking to this server in process, default namespace `default`.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.service(), "default")
    }
}

/// Serves the API (plus `/metrics`, `/healthz`, `/readyz`, `/admin/...`) on a bound
/// listener until `shutdown` resolves.
pub async fn serve(
    server: ApiServer,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let faults = server.faults().clone();
    // Open watches would hold a graceful shutdown for up to their timeout: end them.
    let shutdown = async move {
        shutdown.await;
        faults.drop_watches_for(std::time::Duration::from_secs(3600));
    };
    axum::serve(listener, http::served_router(server))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}

/// A kubeconfig for a server at `server_url` (`http://127.0.0.1:PORT`), usable by
/// kube-rs, kubectl and any other client.
pub fn kubeconfig_yaml(server_url: &str) -> String {
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: fjord-kube-sim\n  cluster:\n    server: {server_url}\n\
         contexts:\n\
         - name: fjord-kube-sim\n  context:\n    cluster: fjord-kube-sim\n    user: fjord-kube-sim\n    namespace: default\n\
         current-context: fjord-kube-sim\n\
         users:\n\
         - name: fjord-kube-sim\n  user: {{}}\n"
    )
}
