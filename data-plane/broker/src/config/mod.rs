//! Broker configuration: command-line flags, validated once at start-up.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use fjord_node::PeerAddress;

use crate::security::{Principal, SecurityProtocol, TlsFiles};
use crate::{Error, Result};

mod cluster;
mod kafka_listeners;
mod listener;

use cluster::{cluster_settings, rack};

pub use kafka_listeners::{KafkaListener, LEGACY_LISTENER_NAME};
pub use listener::SaslSettings;

/// Kafka's own default for `socket.request.max.bytes` (100 MiB).
const DEFAULT_FRAME_BYTES_MAX: u32 = 100 * 1024 * 1024;

/// Group-log partitions of a new cluster: enough for leaders of 1, 2, 3, 4
/// or 6 brokers to share them evenly, few enough for a small cluster.
const DEFAULT_GROUP_LOG_PARTITIONS: u32 = 12;

/// Most group-log partitions (Kafka allows any count; each is a Raft group).
const GROUP_LOG_PARTITIONS_MAX: u32 = 1_000;

/// fjord-broker: a Kafka-protocol broker.
///
/// Kafka clients connect to `--listen`; operators and probes use the admin
/// HTTP API on `--admin-listen` (`/healthz`, `/readyz`, `/metrics`).
#[derive(Debug, Clone, Parser)]
#[command(name = "fjord-broker", version, about, long_about = None)]
pub struct BrokerArgs {
    /// TOML file setting any of these options, keyed by the long flag name
    /// without the dashes (`data-dir = "/var/lib/fjord"`, `rack = "az-1"`).
    /// Unknown keys are refused. Flags and environment variables override
    /// what the file sets.
    #[arg(long, env = "FJORD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory that holds this broker's data (required, here or in the
    /// config file). Created if missing; locked for the lifetime of the
    /// process so two brokers can never share it.
    #[arg(long, env = "FJORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address the Kafka protocol listener binds, `HOST:PORT`.
    #[arg(long, env = "FJORD_LISTEN", default_value = "127.0.0.1:9092")]
    pub listen: SocketAddr,

    /// Address given to clients in Metadata responses, `HOST:PORT`.
    /// Defaults to `--listen`; set it when clients reach the broker through
    /// another name (a Kubernetes Service, a load balancer).
    #[arg(long, env = "FJORD_ADVERTISED_LISTENER")]
    pub advertised_listener: Option<String>,

    /// Several Kafka listeners, as Kafka's `listeners`:
    /// `NAME://IP:PORT,...` (`INTERNAL://0.0.0.0:9092,SASL_SSL://0.0.0.0:9094`).
    /// Replaces --listen, --advertised-listener and --security-protocol.
    /// Metadata answers each client with the brokers' addresses on the
    /// listener it connected to. See docs/security.md, "Listeners".
    #[arg(long, env = "FJORD_LISTENERS")]
    pub listeners: Option<String>,

    /// With --listeners: each listener's security protocol, `NAME:PROTOCOL,...`
    /// (`INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL`); a listener named after a
    /// protocol (`SSL://...`) needs no entry.
    #[arg(long, env = "FJORD_LISTENER_SECURITY_PROTOCOL_MAP")]
    pub listener_security_protocol_map: Option<String>,

    /// With --listeners: the address given to clients per listener,
    /// `NAME://HOST:PORT,...`; a listener not named advertises its bind
    /// address.
    #[arg(long, env = "FJORD_ADVERTISED_LISTENERS")]
    pub advertised_listeners: Option<String>,

    /// Address the admin HTTP API binds, `HOST:PORT`.
    #[arg(long, env = "FJORD_ADMIN_LISTEN", default_value = "127.0.0.1:9644")]
    pub admin_listen: SocketAddr,

    /// This broker's node id within its cluster.
    #[arg(long, env = "FJORD_NODE_ID", default_value_t = 0)]
    pub node_id: i32,

    /// Rack (availability zone) of this broker, reported to clients.
    #[arg(long, env = "FJORD_RACK")]
    pub rack: Option<String>,

    /// File holding this broker's rack (first line; empty: no rack), read
    /// once at start; --rack, when given, wins. On Kubernetes the
    /// operator's init container writes the node's topology label there.
    #[arg(long, env = "FJORD_RACK_FILE")]
    pub rack_file: Option<PathBuf>,

