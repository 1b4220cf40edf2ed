//! The crate's error types: why an intent delta does not apply to a
//! document, and why an intent's signature is not accepted (the API's other
//! types carry no failures of their own).

use uuid::Uuid;

/// Why a delta does not apply to a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaError {
    /// The delta is for another environment.
    WrongEnvironment,
    /// The document is not the delta's `from_generation`.
    WrongGeneration { have: i64, from: i64 },
    /// A change names an object the document does not hold.
    UnknownObject(Uuid),
}

impl std::fmt::Display for DeltaError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongEnvironment => write!(formatter, "the delta is for another environment"),
            Self::WrongGeneration { have, from } => write!(
                formatter,
                "the delta applies to generation {from}, the document is generation {have}"
            ),
            Self::UnknownObject(id) => write!(formatter, "the delta names unknown object {id}"),
        }
    }
}

impl std::error::Error for DeltaError {}

/// Why an intent's signature is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The claimed content hash is not the root of the objects' hashes.
    ContentHash,
    /// The signature is not base64 of a 64-byte Ed25519 signature.
    Malformed,
    /// The signature does not verify with the key over the statement.
    Invalid,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::ContentHash => "the content hash is not the root of the objects' hashes",
            Self::Malformed => "the signature is not a base64 Ed25519 signature",
            Self::Invalid => "the signature does not verify with the pinned key",
        })
    }
}

impl std::error::Error for SignatureError {}
