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
    /// A client-side call to the Kubernetes API failed (kubelet, StatefulSet controller).
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// A watch of the Kubernetes API failed (kubelet).
    #[error("watch: {0}")]
    Watch(#[from] kube::runtime::watcher::Error),
    /// The kubelet's image table is malformed.
    #[error("image table: {reason}")]
    ImageTable { reason: String },
    /// A Pod names an image the kubelet cannot map to a binary.
    #[error("image {image:?} is not in the image table (add it with --image IMAGE=PATH)")]
    UnknownImage { image: String },
    /// A container's spec cannot be run as a process.
    #[error("container configuration: {reason}")]
    ContainerConfig { reason: String },
    /// A file or directory operation of the kubelet failed.
    #[error("could not {action} at {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An object could not be encoded (StatefulSet controller).
    #[error("could not encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A controller revision is unusable.
    #[error("controller revision: {reason}")]
    Revision { reason: &'static str },
    /// A controller revision name is taken by another template.
    #[error("controller revision {name} exists with another template (hash collision)")]
    HashCollision { name: String },
    /// A StatefulSet cannot be acted on as written.
    #[error("statefulset {name}: {reason}")]
    Invalid { name: String, reason: String },
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
