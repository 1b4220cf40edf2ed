//! Settings the broker takes while it runs (docs/operator.md, "Live versus
//! restart"): one shared value every reader consults at use, never a copy
//! taken at start.
//!
//! Live: `auto-create-topics`, `default-partitions`,
//! `default-replication-factor` (read when a topic is created) and
//! `message-bytes-max` (the default of every topic's `max.message.bytes`,
//! pushed into the partitions' limits when it changes). Every other setting
//! is read once at start; the admin API refuses to change it.
//!
//! A change is validated whole and applied whole (`PATCH /v1/config`,
//! [`http`]): one bad key and nothing changes. A live-set value lives in
//! memory only; whoever sets it (the operator) also writes it where the
//! broker reads its settings at start, so a restart keeps it.

pub mod http;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use clap::CommandFactory;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::BrokerConfig;
use crate::config::BrokerArgs;
use crate::metrics::OutcomeLabels;

/// The settings a broker takes live, by their config-file key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LiveKey {
    AutoCreateTopics,
    DefaultPartitions,
    DefaultReplicationFactor,
    MessageBytesMax,
}

impl LiveKey {
    pub const ALL: [LiveKey; 4] = [
        LiveKey::AutoCreateTopics,
        LiveKey::DefaultPartitions,
        LiveKey::DefaultReplicationFactor,
        LiveKey::MessageBytesMax,
    ];

    /// The flag and config-file name (`message-bytes-max`).
    pub fn name(self) -> &'static str {
        match self {
            Self::AutoCreateTopics => "auto-create-topics",
            Self::DefaultPartitions => "default-partitions",
            Self::DefaultReplicationFactor => "default-replication-factor",
            Self::MessageBytesMax => "message-bytes-max",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.name() == name)
    }
}

/// The values of the live settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    pub auto_create_topics: bool,
    pub default_partitions: i32,
    pub default_replication_factor: i16,
    pub message_bytes_max: usize,
}

impl LiveSettings {
    /// What the broker started with.
    pub fn from_config(config: &BrokerConfig) -> Self {
        Self {
            auto_create_topics: config.auto_create_topics,
            default_partitions: config.default_partitions,
            default_replication_factor: config.default_replication_factor,
            message_bytes_max: config.message_bytes_max,
        }
    }

    /// `key`'s value as JSON.
    pub fn value(&self, key: LiveKey) -> Value {
        match key {
            LiveKey::AutoCreateTopics => Value::from(self.auto_create_topics),
            LiveKey::DefaultPartitions => Value::from(self.default_partitions),
            LiveKey::DefaultReplicationFactor => Value::from(self.default_replication_factor),
            LiveKey::MessageBytesMax => Value::from(self.message_bytes_max),
        }
    }
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Read at start: a flag, the environment, the config file or the
    /// built-in default.
    Static,
    /// Set through the admin API since.
    Dynamic,
}

/// Why a change was refused (nothing of it applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveConfigError {
    #[error("the body must be a JSON object of settings")]
    NotAnObject,
    #[error("unknown setting {0:?}; live settings: {live}", live = live_names())]
    Unknown(String),
    #[error("{0} is read only at start; change it in the broker's configuration and restart (live settings: {live})", live = live_names())]
    RestartOnly(String),
    #[error("{key} must be {expected}, got {got}")]
    WrongType {
        key: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("{key}: {problem}")]
    OutOfRange { key: &'static str, problem: String },
}

fn live_names() -> String {
    let names: Vec<&str> = LiveKey::ALL.iter().map(|key| key.name()).collect();
    names.join(", ")
}

/// The state the shared value holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveState {
    /// What readers use now.
    pub current: LiveSettings,
    /// What the broker started with (a `null` in a change goes back to it).
    pub startup: LiveSettings,
    /// The built-in defaults (what an unset setting would be).
    pub defaults: LiveSettings,
    /// Keys set through the admin API.
    pub dynamic: Vec<LiveKey>,
}

impl LiveState {
    pub fn source(&self, key: LiveKey) -> Source {
        if self.dynamic.contains(&key) {
            Source::Dynamic
        } else {
            Source::Static
        }
    }
}

/// Counters of live changes.
#[derive(Debug, Clone, Default)]
pub struct LiveMetrics {
    /// Changes applied or refused (`outcome`).
    pub changes: Family<OutcomeLabels, Counter>,
}

impl LiveMetrics {
    pub fn register(metrics: &mut fjord_telemetry::Metrics) -> Self {
        let this = Self::default();
        metrics.registry_mut().register(
            "fjord_broker_live_config_changes",
            "Changes of live settings through the admin API, applied or refused",
            this.changes.clone(),
        );
        this
    }
}

/// The shared live settings; cheap to clone, every clone sees every change.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    state: Arc<watch::Sender<LiveState>>,
    /// Most replicas a topic may have (brokers of the cluster, from the
    /// peer list; 1 for a single broker).
    replicas_max: usize,
}

impl LiveConfig {
    pub fn new(config: &BrokerConfig) -> Self {
        let startup = LiveSettings::from_config(config);
        let replicas_max = config
            .cluster
            .as_ref()
            .map_or(1, |cluster| cluster.peers.len() + 1);
        let state = LiveState {
            current: startup,
            startup,
            defaults: builtin_defaults().unwrap_or(startup),
            dynamic: Vec::new(),
        };
        Self {
            state: Arc::new(watch::Sender::new(state)),
            replicas_max,
        }
    }

