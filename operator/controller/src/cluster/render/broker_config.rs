//! The brokers' configuration files: `spec.config` (Kafka's setting names)
//! mapped onto `fjord-broker`'s config-file keys, plus what each broker must
//! be told about the others (docs/operator.md, "The broker's configuration").
//! Every setting is written to the file (a restarted broker reads it); the
//! live ones are also set on running brokers and kept out of the revision.

use std::collections::BTreeMap;
use std::fmt;

use fjord_metadata::BrokerId;

use crate::{Error, Result};

/// The type of a broker setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Integer,
}

/// Whether a running broker takes a setting through its admin API
/// (`PATCH /v1/config`) or only at start (docs/operator.md, "Live versus
/// restart").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Live,
    AtStart,
}

/// `spec.config` keys the broker has a setting for: (Kafka name, broker
/// config-file key, type, live or not).
const SETTINGS: &[(&str, &str, Kind, Takes)] = &[
    (
        "auto.create.topics.enable",
        "auto-create-topics",
        Kind::Bool,
        Takes::Live,
    ),
    (
        "num.partitions",
        "default-partitions",
        Kind::Integer,
        Takes::Live,
    ),
    (
        "default.replication.factor",
        DEFAULT_REPLICATION_FACTOR,
        Kind::Integer,
        Takes::Live,
    ),
    (
        "message.max.bytes",
        "message-bytes-max",
        Kind::Integer,
        Takes::Live,
    ),
    (
        "socket.request.max.bytes",
        "frame-bytes-max",
        Kind::Integer,
        Takes::AtStart,
    ),
    (
        "offsets.topic.num.partitions",
        "group-log-partitions",
        Kind::Integer,
        Takes::AtStart,
    ),
    (
        "fjord.in.flight.requests.max",
        "in-flight-requests-max",
        Kind::Integer,
        Takes::AtStart,
    ),
    (
        "fjord.in.flight.bytes.max",
        "in-flight-bytes-max",
        Kind::Integer,
        Takes::AtStart,
    ),
];

const DEFAULT_REPLICATION_FACTOR: &str = "default-replication-factor";

/// The broker config-file keys a running broker takes live.
pub fn live_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS
        .iter()
        .filter(|(_, _, _, takes)| *takes == Takes::Live)
        .map(|(_, key, _, _)| *key)
}

fn is_live(file_key: &str) -> bool {
    live_keys().any(|key| key == file_key)
}

/// A TOML value of the broker's config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    Bool(bool),
    Integer(i64),
    Text(String),
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(value) => write!(f, "{value}"),
            Self::Integer(value) => write!(f, "{value}"),
            // A JSON string is a valid TOML basic string (same escapes).
            Self::Text(value) => match serde_json::to_string(value) {
                Ok(quoted) => f.write_str(&quoted),
                Err(_) => Err(fmt::Error),
            },
        }
    }
}

/// The settings every broker of a cluster shares, and the `spec.config`
/// keys left out because the broker has no such setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSettings {
    /// Broker config-file key to value, sorted.
    pub values: BTreeMap<&'static str, SettingValue>,
    /// `spec.config` keys the broker has no setting for.
    pub unsupported: Vec<String>,
}

impl SharedSettings {
    /// Maps `spec.config` onto the broker's keys; `brokers` sets the default
    /// replication factor (min(3, brokers)) unless the config does.
    pub fn from_spec(
        cluster: &str,
        brokers: u16,
        config: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut values = BTreeMap::new();
        values.insert(
            DEFAULT_REPLICATION_FACTOR,
            SettingValue::Integer(i64::from(brokers.min(3))),
        );
        let mut unsupported = Vec::new();
        for (key, text) in config {
            let Some((_, file_key, kind, _)) = SETTINGS
                .iter()
                .find(|(name, _, _, _)| *name == key.as_str())
            else {
                unsupported.push(key.clone());
                continue;
            };
            let invalid = |expected: &str| Error::ClusterSpec {
                cluster: cluster.to_owned(),
                field: format!("spec.config[{key:?}]"),
                problem: format!("{text:?} is not {expected}"),
            };
            let value = match kind {
                Kind::Bool => match text.trim() {
                    "true" => SettingValue::Bool(true),
                    "false" => SettingValue::Bool(false),
                    _ => return Err(invalid("true or false")),
                },
                Kind::Integer => text
                    .trim()
                    .parse()
                    .map(SettingValue::Integer)
                    .map_err(|_| invalid("an integer"))?,
            };
            values.insert(*file_key, value);
        }
        Ok(Self {
            values,
            unsupported,
        })
    }

    /// The settings a running broker takes live, by config-file key.
    pub fn live(&self) -> BTreeMap<&'static str, SettingValue> {
        self.values
            .iter()
            .filter(|(key, _)| is_live(key))
            .map(|(key, value)| (*key, value.clone()))
            .collect()
    }

    /// These settings without the live ones: what only a restart applies,
    /// and so what the revision hashes.
    pub fn at_start_only(&self) -> Self {
        Self {
            values: self
                .values
                .iter()
                .filter(|(key, _)| !is_live(key))
                .map(|(key, value)| (*key, value.clone()))
                .collect(),
            unsupported: self.unsupported.clone(),
        }
    }
}

