//! DescribeConfigs synonyms and sources, broker resources, refusals and
//! DescribeCluster, without a socket.

use std::sync::Arc;

use clap::Parser;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::Handler;
use crate::BrokerConfig;
use crate::config::BrokerArgs;
use crate::disk::DataDisk;
use crate::topic_config::{self, TopicDefaults};
use crate::topics::Topics;

fn handler(directory: &tempfile::TempDir) -> Handler {
    let path = directory.path().to_str().unwrap();
    let argv = [
        "fjord-broker",
        "--data-dir",
        path,
        "--rack",
        "az-2",
        "--node-id",
        "4",
    ];
    let config = BrokerConfig::from_args(&BrokerArgs::try_parse_from(argv).unwrap()).unwrap();
    let disk = DataDisk::new();
    let defaults = TopicDefaults {
        message_bytes_max: config.message_bytes_max,
    };
    let topics = Arc::new(Topics::open(directory.path(), Arc::clone(&disk), defaults).unwrap());
    let overrides = topic_config::validate_all([("retention.ms", Some("1000"))], 1).unwrap();
    topics.create("orders", 1, overrides, false).unwrap();
    let groups = crate::handler::Groups::open(directory.path(), &disk).unwrap();
    let producer_ids = Arc::new(crate::producer::ProducerIds::open(directory.path()).unwrap());
    Handler::new(
        &config,
        "cluster-a",
        topics,
        Default::default(),
        groups,
        producer_ids,
    )
}

fn text(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

fn describe(handler: &Handler, resource_type: i8, name: &'static str) -> DescribeConfigsResponse {
    let resource = DescribeConfigsResource::default()
        .with_resource_type(resource_type)
        .with_resource_name(text(name));
    let request = DescribeConfigsRequest::default()
        .with_resources(vec![resource])
        .with_include_synonyms(true);
    handler.describe_configs(&request)
}

#[test]
fn overrides_and_defaults_are_described_with_their_synonyms() {
    let directory = tempfile::tempdir().unwrap();
    let handler = handler(&directory);
    let response = describe(&handler, 2, "orders");
    let configs = &response.results[0].configs;
    assert_eq!(configs.len(), topic_config::TOPIC_CONFIGS.len());
    let retention = configs
        .iter()
        .find(|c| c.name.as_str() == "retention.ms")
        .unwrap();
    assert_eq!(retention.value.as_deref(), Some("1000"));
    assert_eq!(retention.config_source, 1);
    assert!(!retention.read_only);
    let synonyms: Vec<(&str, i8)> = retention
        .synonyms
        .iter()
        .map(|synonym| (synonym.name.as_str(), synonym.source))
        .collect();
    assert_eq!(synonyms, [("retention.ms", 1), ("log.retention.ms", 5)]);
    let segment = configs
        .iter()
        .find(|c| c.name.as_str() == "segment.bytes")
        .unwrap();
    assert_eq!(
        (segment.value.as_deref(), segment.config_source),
        (Some("1073741824"), 5)
    );

    let missing = describe(&handler, 2, "missing");
    assert_eq!(
        missing.results[0].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
    let other_broker = describe(&handler, 4, "7");
    assert_eq!(
        other_broker.results[0].error_code,
        ResponseError::InvalidRequest.code()
    );
    let broker = describe(&handler, 4, "4");
    let rack = broker.results[0]
        .configs
        .iter()
        .find(|c| c.name.as_str() == "broker.rack")
        .unwrap();
    assert_eq!(
        (rack.value.as_deref(), rack.read_only, rack.config_source),
        (Some("az-2"), true, 4)
    );
}

#[tokio::test]
async fn broker_resources_and_unknown_operations_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let handler = handler(&directory);
    let alter = |resource_type: i8, name: &'static str, operation: i8| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(text(name))
                .with_configs(vec![
                    AlterableConfig::default()
                        .with_name(text("retention.ms"))
                        .with_config_operation(operation)
                        .with_value(Some(text("5"))),
                ]),
        ])
    };
    let response = handler.incremental_alter_configs(alter(4, "4", 0)).await;
    assert_eq!(
        response.responses[0].error_code,
        ResponseError::InvalidRequest.code()
    );
    let response = handler
        .incremental_alter_configs(alter(2, "orders", 9))
        .await;
    assert_eq!(
        response.responses[0].error_code,
        ResponseError::InvalidConfig.code()
    );
    let response = handler
        .incremental_alter_configs(alter(2, "orders", 0))
        .await;
    assert_eq!(response.responses[0].error_code, 0);
    let topic = handler.topics().get("orders").unwrap();
    assert_eq!(
        topic.configs.get("retention.ms").map(String::as_str),
        Some("5")
    );
}

#[test]
fn describe_cluster_names_this_broker_as_controller_with_its_rack() {
    let directory = tempfile::tempdir().unwrap();
    let handler = handler(&directory);
    let response =
        handler.describe_cluster(&DescribeClusterRequest::default().with_endpoint_type(1));
    assert_eq!(response.error_code, 0);
    assert_eq!(response.cluster_id.as_str(), "cluster-a");
    assert_eq!(response.controller_id, BrokerId(4));
    assert_eq!(response.brokers.len(), 1);
    assert_eq!(response.brokers[0].rack.as_deref(), Some("az-2"));
    let controllers =
        handler.describe_cluster(&DescribeClusterRequest::default().with_endpoint_type(2));
    assert_eq!(
        controllers.error_code,
        ResponseError::UnsupportedEndpointType.code()
    );
}

#[test]
fn a_live_changed_broker_setting_is_described_as_dynamic_with_its_static_synonym() {
    let directory = tempfile::tempdir().unwrap();
    let handler = handler(&directory);
    let change = serde_json::json!({ "message-bytes-max": 2_000_000, "auto-create-topics": false });
    handler.live().apply(&change).unwrap();
    let broker = describe(&handler, 4, "4");
    let find = |name: &str| {
        broker.results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap()
            .clone()
    };
    let message = find("message.max.bytes");
    assert_eq!(
        (message.value.as_deref(), message.config_source),
        (Some("2000000"), 2)
    );
    let synonyms: Vec<(&str, i8)> = message
        .synonyms
        .iter()
        .map(|synonym| (synonym.value.as_deref().unwrap(), synonym.source))
        .collect();
    assert_eq!(synonyms, [("2000000", 2), ("1048588", 4)]);
    let create = find("auto.create.topics.enable");
    assert_eq!(
        (create.value.as_deref(), create.config_source),
        (Some("false"), 2)
    );
    let partitions = find("num.partitions");
    assert_eq!(
        partitions.config_source, 4,
        "an unchanged setting stays static"
    );
}
