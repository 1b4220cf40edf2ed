//! Requests checked and served through a real handler (no socket): the
//! refused part of each request gets the error a Kafka client expects,
//! the allowed part is served as usual.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use clap::Parser;
use fjord_metadata::acl::{AclBinding, AclOperation, PatternType, Permission, ResourceType};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::*;
use crate::BrokerConfig;
use crate::config::{AuthorizerKind, BrokerArgs};
use crate::disk::DataDisk;
use crate::security::Principal;
use crate::security::acl::{AclStore, Authorizer};
use crate::topics::Topics;

pub(super) struct Fixture {
    pub(super) handler: Handler,
    authorizer: Arc<Authorizer>,
    _directory: tempfile::TempDir,
}

fn allow(
    resource_type: ResourceType,
    name: &str,
    pattern: PatternType,
    op: AclOperation,
) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: "User:alice".into(),
        host: "*".into(),
        operation: op,
        permission: Permission::Allow,
    }
}

/// A broker with topics `orders.eu` and `payments`, where alice may do
/// everything on `orders.*` topics and read the group `orders-app`.
pub(super) async fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().to_str().unwrap().to_owned();
    let args = BrokerArgs::try_parse_from(["fjord-broker", "--data-dir", &path]).unwrap();
    let config = BrokerConfig::from_args(&args).unwrap();
    let disk = DataDisk::new();
    let defaults = crate::topic_config::TopicDefaults {
        message_bytes_max: config.message_bytes_max,
    };
    let topics = Arc::new(Topics::open(directory.path(), Arc::clone(&disk), defaults).unwrap());
    // The flusher makes appends (group commits) durable.
    disk.start(Arc::clone(&topics)).unwrap();
    let groups = crate::handler::Groups::open(directory.path(), &disk).unwrap();
    let handler = Handler::new(
        &config,
        "cluster",
        topics,
        Default::default(),
        groups,
        Arc::new(crate::producer::ProducerIds::open(directory.path()).unwrap()),
    );
    let store = Arc::new(AclStore::in_memory());
    store
        .commit(
            vec![
                allow(
                    ResourceType::Topic,
                    "orders.",
                    PatternType::Prefixed,
                    AclOperation::All,
                ),
                allow(
                    ResourceType::Group,
                    "orders-app",
                    PatternType::Literal,
                    AclOperation::Read,
                ),
            ],
            vec![],
        )
        .await
        .unwrap();
    let authorizer = Arc::new(Authorizer::new(
        AuthorizerKind::Acl,
        &[Principal::user("admin")].into(),
        false,
        store,
    ));
    let fixture = Fixture {
        handler,
        authorizer,
        _directory: directory,
    };
    let admin = fixture.access("admin");
    let create = CreateTopicsRequest::default().with_topics(
        ["orders.eu", "payments"]
            .into_iter()
            .map(|name| {
                create_topics_request::CreatableTopic::default()
                    .with_name(topic(name))
                    .with_num_partitions(1)
                    .with_replication_factor(1)
            })
            .collect(),
    );
    let ResponseKind::CreateTopics(created) = fixture
        .serve(
            &admin,
            ApiKey::CreateTopics,
            5,
            RequestKind::CreateTopics(create),
        )
        .await
    else {
        panic!("expected CreateTopics");
    };
    assert!(
        created.topics.iter().all(|topic| topic.error_code == 0),
        "{created:?}"
    );
    fixture
}

impl Fixture {
    pub(super) fn access(&self, user: &str) -> Access {
        Access::new(
            Arc::clone(&self.authorizer),
            &Principal::user(user),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Default::default(),
        )
    }

