//! DescribeConfigs, IncrementalAlterConfigs, AlterConfigs (legacy) and
//! DescribeCluster.
//!
//! Topic configs are described with their effective value, whether it is an
//! override (`DYNAMIC_TOPIC_CONFIG`) or the default (`DEFAULT_CONFIG`) and,
//! when asked, their synonyms (the override, then the broker setting that
//! supplies the default). Broker settings come from flags and the config
//! file: described as `STATIC_BROKER_CONFIG`, read-only, and refused by the
//! alter APIs; a live setting changed through the admin API (`crate::live`)
//! shows its new value as `DYNAMIC_BROKER_CONFIG`, with the static value as
//! its next synonym.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, BrokerId, DescribeClusterRequest,
    DescribeClusterResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    incremental_alter_configs_response,
};
use kafka_protocol::protocol::StrBytes;

use self::entry::{Entry, broker_sources, strbytes};
use super::{AUTHORIZED_OPERATIONS_OMITTED, Handler, blocking};
use crate::topic_config::{
    self, AlterOperation, ConfigSource, ConfigType, InvalidConfig, Overrides,
};
use crate::topics::{REPLICATION_FACTOR, TopicError};

mod entry;

/// Kafka's `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// DescribeCluster v1 endpoint types.
const ENDPOINT_BROKERS: i8 = 1;

/// A resource-level failure: an error code and a message for the client.
type Failure = (ResponseError, String);

fn topic_failure(error: &TopicError) -> Failure {
    (error.kafka_error(), error.to_string())
}

