//! Why the kubelet could not do something.

use std::path::PathBuf;

/// Errors of the process kubelet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("image table: {reason}")]
    ImageTable { reason: String },
    #[error("image {image:?} is not in the image table (add it with --image IMAGE=PATH)")]
    UnknownImage { image: String },
    #[error("container configuration: {reason}")]
    ContainerConfig { reason: String },
    #[error("could not {action} at {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    #[error("watch: {0}")]
    Watch(#[from] kube::runtime::watcher::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