    pub(super) async fn serve(
        &self,
        access: &Access,
        api_key: ApiKey,
        version: i16,
        body: RequestKind,
    ) -> ResponseKind {
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version);
        let (body, patch) = match check(body, version, access, &self.handler) {
            Checked::Refuse(response) => return response,
            Checked::Serve(body, patch) => (body, patch),
        };
        let answer = self.handler.handle(api_key, &header, body).await.unwrap();
        match patched(answer, patch).settled().await {
            Answer::Respond(response) => response,
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

pub(super) fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

pub(super) fn group(name: &str) -> GroupId {
    GroupId(StrBytes::from_string(name.to_owned()))
}

#[tokio::test]
async fn metadata_lists_only_describable_topics_and_refuses_or_hides_the_rest() {
    let fixture = fixture().await;
    let alice = fixture.access("alice");
    let every = MetadataRequest::default().with_topics(None);
    let ResponseKind::Metadata(listed) = fixture
        .serve(&alice, ApiKey::Metadata, 12, RequestKind::Metadata(every))
        .await
    else {
        panic!("expected Metadata");
    };
    let names: Vec<String> = listed
        .topics
        .iter()
        .map(|t| t.name.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["orders.eu".to_owned()]);

    let named = MetadataRequest::default()
        .with_allow_auto_topic_creation(true)
        .with_topics(Some(
            ["payments", "orders.eu", "elsewhere.new"]
                .into_iter()
                .map(|name| {
                    metadata_request::MetadataRequestTopic::default().with_name(Some(topic(name)))
                })
                .collect(),
        ));
    let ResponseKind::Metadata(answered) = fixture
        .serve(&alice, ApiKey::Metadata, 12, RequestKind::Metadata(named))
        .await
    else {
        panic!("expected Metadata");
    };
    let codes: std::collections::BTreeMap<String, i16> = answered
        .topics
        .iter()
        .map(|t| (t.name.as_ref().unwrap().to_string(), t.error_code))
        .collect();
    assert_eq!(codes["payments"], TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(codes["orders.eu"], 0);
    assert_eq!(codes["elsewhere.new"], TOPIC_AUTHORIZATION_FAILED);
    assert!(fixture.handler.topics().get("elsewhere.new").is_none());
}

#[tokio::test]
async fn topic_administration_is_split_per_topic() {
    let fixture = fixture().await;
    let alice = fixture.access("alice");
    let partitions = CreatePartitionsRequest::default().with_topics(
        ["orders.eu", "payments"]
            .into_iter()
            .map(|name| {
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(topic(name))
                    .with_count(2)
                    .with_assignments(None)
            })
            .collect(),
    );
    let ResponseKind::CreatePartitions(response) = fixture
        .serve(
            &alice,
            ApiKey::CreatePartitions,
            3,
            RequestKind::CreatePartitions(partitions),
        )
        .await
    else {
        panic!("expected CreatePartitions");
    };
    let code = |name: &str| {
        response
            .results
            .iter()
            .find(|r| r.name.as_str() == name)
            .unwrap()
            .error_code
    };
    assert_eq!(code("orders.eu"), 0);
    assert_eq!(code("payments"), TOPIC_AUTHORIZATION_FAILED);

    let delete = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic("payments"), topic("orders.eu")]);
    let ResponseKind::DeleteTopics(response) = fixture
        .serve(
            &alice,
            ApiKey::DeleteTopics,
            4,
            RequestKind::DeleteTopics(delete),
        )
        .await
    else {
        panic!("expected DeleteTopics");
    };
    let code = |name: &str| {
        response
            .responses
            .iter()
            .find(|r| r.name.as_ref().unwrap().as_str() == name)
            .unwrap()
            .error_code
    };
    assert_eq!(code("payments"), TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(code("orders.eu"), 0);
    assert!(fixture.handler.topics().get("payments").is_some());
    assert!(fixture.handler.topics().get("orders.eu").is_none());
}

#[tokio::test]
async fn configs_need_describe_or_alter_configs_on_the_topic_or_the_cluster() {
    let fixture = fixture().await;
    let alice = fixture.access("alice");
    let resource = |kind: i8, name: &str| {
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(StrBytes::from_string(name.to_owned()))
            .with_configuration_keys(None)
    };
    let describe = DescribeConfigsRequest::default().with_resources(vec![
        resource(2, "orders.eu"),
        resource(2, "payments"),
        resource(4, "0"),
    ]);
    let ResponseKind::DescribeConfigs(response) = fixture
        .serve(
            &alice,
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(describe),
        )
        .await
    else {
        panic!("expected DescribeConfigs");
    };
    let code = |name: &str| {
        response
            .results
            .iter()
            .find(|r| r.resource_name.as_str() == name)
            .unwrap()
            .error_code
    };
    assert_eq!(code("orders.eu"), 0);
    assert_eq!(code("payments"), TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(code("0"), CLUSTER_AUTHORIZATION_FAILED);

    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("payments"))
            .with_configs(vec![
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("1000"))),
            ]),
    ]);
    let ResponseKind::IncrementalAlterConfigs(response) = fixture
        .serve(
            &alice,
            ApiKey::IncrementalAlterConfigs,
            1,
            RequestKind::IncrementalAlterConfigs(alter),
        )
        .await
    else {
        panic!("expected IncrementalAlterConfigs");
    };
    assert_eq!(response.responses[0].error_code, TOPIC_AUTHORIZATION_FAILED);
}

#[tokio::test]
async fn without_an_authorizer_nothing_is_split() {
    let fixture = fixture().await;
    let open = Access::new(
        Arc::new(Authorizer::disabled()),
        &Principal::user("bob"),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Default::default(),
    );
    let ResponseKind::Metadata(listed) = fixture
        .serve(
            &open,
            ApiKey::Metadata,
            12,
            RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
        )
        .await
    else {
        panic!("expected Metadata");
    };
    assert_eq!(listed.topics.len(), 2);
}
