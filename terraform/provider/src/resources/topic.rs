//! `fjord_topic`: `/v1/topics`. Partitions may only grow and the
//! configuration may change in place; cluster, name and replication factor
//! replace the topic.

use std::collections::BTreeMap;

use fjord_api::{Topic, TopicCreate, TopicUpdate, validate};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::rest::{Apply, Kind, Rest, RestResource, Stored};
use crate::diagnostic::add_invalid;
use crate::plan::{ConfigValue, config_value, differs, int32, known, known_map, replace_if, uuid};
use crate::schema::{computed, optional_computed, required, schema, string_map};

const ATTRIBUTES: &[&str] = &[
    "cluster_id",
    "name",
    "partitions",
    "replication_factor",
    "config",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TopicState {
    #[serde(default)]
    pub(crate) id: Value<String>,
    #[serde(default)]
    pub(crate) cluster_id: Value<String>,
    #[serde(default)]
    pub(crate) name: Value<String>,
    #[serde(default)]
    pub(crate) partitions: Value<i64>,
    #[serde(default)]
    pub(crate) replication_factor: Value<i64>,
    #[serde(default)]
    pub(crate) config: ConfigValue,
}

impl From<Topic> for TopicState {
    fn from(topic: Topic) -> Self {
        Self {
            id: Value::Value(topic.topic_id.to_string()),
            cluster_id: Value::Value(topic.cluster_id.to_string()),
            name: Value::Value(topic.name),
            partitions: Value::Value(topic.partitions.into()),
            replication_factor: Value::Value(topic.replication_factor.into()),
            config: config_value(topic.config),
        }
    }
}

/// The `fjord_topic` resource.
pub(crate) type TopicResource = Rest<TopicState>;

impl RestResource for TopicState {
    type Api = Topic;
    const KIND: Kind = Kind::new("/v1/topics", "topic", ATTRIBUTES);

    fn read(topic: Topic, _prior: Self) -> Option<Self> {
        Some(topic.into())
    }

    fn check(&self) -> Result<(), String> {
        if let Some(name) = known(&self.name) {
            validate::topic_name("name", name)?;
        }
        if let Value::Value(partitions) = self.partitions {
            validate::range("partitions", partitions, 1, 10000)?;
        }
        if let Value::Value(factor) = self.replication_factor {
            validate::range("replication_factor", factor, 1, 5)?;
        }
        if let Some(map) = known_map(&self.config) {
            validate::config("config", &map)?;
        }
        Ok(())
    }

    /// An omitted configuration is the empty one the create sends.
    fn plan_create(&mut self) {
        if self.config.is_null() {
            self.config = Value::Value(BTreeMap::new());
        }
    }

    fn replaced(prior: &Self, proposed: &Self, replace: &mut Vec<AttributePath>) {
        replace_if(
            replace,
            "cluster_id",
            &prior.cluster_id,
            &proposed.cluster_id,
        );
        replace_if(replace, "name", &prior.name, &proposed.name);
        replace_if(
            replace,
            "replication_factor",
            &prior.replication_factor,
            &proposed.replication_factor,
        );
    }

    /// Kafka cannot take partitions away.
    fn plan_update(
        diags: &mut Diagnostics,
        prior: &Self,
        proposed: &mut Self,
        _replace: &[AttributePath],
    ) -> Option<()> {
        if let (Value::Value(before), Value::Value(after)) = (prior.partitions, proposed.partitions)
            && after < before
        {
            add_invalid(
                diags,
                format!("partitions may only grow, from {before} (got {after})"),
                ATTRIBUTES,
            );
            return None;
        }
        Some(())
    }

    fn id(&mut self) -> &mut Value<String> {
        &mut self.id
    }

    async fn create(mut apply: Apply<'_, Self>, planned: Self) -> Stored<Self> {
        let body = (|| -> Result<TopicCreate, String> {
            Ok(TopicCreate {
                cluster_id: uuid("cluster_id", &planned.cluster_id)?,
                name: known(&planned.name).unwrap_or_default().to_owned(),
                partitions: int32("partitions", &planned.partitions)?,
                replication_factor: int32("replication_factor", &planned.replication_factor)?,
                config: known_map(&planned.config).unwrap_or_default(),
            })
        })();
        let body = apply.checked(body)?;
        let answer = apply.create::<_, Topic>(&body).await?;
        Some(apply.stored(answer, Into::into))
    }

    /// Sends only what changed: more partitions, another configuration.
    async fn update(mut apply: Apply<'_, Self>, prior: Self, planned: Self) -> Stored<Self> {
        let body = TopicUpdate {
            partitions: if differs(&prior.partitions, &planned.partitions) {
                int32("partitions", &planned.partitions).ok()
            } else {
                None
            },
            config: if differs(&prior.config, &planned.config) {
                known_map(&planned.config)
            } else {
                None
            },
        };
        let answer = apply.update::<_, Topic>(&prior.id, &body).await?;
        Some(apply.stored(answer, Into::into))
    }

    fn schema() -> Schema {
        schema(
            "A Kafka topic of a Fjord cluster.",
            vec![
                (
                    "cluster_id",
                    required(
                        AttributeType::String,
                        "The `fjord_cluster`. Changing it replaces the topic.",
                    ),
                ),
                (
                    "name",
                    required(
                        AttributeType::String,
                        "Kafka topic name: 1 to 249 of letters, digits, `.`, `_`, `-`. Changing it replaces the topic.",
                    ),
                ),
                (
                    "partitions",
                    required(AttributeType::Number, "1 to 10000; may only grow."),
                ),
                (
                    "replication_factor",
                    required(
                        AttributeType::Number,
                        "1 to 5, at most the cluster's broker count. Changing it replaces the topic.",
                    ),
                ),
                (
                    "config",
                    optional_computed(
                        string_map(),
                        "Kafka topic configuration, e.g. `retention.ms`. Omitted: left as the server holds it; `{}` clears it.",
                    ),
                ),
                ("id", computed(AttributeType::String, "The topic's id.")),
            ],
        )
    }
}
