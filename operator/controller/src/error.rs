//! The operator's one error type: everything its runtime, controllers and
//! Kafka admin client can fail with.

use std::net::SocketAddr;

use fjord_api::INTENT_FORMAT;
use uuid::Uuid;

/// Why an operator step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the Kubernetes API failed (network, status, decoding).
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// A setting given at start-up cannot work.
    #[error("invalid setting {setting}: {reason}")]
    InvalidConfig {
        setting: &'static str,
        reason: String,
    },
    /// The metrics and health server could not start.
    #[error("cannot serve http on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Talking to the brokers through the Kafka protocol failed.
    #[error("kafka admin: {0}")]
    Kafka(#[from] KafkaError),
    /// The finalizer helper failed around a topic reconcile.
    #[error("finalizer: {0}")]
    TopicFinalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// A resource the controller reconciles has no name or namespace.
    #[error("the {kind} has no {field}")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    /// The StreamCluster a resource names cannot be reached yet.
    #[error("StreamCluster {namespace}/{name} has no bootstrap address yet")]
    ClusterNotReady { namespace: String, name: String },
    /// A controller stopped on its own while it should have been running.
    #[error("controller {name} stopped")]
    ControllerStopped { name: String },
    // --- cluster controller (src/cluster/) ---
    /// A `StreamCluster` asks for something the operator cannot render.
    #[error("StreamCluster {cluster}: {field}: {problem}")]
    ClusterSpec {
        cluster: String,
        field: String,
        problem: String,
    },
    /// The rack init container could not write the broker's rack file.
    #[error("rack file {path}: {source}")]
    RackFile {
        path: String,
        #[source]
        source: std::io::Error,
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
    /// The finalizer helper failed around a cluster reconcile.
    #[error("finalizer: {0}")]
    ClusterFinalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// A broker's admin API did not answer as expected.
    #[error("broker admin API at {endpoint}: {problem}")]
    BrokerAdmin { endpoint: String, problem: String },
    /// No broker serves its admin API, so nothing can be asked.
    #[error("no broker of StreamCluster {0} answers its admin API")]
    NoBrokerAnswers(String),
    // --- agent (src/agent/) ---
    /// The agent's configuration cannot be used (bad flag, missing Secret key).
    #[error("agent configuration: {0}")]
    AgentConfig(String),
    /// The control plane could not be reached (connection, TLS handshake,
    /// certificate), the call timed out, or its body broke off or was too big.
    #[error("control plane unreachable: {0}")]
    ControlPlaneUnreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The control plane CA file (`--control-plane-ca-file`) is unreadable
    /// or holds no certificate.
    #[error("control plane CA file {}: {source}", path.display())]
    ControlPlaneCa {
        path: std::path::PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A request to the control plane cannot be built (a URL or a token that
    /// is not valid in a header).
    #[error("cannot build a request to {url}: {source}")]
    ControlPlaneRequest {
        url: String,
        #[source]
        source: http::Error,
    },
    /// The agent's TLS settings are refused by rustls (a bad CA certificate).
    #[error("control plane TLS: {0}")]
    ControlPlaneTls(#[from] rustls::Error),
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

/// Why a Kafka admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The bootstrap address list is empty or an entry is not `host:port`.
    #[error("bad bootstrap address {0:?}: expected host:port[,host:port...]")]
    BadBootstrap(String),
    /// No broker of the bootstrap list accepted a connection.
    #[error("no broker reachable at {bootstrap}: {source}")]
    Unreachable {
        bootstrap: String,
        #[source]
        source: std::io::Error,
    },
    /// The connection failed mid-request.
    #[error("connection to {address}: {source}")]
    Io {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The broker did not answer in time.
    #[error("{api} timed out after {seconds}s")]
    Timeout { api: &'static str, seconds: u64 },
    /// The broker closed the connection or sent a frame that cannot be right.
    #[error("bad response to {api}: {reason}")]
    BadResponse { api: &'static str, reason: String },
    /// Encoding a request or decoding a response failed.
    #[error("codec for {api}: {source}")]
    Codec {
        api: &'static str,
        #[source]
        source: anyhow::Error,
    },
    /// The broker does not serve a version of the API this client speaks.
    #[error("the broker serves no version of {api} in {ours}")]
    UnsupportedApi { api: &'static str, ours: String },
    /// The broker answered with a Kafka error code.
    #[error("{api} on {resource}: {name} ({code}) {message}")]
    Refused {
        api: &'static str,
        resource: String,
        code: i16,
        name: String,
        /// The broker's message, or empty.
        message: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a response was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("the pinned signing key is unusable: {0}")]
    Key(String),
    #[error("the response does not parse: {0}")]
    Malformed(String),
    #[error("signed by key {found}, pinned key is {pinned}")]
    WrongKey { found: String, pinned: String },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the content hash does not match the document")]
    BadHash,
    #[error("the intent is for environment {0}")]
    WrongEnvironment(Uuid),
    #[error("generation {received} is not newer than the held {held}")]
    NotNewer { received: i64, held: i64 },
    #[error("the delta does not apply: {0}")]
    DeltaDoesNotApply(String),
    #[error("intent format {0:?} is not {INTENT_FORMAT:?}")]
    UnsupportedFormat(String),
}
