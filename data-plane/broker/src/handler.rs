//! Answers decoded requests.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponseTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataRequest, MetadataResponse, RequestHeader, RequestKind, ResponseKind,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::BrokerConfig;
use crate::protocol::versions;

/// Bitfield value meaning "authorized operations not requested".
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// What the broker knows about itself, shared by every connection.
#[derive(Debug, Clone)]
pub struct Handler {
    node_id: i32,
    advertised_host: StrBytes,
    advertised_port: i32,
    rack: Option<StrBytes>,
    cluster_id: StrBytes,
}

impl Handler {
    pub fn new(config: &BrokerConfig, cluster_id: &str) -> Self {
        Self {
            node_id: config.node_id,
            advertised_host: StrBytes::from_string(config.advertised_host.clone()),
            advertised_port: i32::from(config.advertised_port),
            rack: config.rack.clone().map(StrBytes::from_string),
            cluster_id: StrBytes::from_string(cluster_id.to_owned()),
        }
    }

    /// Handles a request of a supported API and version. `None` means no
    /// handler serves it yet: the caller closes the connection, as a Kafka
    /// broker does for an API it did not advertise.
    pub fn handle(
        &self,
        api_key: ApiKey,
        header: &RequestHeader,
        body: RequestKind,
    ) -> Option<ResponseKind> {
        debug_assert!(versions::accepts(api_key, header.request_api_version));
        match body {
            RequestKind::ApiVersions(_) => Some(ResponseKind::ApiVersions(
                versions::api_versions_response(None),
            )),
            RequestKind::Metadata(request) => {
                Some(ResponseKind::Metadata(self.metadata(&request, header)))
            }
            _ => None,
        }
    }

    fn metadata(&self, request: &MetadataRequest, header: &RequestHeader) -> MetadataResponse {
        let broker = MetadataResponseBroker::default()
            .with_node_id(BrokerId(self.node_id))
            .with_host(self.advertised_host.clone())
            .with_port(self.advertised_port)
            .with_rack(self.rack.clone());
        // No topic exists yet: a request for all topics gets an empty list,
        // each named topic is answered UNKNOWN_TOPIC_OR_PARTITION.
        let all_topics = match &request.topics {
            None => true,
            Some(topics) => topics.is_empty() && header.request_api_version == 0,
        };
        let topics = if all_topics {
            Vec::new()
        } else {
            request
                .topics
                .iter()
                .flatten()
                .map(|topic| {
                    MetadataResponseTopic::default()
                        .with_name(topic.name.clone().or_else(|| Some(TopicName::default())))
                        .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
                })
                .collect()
        };
        MetadataResponse::default()
            .with_brokers(vec![broker])
            .with_cluster_id(Some(self.cluster_id.clone()))
            .with_controller_id(BrokerId(self.node_id))
            .with_topics(topics)
            .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
    }
}