    /// Largest request frame accepted, in bytes; a larger one closes the
    /// connection that sent it.
    #[arg(long, env = "FJORD_FRAME_BYTES_MAX", default_value_t = DEFAULT_FRAME_BYTES_MAX)]
    pub frame_bytes_max: u32,

    /// Requests one connection may have read but not yet answered (its
    /// pipeline depth); at the bound the broker stops reading from it.
    #[arg(long, env = "FJORD_IN_FLIGHT_REQUESTS_MAX", default_value_t = 32)]
    pub in_flight_requests_max: usize,

    /// Request bytes one connection may have read but not yet answered; at
    /// the bound the broker stops reading from it. A single larger request
    /// (up to `--frame-bytes-max`) is still served, alone.
    #[arg(long, env = "FJORD_IN_FLIGHT_BYTES_MAX", default_value_t = 16 * 1024 * 1024)]
    pub in_flight_bytes_max: u32,

    /// Create a topic when a client asks for metadata of, or produces to,
    /// one that does not exist (Kafka's `auto.create.topics.enable`).
    #[arg(long, env = "FJORD_AUTO_CREATE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_create_topics: bool,

    /// Partitions of a topic created without an explicit count.
    #[arg(long, env = "FJORD_DEFAULT_PARTITIONS", default_value_t = 1)]
    pub default_partitions: i32,

    /// Replication factor of a topic created without an explicit one
    /// (only 1 is supported until replication lands).
    #[arg(long, env = "FJORD_DEFAULT_REPLICATION_FACTOR", default_value_t = 1)]
    pub default_replication_factor: i16,

    /// Largest record-batch set accepted for one partition in a Produce
    /// request, in bytes (Kafka's `message.max.bytes`).
    #[arg(long, env = "FJORD_MESSAGE_BYTES_MAX", default_value_t = 1_048_588)]
    pub message_bytes_max: usize,

    /// Cluster mode: where this broker accepts its peers' replication
    /// traffic. Without it the broker runs alone (every topic has one
    /// replica, and the other cluster flags must be absent).
    #[arg(long, env = "FJORD_PEER_LISTEN")]
    pub peer_listen: Option<SocketAddr>,

    /// Cluster mode: every other broker's peer address, as
    /// `ID=HOST:PORT,...` (`2=10.0.0.2:9093,3=10.0.0.3:9093`). HOST is an
    /// IP address or a DNS name (`2=demo-2.demo-brokers.ns.svc.cluster.local:9093`),
    /// resolved again at every connect.
    #[arg(long, env = "FJORD_PEERS")]
    pub peers: Option<String>,

    /// Cluster mode: the initial voters of the controller group (the Raft
    /// group holding the cluster metadata) with their admin addresses, as
    /// `ID@HOST:PORT,...` (`1@10.0.0.1:9644,2@10.0.0.2:9644,3@10.0.0.3:9644`).
    /// Every broker of a cluster is given the same list; brokers send
    /// registration, heartbeats and topic changes to the controller leader
    /// over these addresses. HOST may be a DNS name, as in --peers.
    #[arg(long, env = "FJORD_CONTROLLER_VOTERS")]
    pub controller_voters: Option<String>,

    /// Cluster mode: a file in `/etc/hosts` format consulted before DNS
    /// whenever a peer's or voter's host name is resolved (re-read every
    /// time; for tests and local stacks whose names no DNS serves).
    #[arg(long, env = "FJORD_HOSTS_FILE")]
    pub hosts_file: Option<PathBuf>,

    /// Cluster mode: partitions of the group log (`__consumer_offsets`),
    /// over which consumer groups are spread so their coordination is
    /// shared by the partitions' leaders (Kafka's
    /// `offsets.topic.num.partitions`, 50 there; fewer suit a small
    /// cluster). Used once, by the controller leader creating the topic: a
    /// group's partition follows from the count, so it never changes after.
    #[arg(long, env = "FJORD_GROUP_LOG_PARTITIONS", default_value_t = DEFAULT_GROUP_LOG_PARTITIONS)]
    pub group_log_partitions: u32,

    /// Security protocol of the Kafka listener, as Kafka names them:
    /// PLAINTEXT, SSL (TLS; a client certificate names the principal),
    /// SASL_PLAINTEXT or SASL_SSL. See docs/security.md.
    #[arg(long, env = "FJORD_SECURITY_PROTOCOL", default_value = "PLAINTEXT")]
    pub security_protocol: String,

