//! Mutual TLS between brokers (`--peer-tls-*`): built from PEM files into
//! the node layer's [`fjord_node::PeerTls`]. The accepting side requires a
//! client certificate that chains to the cluster's trust bundle; the
//! connecting side presents this broker's certificate and accepts a peer
//! whose certificate chains to the same bundle.
//!
//! A peer given by DNS name (`--peers 2=demo-2.demo-brokers.ns.svc...:9093`)
//! is checked like any TLS server: the name is sent as SNI and the
//! certificate must be valid for it (a wildcard such as
//! `*.demo-brokers.ns.svc.cluster.local` covers every broker). A peer given
//! by IP address is not matched against its address: Pod IPs change when
//! Pods move, and the bundle is the cluster's own CA, so every certificate
//! it signed is a broker of this cluster. The chain, validity and
//! signatures are checked as usual either way (rustls checks the chain
//! before the name, so only a name mismatch is forgiven, and only for an IP
//! address).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::tls::{ClientAuth, TlsFiles};
use crate::{Error, Result};

/// Where a broker's peer TLS material lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// The cluster's trust bundle.
    pub ca: PathBuf,
}

impl PeerTlsFiles {
    /// Reads the files and builds both sides.
    pub fn load(&self) -> Result<fjord_node::PeerTls> {
        let (server, client) = self.configs()?;
        Ok(fjord_node::PeerTls::new(server, client))
    }

    /// Reads the files and builds the accepting and the connecting side.
    pub(crate) fn configs(&self) -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> {
        let server = TlsFiles {
            certificate: self.certificate.clone(),
            key: self.key.clone(),
            client_ca: Some(self.ca.clone()),
            client_auth: ClientAuth::Required,
        }
        .load()?;
        Ok((server, self.client_config()?))
    }

    /// The bytes of the three files as they are now.
    pub(crate) fn read(&self) -> std::io::Result<[Vec<u8>; 3]> {
        Ok([
            std::fs::read(&self.certificate)?,
            std::fs::read(&self.key)?,
            std::fs::read(&self.ca)?,
        ])
    }

    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let file_error = |path: &PathBuf, reason: String| Error::TlsFile {
            path: path.clone(),
            reason,
        };
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|error| file_error(path, error.to_string()))
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&read(&self.ca)?) {
            let certificate = certificate
                .map_err(|error| file_error(&self.ca, format!("unreadable PEM: {error}")))?;
            roots
                .add(certificate)
                .map_err(|error| file_error(&self.ca, error.to_string()))?;
        }
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|error| file_error(&self.ca, error.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(&read(&self.certificate)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| file_error(&self.certificate, format!("unreadable PEM: {error}")))?;
        let key = PrivateKeyDer::from_pem_slice(&read(&self.key)?)
            .map_err(|error| file_error(&self.key, format!("no private key: {error}")))?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| file_error(&self.certificate, error.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ClusterCaVerifier { inner }))
            .with_client_auth_cert(chain, key)
            .map_err(|error| file_error(&self.key, error.to_string()))?;
        Ok(Arc::new(config))
    }
}

/// The bundle's checks, and the name match for DNS names only (see the
/// module comment).
#[derive(Debug)]
struct ClusterCaVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ClusterCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if matches!(server_name, ServerName::IpAddress(_)) => {
                Ok(ServerCertVerified::assertion())
            }
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    /// A verifier trusting a fresh CA, and a leaf it signed for `names`.
    fn verifier_and_leaf(names: &[&str]) -> (ClusterCaVerifier, CertificateDer<'static>) {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        (ClusterCaVerifier { inner }, leaf.der().clone())
    }

    fn verify(verifier: &ClusterCaVerifier, leaf: &CertificateDer<'_>, name: &str) -> bool {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        verifier
            .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn a_peer_named_by_dns_must_hold_a_certificate_for_that_name() {
        let (verifier, leaf) = verifier_and_leaf(&["*.demo-brokers.ns.svc.cluster.local"]);
        assert!(verify(
            &verifier,
            &leaf,
            "demo-2.demo-brokers.ns.svc.cluster.local"
        ));
        assert!(!verify(
            &verifier,
            &leaf,
            "demo-2.other-brokers.ns.svc.cluster.local"
        ));
        // By IP address the cluster CA's signature is enough.
        assert!(verify(&verifier, &leaf, "10.0.0.7"));
    }

    #[test]
    fn a_certificate_from_another_ca_is_refused_by_name_and_by_address() {
        let (verifier, _) = verifier_and_leaf(&["demo-1.fjord.test"]);
        let (_, stranger) = verifier_and_leaf(&["demo-1.fjord.test"]);
        assert!(!verify(&verifier, &stranger, "demo-1.fjord.test"));
        assert!(!verify(&verifier, &stranger, "10.0.0.7"));
    }
}
