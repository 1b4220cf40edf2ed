//! Why the StatefulSet controller could not do something.

/// Errors of the StatefulSet controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("controller revision: {reason}")]
    Revision { reason: &'static str },
    #[error("controller revision {name} exists with another template (hash collision)")]
    HashCollision { name: String },
    #[error("statefulset {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
