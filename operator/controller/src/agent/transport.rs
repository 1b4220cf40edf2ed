//! The agent's HTTP transport to the control plane: `http://` for the local
//! stack, `https://` verified against the bundled web PKI roots, or only
//! against the CAs of `--control-plane-ca-file` when one is given (a private
//! CA or a TLS-inspecting proxy). TLS is rustls on ring, the one crypto
//! provider of the whole workspace; the configuration names it explicitly,
//! so no process-wide default is needed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::{Error, Result};

/// An answer read whole: status, headers and the (bounded) body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A pooled HTTP/1.1 client with a deadline on every exchange.
#[derive(Debug)]
pub(crate) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    body_bytes_max: usize,
}

impl Transport {
    /// A transport whose exchanges (connect, answer and body) take at most
    /// `timeout` and whose answers are at most `body_bytes_max` bytes.
    pub(crate) fn new(
        ca_file: Option<&Path>,
        timeout: Duration,
        body_bytes_max: usize,
    ) -> Result<Self> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        // The TLS layer above hands `https` URLs down to this connector, so
        // it must not insist on `http`; the URL check at start allows only
        // `http` and `https`.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_file)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            client,
            timeout,
            body_bytes_max,
        })
    }

    /// Sends `request` and reads its whole answer, within the deadline.
    pub(crate) async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer> {
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| Error::ControlPlaneUnreachable(Box::new(error)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, self.body_bytes_max)
                .collect()
                .await
                .map_err(Error::ControlPlaneUnreachable)?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|elapsed| Error::ControlPlaneUnreachable(Box::new(elapsed)))?
    }
}

/// rustls on ring with the web PKI roots, or only the CAs of `ca_file`.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    let roots = match ca_file {
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => {
            let ca_error = |source| Error::ControlPlaneCa {
                path: path.to_owned(),
                source,
            };
            let mut roots = rustls::RootCertStore::empty();
            for certificate in CertificateDer::pem_file_iter(path).map_err(ca_error)? {
                roots.add(certificate.map_err(ca_error)?)?;
            }
            if roots.is_empty() {
                return Err(ca_error(rustls::pki_types::pem::Error::NoItemsFound));
            }
            roots
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("written");
        assert!(matches!(
            tls_config(Some(&empty)),
            Err(Error::ControlPlaneCa { .. })
        ));
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            tls_config(Some(&missing)),
            Err(Error::ControlPlaneCa { .. })
        ));
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
        )
        .expect("written");
        assert!(tls_config(Some(&garbage)).is_err());
        assert!(tls_config(None).is_ok());
    }
}
