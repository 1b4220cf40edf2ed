//! The crate's one error type.

use std::path::PathBuf;

use crate::status::ApiStatus;

/// Everything that can go wrong in the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed the way a real API server would fail it.
    #[error("{0}")]
    Api(Box<ApiStatus>),
    /// Reading or writing the state file failed.
    #[error("state file {path}: {source}")]
    StateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state file is not what this version writes.
    #[error("state file {path} cannot be decoded: {source}")]
    StateDecode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Binding or serving the HTTP listener failed.
    #[error("http server: {0}")]
    Serve(#[source] std::io::Error),
}

impl From<ApiStatus> for Error {
    fn from(status: ApiStatus) -> Self {
        Self::Api(Box::new(status))
    }
}

impl Error {
    /// The `Status` this error answers an API call with.
    pub fn status(&self) -> ApiStatus {
        match self {
            Self::Api(status) => (**status).clone(),
            other => ApiStatus::internal(other.to_string()),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