    /// The values to use now.
    pub fn current(&self) -> LiveSettings {
        self.state.borrow().current
    }

    pub fn state(&self) -> LiveState {
        self.state.borrow().clone()
    }

    /// Follows every change.
    pub fn subscribe(&self) -> watch::Receiver<LiveState> {
        self.state.subscribe()
    }

    /// Validates `change` (a JSON object of setting name to value, `null`
    /// meaning the start-up value) and applies all of it, or nothing.
    /// Returns the settings before and after.
    pub fn apply(&self, change: &Value) -> Result<(LiveSettings, LiveSettings), LiveConfigError> {
        let entries = change.as_object().ok_or(LiveConfigError::NotAnObject)?;
        let mut parsed = Vec::with_capacity(entries.len());
        for (name, value) in entries {
            let key = LiveKey::from_name(name).ok_or_else(|| refusal_of(name))?;
            parsed.push((key, value));
        }
        let mut outcome = Err(LiveConfigError::NotAnObject);
        self.state.send_if_modified(|state| {
            let mut next = state.clone();
            for (key, value) in &parsed {
                if let Err(error) = set(&mut next, *key, value) {
                    outcome = Err(error);
                    return false;
                }
            }
            if let Err(error) = check_shape(&next.current, self.replicas_max) {
                outcome = Err(error);
                return false;
            }
            outcome = Ok((state.current, next.current));
            let changed = next != *state;
            *state = next;
            changed
        });
        outcome
    }
}

/// Unknown, or a setting that exists but is read only at start.
fn refusal_of(name: &str) -> LiveConfigError {
    let exists = BrokerArgs::command()
        .get_arguments()
        .any(|arg| arg.get_long() == Some(name));
    if exists {
        LiveConfigError::RestartOnly(name.to_owned())
    } else {
        LiveConfigError::Unknown(name.to_owned())
    }
}

fn set(state: &mut LiveState, key: LiveKey, value: &Value) -> Result<(), LiveConfigError> {
    let current = &mut state.current;
    if value.is_null() {
        let startup = state.startup;
        match key {
            LiveKey::AutoCreateTopics => current.auto_create_topics = startup.auto_create_topics,
            LiveKey::DefaultPartitions => current.default_partitions = startup.default_partitions,
            LiveKey::DefaultReplicationFactor => {
                current.default_replication_factor = startup.default_replication_factor;
            }
            LiveKey::MessageBytesMax => current.message_bytes_max = startup.message_bytes_max,
        }
        state.dynamic.retain(|dynamic| *dynamic != key);
        return Ok(());
    }
    let name = key.name();
    match key {
        LiveKey::AutoCreateTopics => {
            current.auto_create_topics = value
                .as_bool()
                .ok_or_else(|| wrong(name, "true or false", value))?;
        }
        LiveKey::DefaultPartitions => {
            current.default_partitions = integer(name, value)?;
        }
        LiveKey::DefaultReplicationFactor => {
            current.default_replication_factor = integer(name, value)?;
        }
        LiveKey::MessageBytesMax => {
            let bytes: i32 = integer(name, value)?;
            current.message_bytes_max =
                usize::try_from(bytes).map_err(|_| LiveConfigError::OutOfRange {
                    key: name,
                    problem: format!("must be between 0 and {}, got {bytes}", i32::MAX),
                })?;
        }
    }
    if !state.dynamic.contains(&key) {
        state.dynamic.push(key);
        state.dynamic.sort();
    }
    Ok(())
}

fn wrong(key: &'static str, expected: &'static str, value: &Value) -> LiveConfigError {
    LiveConfigError::WrongType {
        key,
        expected,
        got: value.to_string(),
    }
}

/// An integer of type `T`; one outside `T`'s range is out of range.
fn integer<T: TryFrom<i64>>(key: &'static str, value: &Value) -> Result<T, LiveConfigError> {
    let number = value
        .as_i64()
        .ok_or_else(|| wrong(key, "an integer", value))?;
    T::try_from(number).map_err(|_| LiveConfigError::OutOfRange {
        key,
        problem: format!("{number} is out of range"),
    })
}

/// The default topic shape must be one a topic may have here.
fn check_shape(settings: &LiveSettings, replicas_max: usize) -> Result<(), LiveConfigError> {
    crate::topics::validate_shape(
        settings.default_partitions,
        settings.default_replication_factor,
        replicas_max,
    )
    .map_err(|error| {
        let key = match error {
            crate::topics::TopicError::InvalidReplicationFactor(_) => {
                LiveKey::DefaultReplicationFactor
            }
            _ => LiveKey::DefaultPartitions,
        };
        LiveConfigError::OutOfRange {
            key: key.name(),
            problem: error.to_string(),
        }
    })
}

/// The built-in defaults, from the flags' declared defaults (not the
/// environment).
fn builtin_defaults() -> Option<LiveSettings> {
    let command = BrokerArgs::command();
    let defaults: BTreeMap<&str, String> = command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let value = arg.get_default_values().first()?.to_str()?.to_owned();
            Some((long, value))
        })
        .collect();
    let get = |key: LiveKey| defaults.get(key.name());
    Some(LiveSettings {
        auto_create_topics: get(LiveKey::AutoCreateTopics)?.parse().ok()?,
        default_partitions: get(LiveKey::DefaultPartitions)?.parse().ok()?,
        default_replication_factor: get(LiveKey::DefaultReplicationFactor)?.parse().ok()?,
        message_bytes_max: get(LiveKey::MessageBytesMax)?.parse().ok()?,
    })
}
