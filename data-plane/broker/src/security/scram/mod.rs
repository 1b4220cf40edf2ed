//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) on the server side,
//! sans-IO: a credential is derived once from a salted password, and an
//! exchange is two steps, each taking the client's message and returning
//! the server's answer.
//!
//! The broker stores per user and mechanism only the salt, the iteration
//! count and `StoredKey = H(HMAC(SaltedPassword, "Client Key"))`,
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`: enough to check a
//! client's proof and prove itself, never enough to log in as the user.

pub mod exchange;
pub mod messages;

use std::num::NonZeroU32;

use ring::{digest, hmac, pbkdf2};
use serde::{Deserialize, Serialize};

pub use exchange::{ScramExchange, ScramFailure};

/// Fewest PBKDF2 iterations a credential may have (Kafka's minimum).
pub const ITERATIONS_MIN: u32 = 4096;
/// Most iterations accepted, so one credential cannot make every login slow.
pub const ITERATIONS_MAX: u32 = 16_384;

/// The two SCRAM mechanisms Kafka clients offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScramMechanism {
    #[serde(rename = "SCRAM-SHA-256")]
    Sha256,
    #[serde(rename = "SCRAM-SHA-512")]
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [Self; 2] = [Self::Sha256, Self::Sha512];

    /// The SASL mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mechanism| mechanism.name() == name)
    }

    /// The number `AlterUserScramCredentials` uses (1 and 2).
    pub fn kafka_type(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    pub fn from_kafka_type(value: i8) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mechanism| mechanism.kafka_type() == value)
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha512 => &digest::SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    /// Output length of the hash, in bytes.
    pub fn hash_bytes(self) -> usize {
        self.digest().output_len()
    }

    pub(crate) fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac(), key), message)
            .as_ref()
            .to_vec()
    }

    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest(), data).as_ref().to_vec()
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
        let mut salted = vec![0; self.hash_bytes()];
        pbkdf2::derive(self.pbkdf2(), iterations, salt, password, &mut salted);
        salted
    }
}

/// What the broker keeps of one user's password, for one mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub mechanism: ScramMechanism,
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl ScramCredential {
    /// From the salted password, as `AlterUserScramCredentials` carries it.
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: Vec<u8>,
        iterations: u32,
        salted_password: &[u8],
    ) -> Self {
        let client_key = mechanism.mac(salted_password, b"Client Key");
        Self {
            mechanism,
            salt,
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.mac(salted_password, b"Server Key"),
        }
    }

    /// From a password (tests, and PLAIN's check against a stored credential).
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &[u8],
        salt: Vec<u8>,
        iterations: NonZeroU32,
    ) -> Self {
        let salted = mechanism.salted_password(password, &salt, iterations);
        Self::from_salted_password(mechanism, salt, iterations.get(), &salted)
    }

    /// True when `password` is this credential's, compared in constant time.
    pub fn matches_password(&self, password: &[u8]) -> bool {
        let Some(iterations) = NonZeroU32::new(self.iterations) else {
            return false;
        };
        let other = Self::from_password(self.mechanism, password, self.salt.clone(), iterations);
        constant_time_equal(&other.stored_key, &self.stored_key)
    }
}

/// Equality of two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    left.len() == right.len() && bool::from(left.ct_eq(right))
}