impl Handler {
    pub(super) fn describe_configs(
        &self,
        request: &DescribeConfigsRequest,
    ) -> DescribeConfigsResponse {
        let results = request
            .resources
            .iter()
            .map(|resource| {
                let result = DescribeConfigsResult::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name.clone());
                let entries = match resource.resource_type {
                    RESOURCE_TOPIC => self.topic_entries(&resource.resource_name),
                    RESOURCE_BROKER => self.broker_entries(&resource.resource_name),
                    other => Err(unknown_resource_type(other)),
                };
                match entries {
                    Ok(entries) => {
                        let wanted: Option<BTreeSet<&str>> = resource
                            .configuration_keys
                            .as_ref()
                            // Null or empty means every config (as Kafka does).
                            .filter(|keys| !keys.is_empty())
                            .map(|keys| keys.iter().map(|key| key.as_str()).collect());
                        let configs = entries
                            .into_iter()
                            .filter(|entry| {
                                wanted
                                    .as_ref()
                                    .is_none_or(|keys| keys.contains(entry.name.as_str()))
                            })
                            .map(|entry| {
                                entry
                                    .encode(request.include_synonyms, request.include_documentation)
                            })
                            .collect();
                        result.with_configs(configs)
                    }
                    Err((error, message)) => result
                        .with_error_code(error.code())
                        .with_error_message(Some(strbytes(message))),
                }
            })
            .collect();
        DescribeConfigsResponse::default().with_results(results)
    }

    fn topic_entries(&self, name: &str) -> Result<Vec<Entry>, Failure> {
        let topic = self
            .topics
            .get(name)
            .ok_or_else(|| topic_failure(&TopicError::Unknown(name.to_owned())))?;
        let defaults = self.topics.defaults();
        Ok(topic_config::TOPIC_CONFIGS
            .iter()
            .map(|key| {
                let default = defaults.value_of(key.name);
                let broker_synonym = (
                    key.broker_synonym.to_owned(),
                    default.clone(),
                    ConfigSource::Default,
                );
                let (value, source, synonyms) = match topic.configs.get(key.name) {
                    Some(value) => (
                        value.clone(),
                        ConfigSource::DynamicTopic,
                        vec![
                            (
                                key.name.to_owned(),
                                value.clone(),
                                ConfigSource::DynamicTopic,
                            ),
                            broker_synonym,
                        ],
                    ),
                    None => (default, ConfigSource::Default, vec![broker_synonym]),
                };
                Entry {
                    name: key.name.to_owned(),
                    value,
                    source,
                    read_only: false,
                    config_type: key.config_type,
                    documentation: key.documentation,
                    synonyms,
                }
            })
            .collect())
    }

    /// This broker's settings; `""` names the cluster-wide defaults, which
    /// are the same here.
    fn broker_entries(&self, name: &str) -> Result<Vec<Entry>, Failure> {
        if !name.is_empty() && name != self.node_id.to_string() {
            return Err((
                ResponseError::InvalidRequest,
                format!("this is broker {}, not {name:?}", self.node_id),
            ));
        }
        let defaults = self.topics.defaults();
        let listener = format!(
            "PLAINTEXT://{}:{}",
            self.advertised_host, self.advertised_port
        );
        let live = self.live.state();
        let settings: Vec<(&str, String, ConfigType, &'static str)> = vec![
            (
                "broker.id",
                self.node_id.to_string(),
                ConfigType::Int,
                "--node-id",
            ),
            (
                "broker.rack",
                self.rack
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                ConfigType::String,
                "--rack",
            ),
            (
                "advertised.listeners",
                listener,
                ConfigType::List,
                "--advertised-listener",
            ),
            (
                "auto.create.topics.enable",
                live.current.auto_create_topics.to_string(),
                ConfigType::Boolean,
                "--auto-create-topics",
            ),
            (
                "num.partitions",
                live.current.default_partitions.to_string(),
                ConfigType::Int,
                "--default-partitions",
            ),
            (
                "default.replication.factor",
                live.current.default_replication_factor.to_string(),
                ConfigType::Int,
                "--default-replication-factor",
            ),
            (
                "message.max.bytes",
                live.current.message_bytes_max.to_string(),
                ConfigType::Int,
                "--message-bytes-max",
            ),
        ];
        let mut entries: Vec<Entry> = settings
            .into_iter()
            .map(|(name, value, config_type, documentation)| {
                let (source, synonyms) = broker_sources(&live, name, documentation, &value);
                Entry {
                    name: name.to_owned(),
                    synonyms,
                    value,
                    source,
                    read_only: true,
                    config_type,
                    documentation,
                }
            })
            .collect();
        // Topic defaults the broker does not let you change (yet).
        for key in topic_config::TOPIC_CONFIGS {
            if key.broker_synonym == "message.max.bytes" {
                continue;
            }
            let value = defaults.value_of(key.name);
            entries.push(Entry {
                name: key.broker_synonym.to_owned(),
                synonyms: vec![(
                    key.broker_synonym.to_owned(),
                    value.clone(),
                    ConfigSource::Default,
                )],
                value,
                source: ConfigSource::Default,
                read_only: true,
                config_type: key.config_type,
                documentation: key.documentation,
            });
        }
        Ok(entries)
    }

    pub(super) async fn incremental_alter_configs(
        &self,
        request: IncrementalAlterConfigsRequest,
    ) -> IncrementalAlterConfigsResponse {
        let mut responses = Vec::with_capacity(request.resources.len());
        for resource in request.resources {
            let operations: Vec<(String, i8, Option<String>)> = resource
                .configs
                .iter()
                .map(|config| {
                    (
                        config.name.to_string(),
                        config.config_operation,
                        config.value.as_ref().map(|value| value.to_string()),
                    )
                })
                .collect();
            let outcome = match resource.resource_type {
                RESOURCE_TOPIC => {
                    let edit = move |overrides: &mut Overrides, defaults: &_| {
                        apply_operations(overrides, defaults, &operations)
                    };
                    self.alter_topic(&resource.resource_name, request.validate_only, edit)
                        .await
                }
                RESOURCE_BROKER => Err(read_only_broker()),
                other => Err(unknown_resource_type(other)),
            };
            let (code, message) = outcome_code(outcome);
            responses.push(
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name)
                    .with_error_code(code)
                    .with_error_message(message),
            );
        }
        IncrementalAlterConfigsResponse::default().with_responses(responses)
    }

    /// Legacy AlterConfigs: the given configs replace all of a topic's
    /// overrides.
    pub(super) async fn alter_configs(&self, request: AlterConfigsRequest) -> AlterConfigsResponse {
        let mut responses = Vec::with_capacity(request.resources.len());
        for resource in request.resources {
            let configs: Vec<(String, Option<String>)> = resource
                .configs
                .iter()
                .map(|config| {
                    let value = config.value.as_ref().map(|value| value.to_string());
                    (config.name.to_string(), value)
                })
                .collect();
            let outcome = match resource.resource_type {
                RESOURCE_TOPIC => {
                    let edit = move |overrides: &mut Overrides, _: &_| {
                        *overrides = topic_config::validate_all(
                            configs.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                            REPLICATION_FACTOR,
                        )?;
                        Ok(())
                    };
                    self.alter_topic(&resource.resource_name, request.validate_only, edit)
                        .await
                }
                RESOURCE_BROKER => Err(read_only_broker()),
                other => Err(unknown_resource_type(other)),
            };
            let (code, message) = outcome_code(outcome);
            responses.push(
                alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name)
                    .with_error_code(code)
                    .with_error_message(message),
            );
        }
        AlterConfigsResponse::default().with_responses(responses)
    }

    async fn alter_topic<F>(&self, name: &str, validate_only: bool, edit: F) -> Result<(), Failure>
    where
        F: FnOnce(&mut Overrides, &topic_config::TopicDefaults) -> Result<(), InvalidConfig>
            + Send
            + 'static,
    {
        let registry = Arc::clone(&self.topics);
        let name = name.to_owned();
        let changes = self.metrics.topic_config_changes.clone();
        blocking(move || {
            let altered = registry.alter_configs(&name, validate_only, edit);
            match &altered {
                Ok(()) if !validate_only => {
                    changes.inc();
                    let configs = registry.get(&name).map(|topic| topic.configs.clone());
                    tracing::info!(topic = name, ?configs, "topic configs altered");
                }
                Ok(()) => {}
                Err(error) => tracing::debug!(topic = name, %error, "topic configs refused"),
            }
            altered.map_err(|error| topic_failure(&error))
        })
        .await
        .unwrap_or_else(|| {
            Err((
                ResponseError::UnknownServerError,
                "altering the configs failed".to_owned(),
            ))
        })
    }

    pub(super) fn describe_cluster(
        &self,
        request: &DescribeClusterRequest,
    ) -> DescribeClusterResponse {
        let response = DescribeClusterResponse::default()
            .with_endpoint_type(request.endpoint_type)
            .with_cluster_id(self.cluster_id.clone())
            .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED);
        if request.endpoint_type != ENDPOINT_BROKERS {
            return response
                .with_error_code(ResponseError::UnsupportedEndpointType.code())
                .with_error_message(Some(strbytes("only broker endpoints are served")))
                .with_controller_id(BrokerId(-1));
        }
        let (brokers, controller) = self.brokers();
        let brokers = brokers
            .into_iter()
            .map(|broker| {
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(broker.id))
                    .with_host(broker.host)
                    .with_port(broker.port)
                    .with_rack(broker.rack)
            })
            .collect();
        response
            .with_controller_id(BrokerId(controller))
            .with_brokers(brokers)
    }
}

