//! `fjord_cluster`'s state: what the configuration sets, what the agent
//! reports (phase, brokers, bootstrap address), and the checks run before
//! the API is asked.

use fjord_api::{BrokerStatus, Cluster, ClusterCreate, validate};
use serde::{Deserialize, Serialize};
use tf_provider::schema::AttributeType;
use tf_provider::value::Value;

use crate::plan::{ConfigValue, config_value, differs, int32, known, known_map, uuid};
use crate::timeouts::{self, Phase, Timeouts};

pub(super) const ATTRIBUTES: &[&str] = &[
    "environment_id",
    "name",
    "version",
    "broker_count",
    "storage_gib",
    "config",
    "deletion_protection",
    "timeouts",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClusterState {
    #[serde(default)]
    pub(crate) id: Value<String>,
    #[serde(default)]
    pub(crate) environment_id: Value<String>,
    #[serde(default)]
    pub(crate) name: Value<String>,
    #[serde(default)]
    pub(crate) version: Value<String>,
    #[serde(default)]
    pub(crate) broker_count: Value<i64>,
    #[serde(default)]
    pub(crate) storage_gib: Value<i64>,
    #[serde(default)]
    pub(crate) config: ConfigValue,
    #[serde(default)]
    pub(crate) deletion_protection: Value<bool>,
    #[serde(default)]
    pub(crate) phase: Value<String>,
    #[serde(default)]
    pub(crate) bootstrap_address: Value<String>,
    #[serde(default)]
    pub(crate) brokers: Value<Vec<BrokerItem>>,
    #[serde(default)]
    pub(crate) timeouts: Value<Timeouts>,
}

impl ClusterState {
    /// The state of `cluster`, keeping the attributes the API does not
    /// hold (deletion protection, timeouts) from `local`.
    pub(super) fn from_api(cluster: Cluster, local: &ClusterState) -> Self {
        Self {
            id: Value::Value(cluster.cluster_id.to_string()),
            environment_id: Value::Value(cluster.environment_id.to_string()),
            name: Value::Value(cluster.name),
            version: Value::Value(cluster.version),
            broker_count: Value::Value(cluster.broker_count.into()),
            storage_gib: Value::Value(cluster.storage_gib.into()),
            config: config_value(cluster.config),
            deletion_protection: Value::Value(matches!(
                local.deletion_protection,
                Value::Value(true)
            )),
            bootstrap_address: cluster
                .status
                .bootstrap_address
                .map_or(Value::Null, Value::Value),
            brokers: Value::Value(
                cluster
                    .status
                    .brokers
                    .into_iter()
                    .map(BrokerItem::from_api)
                    .collect(),
            ),
            phase: Value::Value(cluster.status.phase),
            timeouts: local.timeouts.clone(),
        }
    }

    pub(super) fn create_body(&self) -> Result<ClusterCreate, String> {
        Ok(ClusterCreate {
            environment_id: uuid("environment_id", &self.environment_id)?,
            name: known(&self.name).unwrap_or_default().to_owned(),
            version: known(&self.version).unwrap_or_default().to_owned(),
            broker_count: int32("broker_count", &self.broker_count)?,
            storage_gib: int32("storage_gib", &self.storage_gib)?,
            config: known_map(&self.config).unwrap_or_default(),
        })
    }

    /// Whether a change from `prior` moves what the agent runs (and so
    /// must be waited for).
    pub(super) fn spec_differs(&self, prior: &ClusterState) -> bool {
        differs(&prior.version, &self.version)
            || differs(&prior.broker_count, &self.broker_count)
            || differs(&prior.storage_gib, &self.storage_gib)
            || differs(&prior.config, &self.config)
    }
}

/// Checks what is known of a configuration the way the API will.
pub(super) fn check(config: &ClusterState) -> Result<(), String> {
    if let Some(name) = known(&config.name) {
        validate::dns_label("name", name)?;
    }
    if let Some(version) = known(&config.version) {
        validate::version("version", version)?;
    }
    if let Value::Value(count) = config.broker_count {
        validate::range("broker_count", count, 1, 64)?;
    }
    if let Value::Value(storage) = config.storage_gib {
        validate::range("storage_gib", storage, 1, 65536)?;
    }
    if let Some(map) = known_map(&config.config) {
        validate::config("config", &map)?;
    }
    timeouts::of(&config.timeouts, Phase::Create).map_err(|error| error.to_string())?;
    timeouts::of(&config.timeouts, Phase::Update).map_err(|error| error.to_string())?;
    Ok(())
}

/// One broker as the agent last reported it (read-only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BrokerItem {
    #[serde(default)]
    pub(crate) broker_id: Value<i64>,
    #[serde(default)]
    pub(crate) version: Value<String>,
    #[serde(default)]
    pub(crate) state: Value<String>,
    #[serde(default)]
    pub(crate) ready: Value<bool>,
    #[serde(default)]
    pub(crate) rack: Value<String>,
}

impl BrokerItem {
    fn from_api(broker: BrokerStatus) -> Self {
        Self {
            broker_id: Value::Value(broker.broker_id.into()),
            version: broker.version.map_or(Value::Null, Value::Value),
            state: Value::Value(broker.state),
            ready: Value::Value(broker.ready),
            rack: broker.rack.map_or(Value::Null, Value::Value),
        }
    }

    /// The Terraform type of one broker.
    pub(crate) fn attribute_type() -> AttributeType {
        AttributeType::List(Box::new(AttributeType::Object(
            [
                ("broker_id".to_owned(), AttributeType::Number),
                ("version".to_owned(), AttributeType::String),
                ("state".to_owned(), AttributeType::String),
                ("ready".to_owned(), AttributeType::Bool),
                ("rack".to_owned(), AttributeType::String),
            ]
            .into(),
        )))
    }
}