    /// PEM certificate chain (leaf first) of the Kafka listener, for SSL
    /// and SASL_SSL. Re-read when it changes.
    #[arg(long, env = "FJORD_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,

    /// PEM private key of the listener's certificate (PKCS#8, PKCS#1 or
    /// SEC1). Re-read when it changes.
    #[arg(long, env = "FJORD_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,

    /// PEM bundle of the CAs client certificates must chain to (needed
    /// when --tls-client-auth is requested or required).
    #[arg(long, env = "FJORD_TLS_CLIENT_CA_FILE")]
    pub tls_client_ca_file: Option<PathBuf>,

    /// Client certificates (Kafka's `ssl.client.auth`): none, requested
    /// (verified when presented) or required.
    #[arg(long, env = "FJORD_TLS_CLIENT_AUTH", default_value = "none")]
    pub tls_client_auth: String,

    /// How often the TLS files are checked for changes, in seconds.
    #[arg(long, env = "FJORD_TLS_RELOAD_INTERVAL_SECONDS", default_value_t = 10)]
    pub tls_reload_interval_seconds: u64,

    /// SASL mechanisms offered on a SASL listener, comma-separated, from
    /// SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN.
    #[arg(
        long,
        env = "FJORD_SASL_MECHANISMS",
        default_value = "SCRAM-SHA-256,SCRAM-SHA-512"
    )]
    pub sasl_mechanisms: String,

    /// Allow PLAIN (which sends the password itself) on SASL_PLAINTEXT,
    /// a listener without TLS.
    #[arg(long, env = "FJORD_SASL_PLAIN_WITHOUT_TLS")]
    pub sasl_plain_without_tls: bool,

    /// KIP-368: seconds an authentication lasts before the client must
    /// re-authenticate on its connection; 0: as long as the connection.
    #[arg(long, env = "FJORD_SASL_SESSION_LIFETIME_SECONDS", default_value_t = 0)]
    pub sasl_session_lifetime_seconds: u64,

    /// Seconds a connection on a SASL listener may take to authenticate
    /// before it is closed, so unauthenticated connections cannot pile up.
    #[arg(
        long,
        env = "FJORD_SASL_AUTHENTICATION_TIMEOUT_SECONDS",
        default_value_t = 30
    )]
    pub sasl_authentication_timeout_seconds: u64,

    /// A user created at start-up (for SCRAM-SHA-256 and SCRAM-SHA-512) if
    /// it does not exist yet, with the password in
    /// --sasl-bootstrap-password-file; it is a super user. The operator's
    /// way in to create the other users.
    #[arg(long, env = "FJORD_SASL_BOOTSTRAP_USER")]
    pub sasl_bootstrap_user: Option<String>,

    /// File holding the bootstrap user's password (one line).
    #[arg(long, env = "FJORD_SASL_BOOTSTRAP_PASSWORD_FILE")]
    pub sasl_bootstrap_password_file: Option<PathBuf>,

    /// Cluster mode: PEM certificate chain this broker presents to its
    /// peers (replication is then mutual TLS; all three --peer-tls-* go
    /// together).
    #[arg(long, env = "FJORD_PEER_TLS_CERT_FILE")]
    pub peer_tls_cert_file: Option<PathBuf>,

    /// Cluster mode: PEM private key of --peer-tls-cert-file.
    #[arg(long, env = "FJORD_PEER_TLS_KEY_FILE")]
    pub peer_tls_key_file: Option<PathBuf>,

    /// Cluster mode: the cluster's trust bundle (PEM CAs); a peer whose
    /// certificate does not chain to it is refused, either side.
    #[arg(long, env = "FJORD_PEER_TLS_CA_FILE")]
    pub peer_tls_ca_file: Option<PathBuf>,

    /// File holding the admin API's bearer token (first line, at least 16
    /// bytes). When set, every admin route but /healthz, /readyz and
    /// /metrics requires `Authorization: Bearer <token>`, and brokers send
    /// it to each other. Every broker of a cluster gets the same token.
    #[arg(long, env = "FJORD_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// A second admin port serving the admin API over TLS, where a client
    /// certificate from --admin-tls-client-ca-file is the credential (an
    /// alternative to the token); needs the three --admin-tls-* files.
    /// Health and metrics stay open there too.
    #[arg(long, env = "FJORD_ADMIN_TLS_LISTEN")]
    pub admin_tls_listen: Option<SocketAddr>,

    /// PEM certificate chain of the TLS admin port. Re-read when it changes.
    #[arg(long, env = "FJORD_ADMIN_TLS_CERT_FILE")]
    pub admin_tls_cert_file: Option<PathBuf>,

    /// PEM private key of --admin-tls-cert-file. Re-read when it changes.
    #[arg(long, env = "FJORD_ADMIN_TLS_KEY_FILE")]
    pub admin_tls_key_file: Option<PathBuf>,

    /// PEM bundle of the CAs whose client certificates the TLS admin port
    /// accepts as a credential.
    #[arg(long, env = "FJORD_ADMIN_TLS_CLIENT_CA_FILE")]
    pub admin_tls_client_ca_file: Option<PathBuf>,

    /// Principals allowed everything, separated by `;`
    /// (`User:admin;User:CN=operator`), as Kafka's `super.users`.
    #[arg(long, env = "FJORD_SUPER_USERS", default_value = "")]
    pub super_users: String,

    /// `none`: every authenticated principal may do everything but manage
    /// users (the ACL APIs answer SECURITY_DISABLED); `acl`: every request
    /// is checked against the ACL bindings (docs/security.md,
    /// "Authorization").
    #[arg(long, env = "FJORD_AUTHORIZER", default_value = "none")]
    pub authorizer: String,

    /// With `--authorizer=acl`: allow a resource no binding names, as
    /// Kafka's `allow.everyone.if.no.acl.found` (off: only super users).
    #[arg(long, env = "FJORD_ALLOW_EVERYONE_IF_NO_ACL_FOUND")]
    pub allow_everyone_if_no_acl_found: bool,

    #[command(flatten)]
    pub logging: fjord_telemetry::LoggingArgs,
}

