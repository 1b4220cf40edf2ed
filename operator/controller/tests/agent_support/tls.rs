//! A TLS front before the agent's control plane replica: a fresh test CA
//! (no private key is ever committed), a server certificate for `localhost`
//! and `127.0.0.1`, and a proxy that ends TLS and copies bytes to the plain
//! replica. It counts handshakes, so a test can see a refused certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The proxy; stopped on drop.
#[derive(Debug)]
pub struct TlsFront {
    pub address: SocketAddr,
    /// PEM of the CA that signed the front's certificate.
    pub ca_pem: String,
    handshakes_done: Arc<AtomicUsize>,
    handshakes_failed: Arc<AtomicUsize>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Listens on a free loopback port and forwards to `backend`.
    pub async fn start(backend: SocketAddr) -> Self {
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "fjord test control plane CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let handshakes_done = Arc::new(AtomicUsize::new(0));
        let handshakes_failed = Arc::new(AtomicUsize::new(0));
        let (done, failed) = (Arc::clone(&handshakes_done), Arc::clone(&handshakes_failed));
        let accepting = tokio::spawn(async move {
            while let Ok((tcp, _)) = socket.accept().await {
                let (acceptor, done, failed) =
                    (acceptor.clone(), Arc::clone(&done), Arc::clone(&failed));
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        failed.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    done.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        Self {
            address,
            ca_pem: ca.pem(),
            handshakes_done,
            handshakes_failed,
            accepting,
        }
    }

    /// The URL an agent reaches the control plane at, by host name.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.address.port())
    }

    pub fn handshakes_done(&self) -> usize {
        self.handshakes_done.load(Ordering::SeqCst)
    }

    pub fn handshakes_failed(&self) -> usize {
        self.handshakes_failed.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
