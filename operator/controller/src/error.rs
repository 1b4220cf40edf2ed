//! The crate's one error type.

/// Everything the operator's library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// The agent's configuration cannot be used (bad flag, missing Secret key).
    #[error("agent configuration: {0}")]
    AgentConfig(String),
    /// The control plane could not be reached, or the call timed out.
    #[error("control plane unreachable: {0}")]
    ControlPlaneUnreachable(#[from] reqwest::Error),
    /// The control plane answered with an error status.
    #[error("control plane answered {status}: {detail}")]
    ControlPlane { status: u16, detail: String },
    /// The control plane refused the agent's credential or token (401).
    #[error("control plane refused the agent's credentials: {0}")]
    Unauthenticated(String),
    /// A body from the control plane did not decode.
    #[error("control plane sent an unreadable body: {0}")]
    Decode(String),
    /// Something the agent keeps in the cluster (state, Secret) is unreadable.
    #[error("stored agent state {object}: {detail}")]
    Stored { object: String, detail: String },
}

impl Error {
    /// Whether waiting and trying again may help (network, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::ControlPlaneUnreachable(_) | Self::Kube(_) => true,
            Self::ControlPlane { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
