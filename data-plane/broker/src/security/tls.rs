//! A listener's TLS configuration, built from PEM files.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::{Error, Result};

/// Whether clients must present a certificate (Kafka's `ssl.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is asked for.
    None,
    /// A certificate is asked for and verified if presented.
    Requested,
    /// A connection without a valid certificate is refused.
    Required,
}

impl FromStr for ClientAuth {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "requested" => Ok(Self::Requested),
            "required" => Ok(Self::Required),
            _ => Err(Error::Config(format!(
                "--tls-client-auth must be none, requested or required, got {text:?}"
            ))),
        }
    }
}

/// Where a listener's TLS material lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA bundle client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

/// The bytes of every file, read together: a reload compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsMaterial {
    certificate: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl TlsFiles {
    /// Reads the files as they are now.
    pub(crate) fn read(&self) -> Result<TlsMaterial> {
        Ok(TlsMaterial {
            certificate: read(&self.certificate)?,
            key: read(&self.key)?,
            client_ca: self.client_ca.as_deref().map(read).transpose()?,
        })
    }

    /// Reads the files and builds the server configuration from them.
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>> {
        self.build(&self.read()?)
    }

    /// Builds the server configuration from material read earlier.
    pub(crate) fn build(&self, material: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certificates(&self.certificate, &material.certificate)?;
        let key = PrivateKeyDer::from_pem_slice(&material.key)
            .map_err(|error| file_error(&self.key, format!("no private key: {error}")))?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|source| tls_error(&self.certificate, source))?;
        let builder = match (&self.client_ca, &material.client_ca, self.client_auth) {
            (_, _, ClientAuth::None) => builder.with_no_client_auth(),
            (Some(path), Some(bundle), mode) => {
                builder.with_client_cert_verifier(client_verifier(path, bundle, mode, provider)?)
            }
            _ => {
                return Err(Error::Config(
                    "--tls-client-auth requested or required needs --tls-client-ca-file".into(),
                ));
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|source| tls_error(&self.key, source))?;
        // Kafka clients do not negotiate ALPN; accept any.
        config.alpn_protocols = Vec::new();
        Ok(Arc::new(config))
    }
}

fn client_verifier(
    path: &Path,
    bundle: &[u8],
    mode: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path, bundle)? {
        roots
            .add(certificate)
            .map_err(|source| tls_error(path, source))?;
    }
    let mut verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if mode == ClientAuth::Requested {
        verifier = verifier.allow_unauthenticated();
    }
    verifier
        .build()
        .map_err(|error| file_error(path, error.to_string()))
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, format!("unreadable PEM: {error}")))?;
    if chain.is_empty() {
        return Err(file_error(path, "holds no certificate".to_owned()));
    }
    Ok(chain)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| file_error(path, error.to_string()))
}

fn file_error(path: &Path, reason: String) -> Error {
    Error::TlsFile {
        path: path.to_owned(),
        reason,
    }
}

fn tls_error(path: &Path, source: rustls::Error) -> Error {
    file_error(path, source.to_string())
}
