//! Per-topic configuration: which Kafka topic configs the broker honours,
//! how their values are validated, how they translate to the storage core's
//! [`LogConfig`], and the edit operations of IncrementalAlterConfigs.
//!
//! Pure functions: no I/O. A topic stores only its *overrides* (name to
//! canonical value); everything else comes from the broker defaults.
//!
//! | config | type | default | storage effect |
//! |---|---|---|---|
//! | `retention.ms` | long, -1 = forever | 604800000 | `LogConfig::retention_age` |
//! | `retention.bytes` | long, -1 = unbounded | -1 | `LogConfig::retention_bytes` |
//! | `segment.bytes` | int, 1 KiB..2 GiB-1 | 1073741824 | `LogConfig::segment_bytes` |
//! | `segment.ms` | long, >= 1 | 604800000 | `LogConfig::segment_age` |
//! | `cleanup.policy` | list, only `delete` | delete | compaction is not implemented: `compact` is refused |
//! | `min.insync.replicas` | int, 1..=replication factor | 1 | acks=all needs this many replicas; refused above the replication factor |
//! | `max.message.bytes` | int, >= 0 | `--message-bytes-max` | largest record-batch set per partition in a Produce |

use std::collections::BTreeMap;
use std::time::Duration;

use fjord_storage::{ByteSize, LogConfig, Preallocate};

/// Kafka's `ConfigEntry.ConfigType` codes (DescribeConfigs v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    List = 7,
}

/// Kafka's `ConfigSource` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic = 1,
    /// A broker setting changed while it runs (`crate::live`).
    DynamicBroker = 2,
    StaticBroker = 4,
    Default = 5,
}

/// IncrementalAlterConfigs operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterOperation {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterOperation {
    pub fn from_code(code: i8) -> Option<Self> {
        Some(match code {
            0 => Self::Set,
            1 => Self::Delete,
            2 => Self::Append,
            3 => Self::Subtract,
            _ => return None,
        })
    }
}

/// A config refused, with a message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

/// One supported topic config.
#[derive(Debug)]
pub struct TopicConfigKey {
    pub name: &'static str,
    /// The broker-level setting that supplies the default (a synonym).
    pub broker_synonym: &'static str,
    pub config_type: ConfigType,
    pub documentation: &'static str,
}

const DAY_MS: i64 = 24 * 3600 * 1000;
const SEGMENT_BYTES_MIN: i64 = 1024;
const SEGMENT_BYTES_MAX: i64 = i32::MAX as i64;

/// Every topic config the broker honours, in the order they are described.
pub const TOPIC_CONFIGS: &[TopicConfigKey] = &[
    key(
        "cleanup.policy",
        "log.cleanup.policy",
        ConfigType::List,
        "what happens to old segments: only 'delete' is supported",
    ),
    key(
        "max.message.bytes",
        "message.max.bytes",
        ConfigType::Int,
        "largest record batch set accepted per partition in one produce request",
    ),
    key(
        "min.insync.replicas",
        "min.insync.replicas",
        ConfigType::Int,
        "replicas that must acknowledge an acks=all produce",
    ),
    key(
        "retention.bytes",
        "log.retention.bytes",
        ConfigType::Long,
        "delete old segments while a partition is larger than this; -1 for no limit",
    ),
    key(
        "retention.ms",
        "log.retention.ms",
        ConfigType::Long,
        "delete segments whose newest record is older than this; -1 to keep forever",
    ),
    key(
        "segment.bytes",
        "log.segment.bytes",
        ConfigType::Int,
        "roll to a new segment file past this size",
    ),
    key(
        "segment.ms",
        "log.roll.ms",
        ConfigType::Long,
        "roll to a new segment file after this long",
    ),
];

const fn key(
    name: &'static str,
    broker_synonym: &'static str,
    config_type: ConfigType,
    documentation: &'static str,
) -> TopicConfigKey {
    TopicConfigKey {
        name,
        broker_synonym,
        config_type,
        documentation,
    }
}

pub fn lookup(name: &str) -> Option<&'static TopicConfigKey> {
    TOPIC_CONFIGS.iter().find(|entry| entry.name == name)
}

/// Broker-wide values topic configs default to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicDefaults {
    pub message_bytes_max: usize,
}

impl TopicDefaults {
    /// The default value of a supported config, as Kafka prints it.
    pub fn value_of(&self, name: &str) -> String {
        match name {
            "cleanup.policy" => "delete".to_owned(),
            "max.message.bytes" => self.message_bytes_max.to_string(),
            "min.insync.replicas" => "1".to_owned(),
            "retention.bytes" => "-1".to_owned(),
            "retention.ms" | "segment.ms" => (7 * DAY_MS).to_string(),
            "segment.bytes" => (1_i64 << 30).to_string(),
            other => panic!("no default for unsupported config {other:?}"),
        }
    }
}

fn unknown(name: &str) -> InvalidConfig {
    let known: Vec<&str> = TOPIC_CONFIGS.iter().map(|entry| entry.name).collect();
    InvalidConfig(format!(
        "unknown topic config {name:?}; supported: {}",
        known.join(", ")
    ))
}

