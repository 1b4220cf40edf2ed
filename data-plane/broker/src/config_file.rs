//! The `--config` file: TOML whose keys are the long flag names without the
//! dashes (`data-dir = "/var/lib/fjord"`, `default-partitions = 3`). Unknown
//! keys are refused. Precedence, highest first: command-line flags,
//! environment variables, the file, built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, ValueEnum};
use fjord_telemetry::LogFormat;
use serde::Deserialize;

use crate::config::BrokerArgs;
use crate::{Error, Result};

/// Every option a config file may set; each mirrors a flag of
/// [`BrokerArgs`] (a test checks none is missing).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub advertised_listener: Option<String>,
    pub listeners: Option<String>,
    pub listener_security_protocol_map: Option<String>,
    pub advertised_listeners: Option<String>,
    pub admin_listen: Option<SocketAddr>,
    pub node_id: Option<i32>,
    pub rack: Option<String>,
    pub rack_file: Option<PathBuf>,
    pub frame_bytes_max: Option<u32>,
    pub auto_create_topics: Option<bool>,
    pub default_partitions: Option<i32>,
    pub default_replication_factor: Option<i16>,
    pub message_bytes_max: Option<usize>,
    pub in_flight_requests_max: Option<usize>,
    pub in_flight_bytes_max: Option<u32>,
    pub peer_listen: Option<SocketAddr>,
    pub peers: Option<String>,
    pub controller_voters: Option<String>,
    pub hosts_file: Option<PathBuf>,
    pub group_log_partitions: Option<u32>,
    pub security_protocol: Option<String>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_client_ca_file: Option<PathBuf>,
    pub tls_client_auth: Option<String>,
    pub tls_reload_interval_seconds: Option<u64>,
    pub sasl_mechanisms: Option<String>,
    pub sasl_plain_without_tls: Option<bool>,
    pub sasl_session_lifetime_seconds: Option<u64>,
    pub sasl_authentication_timeout_seconds: Option<u64>,
    pub sasl_bootstrap_user: Option<String>,
    pub sasl_bootstrap_password_file: Option<PathBuf>,
    pub super_users: Option<String>,
    pub authorizer: Option<String>,
    pub allow_everyone_if_no_acl_found: Option<bool>,
    pub admin_token_file: Option<PathBuf>,
    pub admin_tls_listen: Option<SocketAddr>,
    pub admin_tls_cert_file: Option<PathBuf>,
    pub admin_tls_key_file: Option<PathBuf>,
    pub admin_tls_client_ca_file: Option<PathBuf>,
    pub peer_tls_cert_file: Option<PathBuf>,
    pub peer_tls_key_file: Option<PathBuf>,
    pub peer_tls_ca_file: Option<PathBuf>,
    pub log_format: Option<String>,
    pub log: Option<String>,
}

impl FileConfig {
    /// Reads and parses a config file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Error::Config(format!("config file {}: {error}", path.display())))?;
        toml::from_str(&text).map_err(|error| {
            Error::Config(format!(
                "config file {}: {}",
                path.display(),
                error.to_string().trim_end()
            ))
        })
    }
}

/// Parses the command line (and environment), then fills every option not
/// given there from the `--config` file, if one is named.
pub fn load_from<I, T>(argv: I) -> std::result::Result<BrokerArgs, LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = BrokerArgs::command().try_get_matches_from(argv)?;
    Ok(from_matches(&matches)?)
}

/// Why the command line and config file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Bad flags, or `--help`/`--version`: `exit()` prints and exits.
    #[error(transparent)]
    Usage(#[from] clap::Error),
    #[error(transparent)]
    Config(#[from] Error),
}

fn from_matches(matches: &ArgMatches) -> Result<BrokerArgs> {
    let mut args =
        BrokerArgs::from_arg_matches(matches).map_err(|error| Error::Config(error.to_string()))?;
    let Some(path) = args.config.clone() else {
        return Ok(args);
    };
    let file = FileConfig::read(&path)?;
    let unset = |id: &str| {
        !matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    macro_rules! fill {
        ($field:ident) => {
            if let Some(value) = file.$field {
                if unset(stringify!($field)) {
                    args.$field = value.into();
                }
            }
        };
    }
    fill!(data_dir);
    fill!(listen);
    fill!(advertised_listener);
    fill!(listeners);
    fill!(listener_security_protocol_map);
    fill!(advertised_listeners);
    fill!(admin_listen);
    fill!(node_id);
    fill!(rack);
    fill!(rack_file);
    fill!(frame_bytes_max);
    fill!(auto_create_topics);
    fill!(default_partitions);
    fill!(default_replication_factor);
    fill!(message_bytes_max);
    fill!(in_flight_requests_max);
    fill!(in_flight_bytes_max);
    fill!(peer_listen);
    fill!(peers);
    fill!(controller_voters);
    fill!(hosts_file);
    fill!(group_log_partitions);
    fill!(security_protocol);
    fill!(tls_cert_file);
    fill!(tls_key_file);
    fill!(tls_client_ca_file);
    fill!(tls_client_auth);
    fill!(tls_reload_interval_seconds);
    fill!(sasl_mechanisms);
    fill!(sasl_plain_without_tls);
    fill!(sasl_session_lifetime_seconds);
    fill!(sasl_authentication_timeout_seconds);
    fill!(sasl_bootstrap_user);
    fill!(sasl_bootstrap_password_file);
    fill!(super_users);
    fill!(authorizer);
    fill!(allow_everyone_if_no_acl_found);
    fill!(admin_token_file);
    fill!(admin_tls_listen);
    fill!(admin_tls_cert_file);
    fill!(admin_tls_key_file);
    fill!(admin_tls_client_ca_file);
    fill!(peer_tls_cert_file);
    fill!(peer_tls_key_file);
    fill!(peer_tls_ca_file);
    if let Some(filter) = file.log
        && unset("log")
    {
        args.logging.log = Some(filter);
    }
    if let Some(format) = file.log_format
        && unset("log_format")
    {
        args.logging.log_format = LogFormat::from_str(&format, true).map_err(|_| {
            Error::Config(format!(
                "config file {}: log-format must be 'human' or 'json', got {format:?}",
                path.display()
            ))
        })?;
    }
    Ok(args)
}

#[cfg(test)]
mod tests;
