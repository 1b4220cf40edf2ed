use std::path::PathBuf;

/// Errors of the broker library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {path} is in use by another broker")]
    DataDirLocked { path: PathBuf },
    #[error("data directory {path} holds unreadable metadata: {reason}")]
    DataDirMetadata { path: PathBuf, reason: String },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("tls file {path}: {reason}")]
    TlsFile { path: PathBuf, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: fjord_storage::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
