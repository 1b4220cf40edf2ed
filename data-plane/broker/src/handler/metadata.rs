//! Metadata: brokers, and topics with their partitions (auto-creating
//! requested topics when enabled).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{AUTHORIZED_OPERATIONS_OMITTED, Handler, blocking};
use crate::topics::{self, Topic, TopicError};

impl Handler {
    pub(super) async fn metadata(
        &self,
        request: MetadataRequest,
        version: i16,
    ) -> MetadataResponse {
        let (brokers, controller) = self.brokers();
        let brokers = brokers
            .into_iter()
            .map(|broker| {
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(broker.id))
                    .with_host(broker.host)
                    .with_port(broker.port)
                    .with_rack(broker.rack)
            })
            .collect();
        let all_topics = match &request.topics {
            None => true,
            Some(topics) => topics.is_empty() && version == 0,
        };
        let topics = if all_topics {
            self.topics
                .list()
                .iter()
                .map(|topic| self.topic_metadata(topic))
                .collect()
        } else {
            // Before v4 a request may always auto-create.
            let allow_create = self.live.current().auto_create_topics
                && (version < 4 || request.allow_auto_topic_creation);
            let mut answers = Vec::new();
            for requested in request.topics.into_iter().flatten() {
                let name = requested
                    .name
                    .clone()
                    .or_else(|| {
                        self.topics
                            .list()
                            .into_iter()
                            .find(|topic| topic.id == requested.topic_id)
                            .map(|topic| TopicName(StrBytes::from_string(topic.name.clone())))
                    })
                    .unwrap_or_default();
                answers.push(match self.topic_or_create(&name, allow_create).await {
                    Ok(topic) => self.topic_metadata(&topic),
                    Err(error) => MetadataResponseTopic::default()
                        .with_name(Some(name))
                        .with_topic_id(requested.topic_id)
                        .with_error_code(error.kafka_error().code())
                        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED),
                });
            }
            answers
        };
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_cluster_id(Some(self.cluster_id.clone()))
            .with_controller_id(BrokerId(controller))
            .with_topics(topics)
            .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
    }

    /// The topic, created with the broker defaults if missing and allowed.
    pub(super) async fn topic_or_create(
        &self,
        name: &str,
        allow_create: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        if let Some(topic) = self.topics.get(name) {
            return Ok(topic);
        }
        if !allow_create {
            return Err(TopicError::Unknown(name.to_owned()));
        }
        topics::validate_name(name)?;
        let live = self.live.current();
        let (registry, name, partitions, replication_factor) = (
            Arc::clone(&self.topics),
            name.to_owned(),
            live.default_partitions,
            live.default_replication_factor,
        );
        blocking(move || {
            match registry.create_replicated(
                &name,
                partitions,
                replication_factor,
                Default::default(),
                false,
            ) {
                Ok(Some(topic)) => {
                    tracing::info!(topic = name, partitions, "topic auto-created");
                    Ok(topic)
                }
                // Raced with another creator, or validate-only (never here).
                Ok(None) | Err(TopicError::AlreadyExists(_)) => registry
                    .get(&name)
                    .ok_or_else(|| TopicError::Unknown(name.clone())),
                Err(error) => Err(error),
            }
        })
        .await
        .unwrap_or_else(|| Err(TopicError::Unknown(String::new())))
    }

    fn topic_metadata(&self, topic: &Topic) -> MetadataResponseTopic {
        if let Some(cluster) = &self.cluster {
            return cluster_topic_metadata(&cluster.image(), topic);
        }
        let node = BrokerId(self.node_id);
        let partitions = topic
            .partitions
            .iter()
            .zip(0..)
            .map(|(replica, index)| {
                MetadataResponsePartition::default()
                    .with_partition_index(index)
                    .with_leader_id(node)
                    .with_leader_epoch(replica.leader_epoch().0)
                    .with_replica_nodes(vec![node])
                    .with_isr_nodes(vec![node])
            })
            .collect();
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
            .with_topic_id(topic.id)
            .with_partitions(partitions)
            .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
    }
}

/// A topic's partitions as the controller's image records them: replicas,
/// the in-sync ones, and the leader its Raft group reported, with the Raft
/// term as leader epoch. No leader known: LEADER_NOT_AVAILABLE, which
/// clients retry.
fn cluster_topic_metadata(
    image: &fjord_metadata::MetadataImage,
    topic: &Topic,
) -> MetadataResponseTopic {
    let ids = |brokers: &[fjord_metadata::BrokerId]| -> Vec<BrokerId> {
        brokers
            .iter()
            .filter_map(|broker| i32::try_from(broker.0).ok().map(BrokerId))
            .collect()
    };
    let recorded = fjord_metadata::TopicName::new(topic.name.clone())
        .ok()
        .and_then(|name| image.topic(&name).cloned());
    let partitions = recorded
        .map(|recorded| {
            recorded
                .partitions
                .iter()
                .zip(0..)
                .map(|(partition, index)| {
                    let leader = partition
                        .leader
                        .and_then(|leader| i32::try_from(leader.0).ok())
                        .filter(|_| partition.raft_term > 0);
                    let answer = MetadataResponsePartition::default()
                        .with_partition_index(index)
                        .with_leader_id(BrokerId(leader.unwrap_or(-1)))
                        .with_leader_epoch(partition.raft_term)
                        .with_replica_nodes(ids(&partition.replicas))
                        .with_isr_nodes(ids(&partition.isr));
                    if leader.is_none() {
                        answer.with_error_code(ResponseError::LeaderNotAvailable.code())
                    } else {
                        answer
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.name == crate::cluster::GROUP_LOG_TOPIC)
        .with_partitions(partitions)
        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
}
