//! Test certificates, made fresh in every test (no private key is ever
//! committed): a CA, server certificates for the loopback address, and
//! client certificates with a common name.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
};

/// A certificate authority that can sign server and client certificates.
pub(crate) struct TestCa {
    certificate: Certificate,
    key: KeyPair,
}

/// PEM files of one certificate and its key (and the CA that signed it).
#[derive(Clone, Debug)]
pub(crate) struct CertFiles {
    pub(crate) certificate: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) ca: PathBuf,
}

fn named(common_name: &str, subject_alt_names: Vec<String>) -> CertificateParams {
    let mut params = CertificateParams::new(subject_alt_names).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

impl TestCa {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = named(name, Vec::new());
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        Self { certificate, key }
    }

    pub(crate) fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A certificate for `127.0.0.1` and `localhost` with common name
    /// `common_name`, signed by this CA; usable by a server or a client.
    pub(crate) fn issue(&self, common_name: &str) -> (String, String) {
        let params = named(
            common_name,
            vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
        );
        let key = KeyPair::generate().unwrap();
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    /// Writes a certificate issued to `common_name` as `DIR/NAME.crt`,
    /// `DIR/NAME.key`, and this CA as `DIR/NAME-ca.crt`.
    pub(crate) fn write(&self, dir: &Path, name: &str, common_name: &str) -> CertFiles {
        let (certificate, key) = self.issue(common_name);
        let files = CertFiles {
            certificate: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            ca: dir.join(format!("{name}-ca.crt")),
        };
        std::fs::write(&files.certificate, certificate).unwrap();
        std::fs::write(&files.key, key).unwrap();
        std::fs::write(&files.ca, self.pem()).unwrap();
        files
    }
}

/// A path as the `&str` command lines want.
pub(crate) fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}