/// Which authorizer checks requests (`--authorizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerKind {
    /// No checks beyond authentication (and super users for user APIs).
    None,
    /// Kafka's ACLs.
    Acl,
}

/// Cluster mode settings (all three cluster flags given).
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub peer_listen: SocketAddr,
    /// Every other broker's peer address.
    pub peers: std::collections::BTreeMap<u32, PeerAddress>,
    /// The controller voters' admin addresses.
    pub controller_voters: std::collections::BTreeMap<u32, PeerAddress>,
    /// Consulted before DNS when a name is resolved (`--hosts-file`).
    pub hosts_file: Option<PathBuf>,
    /// Partitions of the group log when this broker creates it.
    pub group_log_partitions: std::num::NonZeroU32,
}

/// The validated, immutable configuration the broker runs with.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub advertised_host: String,
    pub advertised_port: u16,
    pub admin_listen: SocketAddr,
    pub node_id: i32,
    pub rack: Option<String>,
    pub frame_bytes_max: u32,
    pub in_flight_requests_max: usize,
    pub in_flight_bytes_max: u32,
    pub auto_create_topics: bool,
    pub default_partitions: i32,
    pub default_replication_factor: i16,
    pub message_bytes_max: usize,
    /// `None`: a single broker.
    pub cluster: Option<ClusterSettings>,
    /// The first Kafka listener's security protocol.
    pub security_protocol: SecurityProtocol,
    /// Every Kafka listener (one unless `--listeners` names several); the
    /// `listen`, `advertised_*` and `security_protocol` fields mirror the
    /// first.
    pub kafka_listeners: Vec<KafkaListener>,
    /// The TLS files of every TLS listener (exactly when one uses TLS).
    pub tls: Option<TlsFiles>,
    /// How often the TLS files are checked for changes.
    pub tls_reload_interval: Duration,
    /// The SASL settings of every SASL listener (exactly when one uses it).
    pub sasl: Option<SaslSettings>,
    /// Principals allowed everything (with the bootstrap user, if any).
    pub super_users: BTreeSet<Principal>,
    /// Whether requests are checked against ACLs.
    pub authorizer: AuthorizerKind,
    /// Kafka's `allow.everyone.if.no.acl.found`.
    pub allow_everyone_if_no_acl_found: bool,
    /// The admin API's token file, if it requires one.
    pub admin_token_file: Option<PathBuf>,
    /// Mutual TLS between peers (cluster mode).
    pub peer_tls: Option<crate::security::peer_tls::PeerTlsFiles>,
    /// The TLS admin port, its files and client CA (`--admin-tls-*`).
    pub admin_tls: Option<(SocketAddr, TlsFiles)>,
}

