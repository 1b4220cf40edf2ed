//! Several Kafka listeners per broker, in Kafka's model: `--listeners`
//! (`NAME://HOST:PORT,...`), `--listener-security-protocol-map`
//! (`NAME:PROTOCOL,...`) and `--advertised-listeners` (`NAME://HOST:PORT`
//! per listener). Without `--listeners` the broker has one listener built
//! from the single-listener flags (`--listen`, `--advertised-listener`,
//! `--security-protocol`), named [`LEGACY_LISTENER_NAME`], exactly as
//! before.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::BrokerArgs;
use crate::security::SecurityProtocol;
use crate::{Error, Result};

/// The name of the one listener the single-listener flags describe (what
/// brokers register with the controller, so brokers of either version
/// find each other's address).
pub const LEGACY_LISTENER_NAME: &str = "kafka";

/// Most listeners one broker serves (the controller's record bound).
const KAFKA_LISTENERS_MAX: usize = fjord_metadata::record::LISTENERS_MAX;

/// One Kafka listener: where it binds, what it tells clients, and how
/// clients must secure their connections to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaListener {
    /// Upper-case, as Kafka normalizes them (`kafka` for the legacy one).
    pub name: String,
    pub listen: SocketAddr,
    pub advertised_host: String,
    pub advertised_port: u16,
    pub security_protocol: SecurityProtocol,
}

/// The listeners the flags describe, first the one the legacy fields of
/// [`super::BrokerConfig`] mirror.
pub(super) fn kafka_listeners(args: &BrokerArgs) -> Result<Vec<KafkaListener>> {
    let Some(listeners) = args.listeners.as_deref() else {
        if args.listener_security_protocol_map.is_some() || args.advertised_listeners.is_some() {
            return Err(Error::Config(
                "--listener-security-protocol-map and --advertised-listeners need --listeners"
                    .into(),
            ));
        }
        return legacy_listener(args).map(|listener| vec![listener]);
    };
    if args.advertised_listener.is_some() || args.security_protocol != "PLAINTEXT" {
        return Err(Error::Config(
            "--listeners replaces --advertised-listener and --security-protocol: \
             use --advertised-listeners and --listener-security-protocol-map"
                .into(),
        ));
    }
    let protocols = protocol_map(args.listener_security_protocol_map.as_deref())?;
    let advertised = match args.advertised_listeners.as_deref() {
        Some(text) => named_addresses("--advertised-listeners", text)?,
        None => Vec::new(),
    };
    let mut built = Vec::new();
    for (name, host, port) in named_addresses("--listeners", listeners)? {
        let listen: SocketAddr = format!("{}:{port}", bracketed(&host))
            .parse()
            .map_err(|_| {
                Error::Config(format!(
                    "--listeners: {name} must bind an IP address and port, got {host}:{port}"
                ))
            })?;
        let security_protocol = *protocols.get(&name).ok_or_else(|| {
            Error::Config(format!(
                "--listeners: listener {name} has no security protocol: \
                 add {name}:PROTOCOL to --listener-security-protocol-map"
            ))
        })?;
        let (advertised_host, advertised_port) = advertised
            .iter()
            .find(|(advertised, _, _)| *advertised == name)
            .map_or_else(
                || (listen.ip().to_string(), listen.port()),
                |(_, host, port)| (host.clone(), *port),
            );
        if built.iter().any(|l: &KafkaListener| l.listen == listen) {
            return Err(Error::Config(format!(
                "--listeners: two listeners bind {listen}"
            )));
        }
        built.push(KafkaListener {
            name,
            listen,
            advertised_host,
            advertised_port,
            security_protocol,
        });
    }
    if let Some((name, _, _)) = advertised
        .iter()
        .find(|(name, _, _)| !built.iter().any(|l| l.name == *name))
    {
        return Err(Error::Config(format!(
            "--advertised-listeners names {name}, which --listeners does not"
        )));
    }
    if built.is_empty() || built.len() > KAFKA_LISTENERS_MAX {
        return Err(Error::Config(format!(
            "--listeners must name 1 to {KAFKA_LISTENERS_MAX} listeners, got {}",
            built.len()
        )));
    }
    Ok(built)
}

fn legacy_listener(args: &BrokerArgs) -> Result<KafkaListener> {
    let security_protocol: SecurityProtocol = args
        .security_protocol
        .parse()
        .map_err(|error| Error::Config(format!("--security-protocol: {error}")))?;
    let (advertised_host, advertised_port) = match &args.advertised_listener {
        Some(listener) => super::parse_host_port(listener)?,
        None => (args.listen.ip().to_string(), args.listen.port()),
    };
    Ok(KafkaListener {
        name: LEGACY_LISTENER_NAME.to_owned(),
        listen: args.listen,
        advertised_host,
        advertised_port,
        security_protocol,
    })
}

/// `NAME:PROTOCOL,...`; as in Kafka, a listener named after a protocol
/// (`SASL_SSL://...`) uses it without an entry.
fn protocol_map(text: Option<&str>) -> Result<BTreeMap<String, SecurityProtocol>> {
    let mut map: BTreeMap<String, SecurityProtocol> = SecurityProtocol::ALL
        .iter()
        .map(|protocol| (protocol.name().to_owned(), *protocol))
        .collect();
    for entry in entries(text.unwrap_or_default()) {
        let invalid = |reason: String| {
            Error::Config(format!(
                "--listener-security-protocol-map: {entry:?} {reason}"
            ))
        };
        let (name, protocol) = entry
            .split_once(':')
            .ok_or_else(|| invalid("is not NAME:PROTOCOL".into()))?;
        let name = listener_name(name).map_err(invalid)?;
        let protocol = protocol
            .trim()
            .parse()
            .map_err(|error| invalid(format!("{error}")))?;
        map.insert(name, protocol);
    }
    Ok(map)
}

/// `NAME://HOST:PORT,...`, names unique.
fn named_addresses(flag: &str, text: &str) -> Result<Vec<(String, String, u16)>> {
    let mut parsed: Vec<(String, String, u16)> = Vec::new();
    for entry in entries(text) {
        let invalid =
            |reason: &str| Error::Config(format!("{flag}: {entry:?} {reason} (NAME://HOST:PORT)"));
        let (name, address) = entry
            .split_once("://")
            .ok_or_else(|| invalid("has no NAME://"))?;
        let name = listener_name(name).map_err(|reason| invalid(&reason))?;
        let (host, port) =
            super::parse_host_port(address).map_err(|_| invalid("is not HOST:PORT"))?;
        if parsed.iter().any(|(seen, _, _)| *seen == name) {
            return Err(invalid("repeats a listener name"));
        }
        parsed.push((name, host, port));
    }
    Ok(parsed)
}

fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// Kafka's listener names: letters, digits, `_` and `-`, upper-cased.
fn listener_name(name: &str) -> std::result::Result<String, String> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(name.to_ascii_uppercase())
    } else {
        Err(format!("has an invalid listener name {name:?}"))
    }
}

/// An IPv6 address in `HOST:PORT` form.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests;
