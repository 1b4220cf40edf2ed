use std::path::PathBuf;

use crate::types::Offset;

/// Errors of the storage core. Broken invariants are not errors: they are
/// assertions that stop the process.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: Offset,
        log_start_offset: Offset,
        log_end_offset: Offset,
    },
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    #[error("stale leader epoch {epoch}: the log is already at epoch {latest}")]
    StaleLeaderEpoch { epoch: i32, latest: i32 },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an `io::Error` with the path it happened on.
pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}
