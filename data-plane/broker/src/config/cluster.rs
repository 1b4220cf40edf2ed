//! Cluster mode flags (`--peers`, `--controller-voters`, `--hosts-file`)
//! and the rack (`--rack`, `--rack-file`), validated into settings.

use fjord_node::PeerAddress;

use super::{BrokerArgs, ClusterSettings, GROUP_LOG_PARTITIONS_MAX};
use crate::{Error, Result};

/// Longest rack name accepted.
const RACK_BYTES_MAX: usize = 255;

/// The rack from --rack or the first line of --rack-file.
pub(super) fn rack(args: &BrokerArgs) -> Result<Option<String>> {
    // --rack wins, so a rack set by hand overrides a file a template names.
    let (rack, source) = match (&args.rack, &args.rack_file) {
        (Some(rack), _) => (rack.clone(), "--rack".to_owned()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                Error::Config(format!("--rack-file {}: {error}", path.display()))
            })?;
            let line = text.lines().next().unwrap_or_default().to_owned();
            (line, format!("--rack-file {}", path.display()))
        }
        (None, None) => return Ok(None),
    };
    let rack = rack.trim();
    if rack.len() > RACK_BYTES_MAX || rack.chars().any(char::is_control) {
        return Err(Error::Config(format!(
            "{source}: {rack:?} is not a rack name (at most {RACK_BYTES_MAX} bytes, no control characters)"
        )));
    }
    Ok((!rack.is_empty()).then(|| rack.to_owned()))
}

pub(super) fn cluster_settings(args: &BrokerArgs) -> Result<Option<ClusterSettings>> {
    let (Some(peer_listen), Some(peers), Some(voters)) =
        (args.peer_listen, &args.peers, &args.controller_voters)
    else {
        if args.peer_listen.is_some() || args.peers.is_some() || args.controller_voters.is_some() {
            return Err(Error::Config(
                "cluster mode needs all of --peer-listen, --peers and --controller-voters".into(),
            ));
        }
        if args.hosts_file.is_some() {
            return Err(Error::Config(
                "--hosts-file is for cluster mode (--peers and --controller-voters)".into(),
            ));
        }
        return Ok(None);
    };
    let node_id =
        u32::try_from(args.node_id).map_err(|_| Error::Config("--node-id must be >= 0".into()))?;
    let peers = parse_id_addresses("--peers", peers, '=')?;
    let controller_voters = parse_id_addresses("--controller-voters", voters, '@')?;
    if peers.contains_key(&node_id) {
        return Err(Error::Config(format!(
            "--peers lists this broker's own id {node_id}: list only the others"
        )));
    }
    if let Some(unknown) = controller_voters
        .keys()
        .find(|id| **id != node_id && !peers.contains_key(id))
    {
        return Err(Error::Config(format!(
            "controller voter {unknown} is not in --peers"
        )));
    }
    let group_log_partitions = std::num::NonZeroU32::new(args.group_log_partitions)
        .filter(|count| count.get() <= GROUP_LOG_PARTITIONS_MAX)
        .ok_or_else(|| {
            Error::Config(format!(
                "--group-log-partitions must be within 1..={GROUP_LOG_PARTITIONS_MAX}, got {}",
                args.group_log_partitions
            ))
        })?;
    Ok(Some(ClusterSettings {
        peer_listen,
        peers,
        controller_voters,
        hosts_file: args.hosts_file.clone(),
        group_log_partitions,
    }))
}

/// Parses `ID<sep>HOST:PORT,...` (host an IP address or a DNS name).
fn parse_id_addresses(
    flag: &str,
    text: &str,
    separator: char,
) -> Result<std::collections::BTreeMap<u32, PeerAddress>> {
    let mut parsed = std::collections::BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let invalid = || {
            Error::Config(format!(
                "{flag}: {entry:?} is not ID{separator}HOST:PORT (a node id, then an IP address or DNS name and a port)"
            ))
        };
        let (id, address) = entry.split_once(separator).ok_or_else(invalid)?;
        let id: u32 = id.trim().parse().map_err(|_| invalid())?;
        let address: PeerAddress = address
            .trim()
            .parse()
            .map_err(|error| Error::Config(format!("{flag}: {error}")))?;
        if parsed.insert(id, address).is_some() {
            return Err(Error::Config(format!(
                "{flag}: node id {id} is listed twice"
            )));
        }
    }
    if parsed.is_empty() && flag == "--controller-voters" {
        return Err(Error::Config(format!("{flag} lists no voter")));
    }
    Ok(parsed)
}