/// Validates one config value, returning it in canonical form.
pub fn validate(name: &str, value: &str, replication_factor: i16) -> Result<String, InvalidConfig> {
    let entry = lookup(name).ok_or_else(|| unknown(name))?;
    let value = value.trim();
    if entry.config_type == ConfigType::List {
        return validate_cleanup_policy(value);
    }
    let number: i64 = value
        .parse()
        .map_err(|_| InvalidConfig(format!("{name} must be an integer, got {value:?}")))?;
    let (low, high) = match name {
        "retention.ms" | "retention.bytes" => (-1, i64::MAX),
        "segment.bytes" => (SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX),
        "segment.ms" => (1, i64::MAX),
        "max.message.bytes" => (0, i64::from(i32::MAX)),
        "min.insync.replicas" => {
            if number > i64::from(replication_factor) && number >= 1 {
                return Err(InvalidConfig(format!(
                    "min.insync.replicas {number} exceeds the replication factor {replication_factor}: every acks=all produce would fail"
                )));
            }
            (1, i64::from(i16::MAX))
        }
        other => unreachable!("numeric config {other} has no range"),
    };
    if !(low..=high).contains(&number) {
        return Err(InvalidConfig(format!(
            "{name} must be between {low} and {high}, got {number}"
        )));
    }
    Ok(number.to_string())
}

fn validate_cleanup_policy(value: &str) -> Result<String, InvalidConfig> {
    let policies: Vec<&str> = value.split(',').map(str::trim).collect();
    if policies.iter().all(|policy| policy.is_empty()) {
        return Err(InvalidConfig("cleanup.policy cannot be empty".to_owned()));
    }
    for policy in &policies {
        match *policy {
            "delete" => {}
            "compact" => {
                return Err(InvalidConfig(
                    "cleanup.policy=compact is not supported: this broker does not compact logs yet"
                        .to_owned(),
                ));
            }
            other => {
                return Err(InvalidConfig(format!(
                    "cleanup.policy must be 'delete' or 'compact', got {other:?}"
                )));
            }
        }
    }
    Ok("delete".to_owned())
}

/// A topic's validated overrides.
pub type Overrides = BTreeMap<String, String>;

/// Validates a whole set of configs (CreateTopics, legacy AlterConfigs).
pub fn validate_all<'a>(
    configs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    replication_factor: i16,
) -> Result<Overrides, InvalidConfig> {
    let mut overrides = Overrides::new();
    for (name, value) in configs {
        let Some(value) = value else {
            return Err(InvalidConfig(format!("config {name} has a null value")));
        };
        let canonical = validate(name, value, replication_factor)?;
        if overrides.insert(name.to_owned(), canonical).is_some() {
            return Err(InvalidConfig(format!("config {name} is given twice")));
        }
    }
    Ok(overrides)
}

/// Applies one IncrementalAlterConfigs operation to `overrides`.
pub fn apply(
    overrides: &mut Overrides,
    defaults: &TopicDefaults,
    operation: AlterOperation,
    name: &str,
    value: Option<&str>,
    replication_factor: i16,
) -> Result<(), InvalidConfig> {
    let entry = lookup(name).ok_or_else(|| unknown(name))?;
    if operation == AlterOperation::Delete {
        overrides.remove(name);
        return Ok(());
    }
    let value = value.ok_or_else(|| InvalidConfig(format!("config {name} has a null value")))?;
    let combined = match operation {
        AlterOperation::Set => value.to_owned(),
        AlterOperation::Append | AlterOperation::Subtract => {
            if entry.config_type != ConfigType::List {
                return Err(InvalidConfig(format!(
                    "{name} is not a list: APPEND and SUBTRACT apply only to list configs"
                )));
            }
            let current = overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| defaults.value_of(name));
            let mut items: Vec<String> = split_list(&current);
            let given = split_list(value);
            if operation == AlterOperation::Append {
                for item in given {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
            } else {
                items.retain(|item| !given.contains(item));
            }
            items.join(",")
        }
        AlterOperation::Delete => unreachable!("handled above"),
    };
    let canonical = validate(name, &combined, replication_factor)?;
    overrides.insert(name.to_owned(), canonical);
    Ok(())
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The effective value of `name`: the override or the default.
pub fn effective(overrides: &Overrides, defaults: &TopicDefaults, name: &str) -> String {
    overrides
        .get(name)
        .cloned()
        .unwrap_or_else(|| defaults.value_of(name))
}

/// What a partition's log runs with under these overrides.
#[derive(Debug, Clone)]
pub struct PartitionSettings {
    pub log: LogConfig,
    pub message_bytes_max: usize,
}

/// Translates validated overrides into storage settings.
pub fn partition_settings(overrides: &Overrides, defaults: &TopicDefaults) -> PartitionSettings {
    let number = |name: &str| -> i64 {
        effective(overrides, defaults, name)
            .parse()
            .expect("configs are validated before they are stored")
    };
    let optional_duration = |millis: i64| u64::try_from(millis).ok().map(Duration::from_millis);
    let log = LogConfig {
        retention_age: optional_duration(number("retention.ms")),
        retention_bytes: u64::try_from(number("retention.bytes")).ok().map(ByteSize),
        segment_bytes: ByteSize(u64::try_from(number("segment.bytes")).unwrap_or(1 << 30)),
        segment_age: optional_duration(number("segment.ms")),
        // Kafka's log.preallocate=false: reserving segment.bytes (1 GiB by
        // default) per partition up front made a 100-partition topic take
        // 100 GiB of disk the moment it was created.
        preallocate: Preallocate::None,
        ..LogConfig::default()
    };
    let message_bytes_max = usize::try_from(number("max.message.bytes")).unwrap_or(usize::MAX);
    assert!(log.segment_bytes.0 >= SEGMENT_BYTES_MIN as u64);
    PartitionSettings {
        log,
        message_bytes_max,
    }
}

#[cfg(test)]
mod tests;
