use fjord_api::Problem;

/// What can go wrong talking to the Fjord API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint setting is not an absolute http(s) URL.
    #[error("endpoint {endpoint:?} is not an http or https URL")]
    Endpoint { endpoint: String },
    /// No API key in the provider settings nor in `FJORD_API_KEY`.
    #[error("no API key: set api_key in the provider block or FJORD_API_KEY")]
    MissingApiKey,
    /// The API key cannot be sent as a header.
    #[error("the API key holds characters that cannot be sent in a header")]
    InvalidApiKey,
    /// The request never got an answer (connection refused, reset, timed out).
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    /// The TLS settings could not be built.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The API answered with an RFC 7807 problem.
    #[error("{} ({}): {}", .problem.title, .problem.status, .problem.detail.as_deref().unwrap_or(""))]
    Problem { problem: Box<Problem> },
    /// The API answered with something that is not what its schema says.
    #[error("unexpected answer from {url} (status {status}): {message}")]
    Unexpected {
        url: String,
        status: u16,
        message: String,
    },
    /// A wait for an object to become stable ran out of time.
    #[error("timed out after {seconds}s waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        seconds: u64,
        last: String,
    },
    /// The object reached a state it will not leave by itself.
    #[error("{what} failed: {reason}")]
    Failed { what: String, reason: String },
    /// A duration in `timeouts` could not be read.
    #[error("{0}")]
    Duration(String),
}

impl Error {
    /// The HTTP status of an API problem, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Problem { problem } => Some(problem.status),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
