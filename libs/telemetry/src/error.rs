/// Errors raised while setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid log filter {filter:?}: {reason}")]
    InvalidFilter { filter: String, reason: String },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialised,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