fn apply_operations(
    overrides: &mut Overrides,
    defaults: &topic_config::TopicDefaults,
    operations: &[(String, i8, Option<String>)],
) -> Result<(), InvalidConfig> {
    let mut seen = BTreeSet::new();
    for (name, code, value) in operations {
        if !seen.insert(name.as_str()) {
            return Err(InvalidConfig(format!("config {name} is given twice")));
        }
        let operation = AlterOperation::from_code(*code)
            .ok_or_else(|| InvalidConfig(format!("unknown operation {code} on config {name}")))?;
        topic_config::apply(
            overrides,
            defaults,
            operation,
            name,
            value.as_deref(),
            REPLICATION_FACTOR,
        )?;
    }
    Ok(())
}

fn read_only_broker() -> Failure {
    (
        ResponseError::InvalidRequest,
        "broker settings cannot be altered at runtime: set them with flags or the config file"
            .to_owned(),
    )
}

fn unknown_resource_type(code: i8) -> Failure {
    (
        ResponseError::InvalidRequest,
        format!("resource type {code} is not served: only TOPIC (2) and BROKER (4)"),
    )
}

fn outcome_code(outcome: Result<(), Failure>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err((error, message)) => (error.code(), Some(strbytes(message))),
    }
}

#[cfg(test)]
mod tests;
