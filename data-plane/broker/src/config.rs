//! Broker configuration: command-line flags, validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::{Error, Result};

/// Kafka's own default for `socket.request.max.bytes` (100 MiB).
const DEFAULT_FRAME_BYTES_MAX: u32 = 100 * 1024 * 1024;

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

    /// Address the admin HTTP API binds, `HOST:PORT`.
    #[arg(long, env = "FJORD_ADMIN_LISTEN", default_value = "127.0.0.1:9644")]
    pub admin_listen: SocketAddr,

    /// This broker's node id within its cluster.
    #[arg(long, env = "FJORD_NODE_ID", default_value_t = 0)]
    pub node_id: i32,

    /// Rack (availability zone) of this broker, reported to clients.
    #[arg(long, env = "FJORD_RACK")]
    pub rack: Option<String>,

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

    #[command(flatten)]
    pub logging: fjord_telemetry::LoggingArgs,
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
        crate::topics::validate_shape(args.default_partitions, args.default_replication_factor)
            .map_err(|error| Error::Config(format!("default topic shape: {error}")))?;
        let (advertised_host, advertised_port) = match &args.advertised_listener {
            Some(listener) => parse_host_port(listener)?,
            None => (args.listen.ip().to_string(), args.listen.port()),
        };
        Ok(Self {
            data_dir,
            listen: args.listen,
            advertised_host,
            advertised_port,
            admin_listen: args.admin_listen,
            node_id: args.node_id,
            rack: args.rack.clone(),
            frame_bytes_max: args.frame_bytes_max,
            in_flight_requests_max: args.in_flight_requests_max,
            in_flight_bytes_max: args.in_flight_bytes_max,
            auto_create_topics: args.auto_create_topics,
            default_partitions: args.default_partitions,
            default_replication_factor: args.default_replication_factor,
            message_bytes_max: args.message_bytes_max,
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
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> BrokerArgs {
        let mut argv = vec!["fjord-broker", "--data-dir", "/tmp/x"];
        argv.extend_from_slice(extra);
        BrokerArgs::try_parse_from(argv).unwrap()
    }

    #[test]
    fn advertised_listener_defaults_to_the_listen_address() {
        let config = BrokerConfig::from_args(&args(&["--listen", "127.0.0.1:19092"])).unwrap();
        assert_eq!(
            (config.advertised_host.as_str(), config.advertised_port),
            ("127.0.0.1", 19092)
        );
    }

    #[test]
    fn advertised_listener_accepts_names_and_bracketed_ipv6() {
        let config =
            BrokerConfig::from_args(&args(&["--advertised-listener", "broker-0.fjord:9092"]))
                .unwrap();
        assert_eq!(config.advertised_host, "broker-0.fjord");
        let config =
            BrokerConfig::from_args(&args(&["--advertised-listener", "[::1]:9092"])).unwrap();
        assert_eq!(config.advertised_host, "::1");
    }

    #[test]
    fn malformed_advertised_listener_is_rejected_with_its_text() {
        let error =
            BrokerConfig::from_args(&args(&["--advertised-listener", "nohost"])).unwrap_err();
        assert!(error.to_string().contains("nohost"), "{error}");
        assert!(BrokerConfig::from_args(&args(&["--advertised-listener", "h:0"])).is_err());
    }

    #[test]
    fn command_line_definition_is_consistent() {
        <BrokerArgs as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn negative_node_id_is_rejected() {
        assert!(BrokerConfig::from_args(&args(&["--node-id=-1"])).is_err());
    }
}