impl BrokerConfig {
    /// Validates the flags into a configuration.
    pub fn from_args(args: &BrokerArgs) -> Result<Self> {
        let data_dir = args.data_dir.clone().ok_or_else(|| {
            Error::Config(
                "--data-dir is required (as a flag, FJORD_DATA_DIR or data-dir in the config file)"
                    .to_owned(),
            )
        })?;
        if args.node_id < 0 {
            return Err(Error::Config(format!(
                "--node-id must be >= 0, got {}",
                args.node_id
            )));
        }
        if args.frame_bytes_max < 1024 {
            return Err(Error::Config(format!(
                "--frame-bytes-max must be at least 1024, got {}",
                args.frame_bytes_max
            )));
        }
        if !(1..=4096).contains(&args.in_flight_requests_max) {
            return Err(Error::Config(format!(
                "--in-flight-requests-max must be within 1..=4096, got {}",
                args.in_flight_requests_max
            )));
        }
        if args.in_flight_bytes_max < 1024 {
            return Err(Error::Config(format!(
                "--in-flight-bytes-max must be at least 1024, got {}",
                args.in_flight_bytes_max
            )));
        }
        let cluster = cluster_settings(args)?;
        let rack = rack(args)?;
        let kafka_listeners = kafka_listeners::kafka_listeners(args)?;
        let tls = listener::tls_files(args, &kafka_listeners)?;
        let sasl = listener::sasl_settings(args, &kafka_listeners)?;
        let peer_tls = listener::peer_tls(args, cluster.is_some())?;
        let admin_tls = listener::admin_tls(args, cluster.is_some())?;
        let super_users = listener::super_users(args, sasl.as_ref())?;
        let authorizer = match args.authorizer.as_str() {
            "none" => AuthorizerKind::None,
            "acl" => AuthorizerKind::Acl,
            other => {
                return Err(Error::Config(format!(
                    "--authorizer must be 'none' or 'acl', got {other:?}"
                )));
            }
        };
        if !(1..=3600).contains(&args.tls_reload_interval_seconds) {
            return Err(Error::Config(format!(
                "--tls-reload-interval-seconds must be within 1..=3600, got {}",
                args.tls_reload_interval_seconds
            )));
        }
        let replicas_max = cluster
            .as_ref()
            .map_or(1, |cluster| cluster.peers.len() + 1);
        crate::topics::validate_shape(
            args.default_partitions,
            args.default_replication_factor,
            replicas_max,
        )
        .map_err(|error| Error::Config(format!("default topic shape: {error}")))?;
        let first = kafka_listeners
            .first()
            .ok_or_else(|| Error::Config("no Kafka listener".into()))?
            .clone();
        Ok(Self {
            data_dir,
            listen: first.listen,
            advertised_host: first.advertised_host,
            advertised_port: first.advertised_port,
            admin_listen: args.admin_listen,
            node_id: args.node_id,
            rack,
            frame_bytes_max: args.frame_bytes_max,
            in_flight_requests_max: args.in_flight_requests_max,
            in_flight_bytes_max: args.in_flight_bytes_max,
            auto_create_topics: args.auto_create_topics,
            default_partitions: args.default_partitions,
            default_replication_factor: args.default_replication_factor,
            message_bytes_max: args.message_bytes_max,
            cluster,
            security_protocol: first.security_protocol,
            kafka_listeners,
            tls,
            tls_reload_interval: Duration::from_secs(args.tls_reload_interval_seconds),
            sasl,
            super_users,
            authorizer,
            allow_everyone_if_no_acl_found: args.allow_everyone_if_no_acl_found,
            admin_token_file: args.admin_token_file.clone(),
            peer_tls,
            admin_tls,
        })
    }
}

fn parse_host_port(text: &str) -> Result<(String, u16)> {
    let invalid = || {
        Error::Config(format!(
            "--advertised-listener must be HOST:PORT, got {text:?}"
        ))
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests;
