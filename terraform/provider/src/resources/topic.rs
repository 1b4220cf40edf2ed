//! `fjord_topic`: `/v1/topics`. Partitions may only grow and the
//! configuration may change in place; cluster, name and replication factor
//! replace the topic.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fjord_api::{Topic, TopicCreate, TopicUpdate, validate};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::crud::{self, checked, stored};
use super::{Meta, Private};
use crate::diagnostic::add_invalid;
use crate::plan::{
    ConfigValue, config_value, differs, idempotency_key, int32, known, known_map, replace_if, uuid,
};
use crate::provider::Shared;
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

fn check(config: &TopicState) -> Result<(), String> {
    if let Some(name) = known(&config.name) {
        validate::topic_name("name", name)?;
    }
    if let Value::Value(partitions) = config.partitions {
        validate::range("partitions", partitions, 1, 10000)?;
    }
    if let Value::Value(factor) = config.replication_factor {
        validate::range("replication_factor", factor, 1, 5)?;
    }
    if let Some(map) = known_map(&config.config) {
        validate::config("config", &map)?;
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct TopicResource {
    shared: Shared,
}

impl TopicResource {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
        }
    }
}

#[async_trait]
impl Resource for TopicResource {
    type State<'a> = TopicState;
    type PrivateState<'a> = Option<Private>;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A Kafka topic of a Fjord cluster.",
            vec![
                ("id", computed(AttributeType::String, "The topic's id.")),
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
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        checked(diags, check(&config), ATTRIBUTES)
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let id = known(&state.id)?.to_owned();
        let path = format!("/v1/topics/{id}");
        crud::read::<Topic, _>(
            client,
            diags,
            &path,
            "cannot read the topic",
            ATTRIBUTES,
            private,
            |topic: Topic| Some(topic.into()),
        )
        .await
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        checked(diags, check(&proposed), ATTRIBUTES)?;
        proposed.id = Value::Unknown;
        if proposed.config.is_null() {
            proposed.config = Value::Value(BTreeMap::new());
        }
        Some((proposed, Some(Private::for_create(idempotency_key()))))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        checked(diags, check(&proposed), ATTRIBUTES)?;
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
        let mut replace = Vec::new();
        replace_if(
            &mut replace,
            "cluster_id",
            &prior.cluster_id,
            &proposed.cluster_id,
        );
        replace_if(&mut replace, "name", &prior.name, &proposed.name);
        replace_if(
            &mut replace,
            "replication_factor",
            &prior.replication_factor,
            &proposed.replication_factor,
        );
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let body = (|| -> Result<TopicCreate, String> {
            Ok(TopicCreate {
                cluster_id: uuid("cluster_id", &planned.cluster_id)?,
                name: known(&planned.name).unwrap_or_default().to_owned(),
                partitions: int32("partitions", &planned.partitions)?,
                replication_factor: int32("replication_factor", &planned.replication_factor)?,
                config: known_map(&planned.config).unwrap_or_default(),
            })
        })();
        let body = checked(diags, body, ATTRIBUTES)?;
        let answer = crud::create::<_, Topic>(
            client,
            diags,
            "/v1/topics",
            &body,
            &private,
            "cannot create the topic",
            ATTRIBUTES,
        )
        .await?;
        Some(stored(private, answer, Into::into))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let id = known(&prior.id)?.to_owned();
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
        let path = format!("/v1/topics/{id}");
        let answer = crud::update::<_, Topic>(
            client,
            diags,
            &path,
            &body,
            &private,
            "cannot update the topic",
            ATTRIBUTES,
        )
        .await?;
        Some(stored(private, answer, Into::into))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let client = self.shared.client(diags)?;
        let id = known(&prior.id)?.to_owned();
        let path = format!("/v1/topics/{id}");
        crud::delete(
            client,
            diags,
            &path,
            private,
            "cannot delete the topic",
            ATTRIBUTES,
        )
        .await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = TopicState {
            id: Value::Value(id),
            ..Default::default()
        };
        crud::import(self, diags, state, "no such topic").await
    }
}
