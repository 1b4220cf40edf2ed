//! Who a Kafka client is: the listener's security protocol, TLS from PEM
//! files (reloaded when they change), and the principal a client
//! certificate maps to. The design and threat model: `docs/security.md`.

pub mod acl;
pub mod admin;
pub mod admin_tls;
mod der;
pub mod peer_reload;
pub mod peer_tls;
pub mod principal;
pub mod protocol;
pub mod reload;
pub mod sasl;
pub mod scram;
pub mod tls;
pub mod users;

pub use der::DerError;
pub use principal::Principal;
pub use protocol::SecurityProtocol;
pub use reload::ReloadingTls;
pub use tls::{ClientAuth, TlsFiles};

/// Fresh random printable text for a SCRAM server nonce (24 random bytes,
/// base64).
pub fn random_nonce() -> String {
    use base64::Engine as _;
    use ring::rand::{SecureRandom as _, SystemRandom};
    let mut bytes = [0u8; 24];
    // The system's random source failing is not something to serve through.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Random salt for a credential made by the broker itself (the bootstrap
/// user).
pub fn random_salt() -> Vec<u8> {
    use ring::rand::{SecureRandom as _, SystemRandom};
    let mut bytes = vec![0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    bytes
}
