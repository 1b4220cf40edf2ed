//! The crate's error type: why an intent delta does not apply to a
//! document (the API's other types carry no failures of their own).

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