/// One broker's config file. `peer_hosts` holds every broker's host
/// (this one's included); `voters` the controller voters.
pub fn broker_file(
    cluster: &str,
    broker: BrokerId,
    shared: &SharedSettings,
    peer_hosts: &BTreeMap<BrokerId, String>,
    voters: &[BrokerId],
    peer_port: u16,
    admin_port: u16,
) -> String {
    assert!(
        peer_hosts.contains_key(&broker),
        "the broker's own host is known"
    );
    let peers: Vec<String> = peer_hosts
        .iter()
        .filter(|(id, _)| **id != broker)
        .map(|(id, host)| format!("{}={host}:{peer_port}", id.0))
        .collect();
    let voters: Vec<String> = voters
        .iter()
        .filter_map(|id| {
            let host = peer_hosts.get(id)?;
            Some(format!("{}@{host}:{admin_port}", id.0))
        })
        .collect();
    let mut lines = vec![
        format!(
            "# broker {} of StreamCluster {cluster}, written by fjord-operator",
            broker.0
        ),
        format!("node-id = {}", broker.0),
        format!("peers = {}", SettingValue::Text(peers.join(","))),
        format!(
            "controller-voters = {}",
            SettingValue::Text(voters.join(","))
        ),
    ];
    for (key, value) in &shared.values {
        lines.push(format!("{key} = {value}"));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn kafka_setting_names_map_onto_the_brokers_keys_with_their_types() {
        let shared = SharedSettings::from_spec(
            "demo",
            3,
            &config(&[
                ("auto.create.topics.enable", "false"),
                ("num.partitions", "6"),
                ("log.retention.ms", "604800000"),
            ]),
        )
        .unwrap();
        assert_eq!(
            shared.values["auto-create-topics"],
            SettingValue::Bool(false)
        );
        assert_eq!(
            shared.values["default-partitions"],
            SettingValue::Integer(6)
        );
        assert_eq!(
            shared.values["default-replication-factor"],
            SettingValue::Integer(3)
        );
        assert_eq!(shared.unsupported, vec!["log.retention.ms".to_owned()]);
    }

    #[test]
    fn the_default_replication_factor_follows_small_clusters_unless_configured() {
        let one = SharedSettings::from_spec("demo", 1, &BTreeMap::new()).unwrap();
        assert_eq!(
            one.values["default-replication-factor"],
            SettingValue::Integer(1)
        );
        let set =
            SharedSettings::from_spec("demo", 5, &config(&[("default.replication.factor", "2")]))
                .unwrap();
        assert_eq!(
            set.values["default-replication-factor"],
            SettingValue::Integer(2)
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_naming_the_key() {
        let error = SharedSettings::from_spec("demo", 3, &config(&[("num.partitions", "many")]))
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("num.partitions") && text.contains("many"),
            "{text}"
        );
        assert!(
            SharedSettings::from_spec("demo", 3, &config(&[("auto.create.topics.enable", "yes")]))
                .is_err()
        );
    }

    #[test]
    fn live_settings_are_split_from_those_read_only_at_start() {
        let shared = SharedSettings::from_spec(
            "demo",
            3,
            &config(&[
                ("message.max.bytes", "2097152"),
                ("auto.create.topics.enable", "false"),
                ("socket.request.max.bytes", "4096"),
                ("offsets.topic.num.partitions", "6"),
            ]),
        )
        .unwrap();
        let live: Vec<&str> = shared.live().into_keys().collect();
        assert_eq!(
            live,
            [
                "auto-create-topics",
                "default-replication-factor",
                "message-bytes-max"
            ]
        );
        let at_start: Vec<&str> = shared.at_start_only().values.into_keys().collect();
        assert_eq!(at_start, ["frame-bytes-max", "group-log-partitions"]);
        let every: Vec<&str> = live_keys().collect();
        assert_eq!(
            every,
            [
                "auto-create-topics",
                "default-partitions",
                "default-replication-factor",
                "message-bytes-max"
            ],
            "the keys the broker's PATCH /v1/config takes"
        );
    }

    #[test]
    fn a_broker_file_lists_the_other_peers_and_every_voter() {
        let shared = SharedSettings::from_spec("demo", 3, &BTreeMap::new()).unwrap();
        let hosts: BTreeMap<BrokerId, String> = (1..=3)
            .map(|id| (BrokerId(id), format!("10.0.0.{id}")))
            .collect();
        let voters = [BrokerId(1), BrokerId(2), BrokerId(3)];
        let file = broker_file("demo", BrokerId(2), &shared, &hosts, &voters, 9093, 9644);
        assert!(file.contains("node-id = 2\n"), "{file}");
        assert!(
            file.contains("peers = \"1=10.0.0.1:9093,3=10.0.0.3:9093\"\n"),
            "{file}"
        );
        assert!(
            file.contains(
                "controller-voters = \"1@10.0.0.1:9644,2@10.0.0.2:9644,3@10.0.0.3:9644\"\n"
            ),
            "{file}"
        );
    }
}
