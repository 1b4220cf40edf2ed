//! The crate's one error type.

/// What can go wrong in the operator's controllers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- cluster controller (src/cluster/) ---
    /// A `StreamCluster` asks for something the operator cannot render.
    #[error("StreamCluster {cluster}: {field}: {problem}")]
    ClusterSpec {
        cluster: String,
        field: String,
        problem: String,
    },
    /// A `StreamCluster` read from the API server lacks a field every stored
    /// object has (name, namespace, uid).
    #[error("StreamCluster has no metadata.{0}")]
    ClusterMetadata(&'static str),
    /// A rendered object does not convert into its Kubernetes type.
    #[error("cannot render the {kind} of StreamCluster {cluster}: {source}")]
    Render {
        kind: &'static str,
        cluster: String,
        #[source]
        source: serde_json::Error,
    },
    /// A request to the Kubernetes API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer helper failed around a cluster reconcile.
    #[error("finalizer: {0}")]
    ClusterFinalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// A broker's admin API did not answer as expected.
    #[error("broker admin API at {endpoint}: {problem}")]
    BrokerAdmin { endpoint: String, problem: String },
    /// No broker serves its admin API, so nothing can be asked.
    #[error("no broker of StreamCluster {0} answers its admin API")]
    NoBrokerAnswers(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
