//! Answers decoded requests. Each API lives in its own module; anything that
//! touches the disk runs on a blocking thread.

mod configs;
mod fetch;
mod groups;
mod metadata;
mod offsets;
mod produce;
mod producer_ids;
#[cfg(test)]
mod tests;
mod topics;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;

pub use groups::Groups;

use crate::BrokerConfig;
use crate::cluster::ClusterView;
use crate::cluster::reconcile::KAFKA_LISTENER;
use crate::live::LiveConfig;
use crate::metrics::BrokerMetrics;
use crate::producer::ProducerIds;
use crate::protocol::versions;
use crate::topics::Topics;

/// Bitfield value meaning "authorized operations not requested".
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// How a request is answered.
#[expect(
    clippy::large_enum_variant,
    reason = "built once per request and moved, never stored"
)]
pub enum Answer {
    Respond(ResponseKind),
    /// Produce with acks=0: the client expects nothing back.
    NoResponse,
    /// The request's ordered work (appends, state changes) is done; what is
    /// left only waits (acks=all durability, a fetch long-poll) and may run
    /// while the connection's next requests are served.
    Later(Pin<Box<dyn Future<Output = Answer> + Send>>),
}

impl Answer {
    /// Waits for a [`Answer::Later`] to settle.
    pub async fn settled(self) -> Answer {
        match self {
            Answer::Later(rest) => Box::pin(rest.await.settled()).await,
            settled => settled,
        }
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Respond(response) => formatter.debug_tuple("Respond").field(response).finish(),
            Answer::NoResponse => formatter.write_str("NoResponse"),
            Answer::Later(_) => formatter.write_str("Later"),
        }
    }
}

/// What the broker knows about itself, shared by every connection.
#[derive(Debug, Clone)]
pub struct Handler {
    node_id: i32,
    /// The listener this handler's connections came in on: Metadata lists
    /// every broker's address on it (Kafka's semantics).
    listener_name: Arc<str>,
    advertised_host: StrBytes,
    advertised_port: i32,
    rack: Option<StrBytes>,
    cluster_id: StrBytes,
    topics: Arc<Topics>,
    /// Settings that change while the broker runs: read at each use.
    live: LiveConfig,
    metrics: BrokerMetrics,
    groups: Groups,
    producer_ids: Arc<ProducerIds>,
    /// Cluster mode: the controller's image is the truth about brokers,
    /// topics and leaders.
    cluster: Option<ClusterView>,
}

/// A broker as Metadata and DescribeCluster list it.
#[derive(Debug, Clone)]
pub(crate) struct BrokerEntry {
    pub id: i32,
    pub host: StrBytes,
    pub port: i32,
    pub rack: Option<StrBytes>,
}

impl Handler {
    pub fn new(
        config: &BrokerConfig,
        cluster_id: &str,
        topics: Arc<Topics>,
        metrics: BrokerMetrics,
        groups: Groups,
        producer_ids: Arc<ProducerIds>,
    ) -> Self {
        Self {
            node_id: config.node_id,
            listener_name: config
                .kafka_listeners
                .first()
                .map_or(KAFKA_LISTENER, |listener| listener.name.as_str())
                .into(),
            advertised_host: StrBytes::from_string(config.advertised_host.clone()),
            advertised_port: i32::from(config.advertised_port),
            rack: config.rack.clone().map(StrBytes::from_string),
            cluster_id: StrBytes::from_string(cluster_id.to_owned()),
            topics,
            live: LiveConfig::new(config),
            metrics,
            groups,
            producer_ids,
            cluster: None,
        }
    }

    /// The handler for connections on `listener`: it advertises that
    /// listener's addresses.
    #[must_use]
    pub fn for_listener(&self, listener: &crate::config::KafkaListener) -> Self {
        let mut handler = self.clone();
        handler.listener_name = listener.name.as_str().into();
        handler.advertised_host = StrBytes::from_string(listener.advertised_host.clone());
        handler.advertised_port = i32::from(listener.advertised_port);
        handler
    }

    /// The live settings this handler reads.
    pub fn live(&self) -> &LiveConfig {
        &self.live
    }

    /// Reads the live settings from `live` (the value the admin API
    /// changes) instead of the start-up values [`Handler::new`] took.
    #[must_use]
    pub fn with_live(mut self, live: LiveConfig) -> Self {
        self.live = live;
        self
    }

    /// Cluster mode: answers from the controller's image.
    #[must_use]
    pub fn with_cluster(mut self, view: ClusterView) -> Self {
        self.cluster_id = StrBytes::from_string(view.kafka_cluster_id.clone());
        self.cluster = Some(view);
        self
    }

    /// The live brokers and the controller (-1: none known).
    pub(crate) fn brokers(&self) -> (Vec<BrokerEntry>, i32) {
        let Some(cluster) = &self.cluster else {
            let me = BrokerEntry {
                id: self.node_id,
                host: self.advertised_host.clone(),
                port: self.advertised_port,
                rack: self.rack.clone(),
            };
            return (vec![me], self.node_id);
        };
        let image = cluster.image();
        let brokers = image
            .brokers()
            .filter(|broker| !broker.fenced)
            .filter_map(|broker| {
                let listener = broker
                    .listeners
                    .iter()
                    .find(|l| *l.name == *self.listener_name)?;
                Some(BrokerEntry {
                    id: i32::try_from(broker.id.0).ok()?,
                    host: StrBytes::from_string(listener.host.clone()),
                    port: i32::from(listener.port),
                    rack: broker.rack.clone().map(StrBytes::from_string),
                })
            })
            .collect();
        let controller = cluster
            .controller
            .leader()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(-1);
        (brokers, controller)
    }

    /// Handles a request of a supported API and version. `None` means no
    /// handler serves it yet: the caller closes the connection, as a Kafka
    /// broker does for an API it did not advertise.
    pub async fn handle(
        &self,
        api_key: ApiKey,
        header: &RequestHeader,
        body: RequestKind,
    ) -> Option<Answer> {
        debug_assert!(versions::accepts(api_key, header.request_api_version));
        let version = header.request_api_version;
        let response = match body {
            RequestKind::ApiVersions(_) => {
                ResponseKind::ApiVersions(versions::api_versions_response(None))
            }
            RequestKind::Metadata(request) => {
                ResponseKind::Metadata(self.metadata(request, version).await)
            }
            RequestKind::Produce(request) => return Some(self.produce(request, version).await),
            RequestKind::Fetch(request) if request.max_wait_ms > 0 => {
                // A long-poll only reads: let it wait beside later requests.
                let handler = self.clone();
                return Some(Answer::Later(Box::pin(async move {
                    Answer::Respond(ResponseKind::Fetch(handler.fetch(request, version).await))
                })));
            }
            RequestKind::Fetch(request) => ResponseKind::Fetch(self.fetch(request, version).await),
            RequestKind::ListOffsets(request) => {
                ResponseKind::ListOffsets(self.list_offsets(request, version).await)
            }
            RequestKind::OffsetForLeaderEpoch(request) => {
                ResponseKind::OffsetForLeaderEpoch(self.offset_for_leader_epoch(request).await)
            }
            RequestKind::CreateTopics(request) => {
                ResponseKind::CreateTopics(self.create_topics(request).await)
            }
            RequestKind::DeleteTopics(request) => {
                ResponseKind::DeleteTopics(self.delete_topics(request).await)
            }
            RequestKind::CreatePartitions(request) => {
                ResponseKind::CreatePartitions(self.create_partitions(request).await)
            }
            RequestKind::FindCoordinator(request) => {
                ResponseKind::FindCoordinator(self.find_coordinator(&request, version))
            }
            RequestKind::JoinGroup(request) => {
                ResponseKind::JoinGroup(self.join_group(request, header, version).await)
            }
            RequestKind::SyncGroup(request) => {
                ResponseKind::SyncGroup(self.sync_group(request).await)
            }
            RequestKind::Heartbeat(request) => ResponseKind::Heartbeat(self.heartbeat(&request)),
            RequestKind::LeaveGroup(request) => {
                ResponseKind::LeaveGroup(self.leave_group(&request, version))
            }
            RequestKind::OffsetCommit(request) => {
                ResponseKind::OffsetCommit(self.offset_commit(&request).await)
            }
            RequestKind::OffsetFetch(request) => {
                ResponseKind::OffsetFetch(self.offset_fetch(&request, version))
            }
            RequestKind::DescribeGroups(request) => {
                ResponseKind::DescribeGroups(self.describe_groups(&request))
            }
            RequestKind::ListGroups(request) => {
                ResponseKind::ListGroups(self.list_groups(&request))
            }
            RequestKind::DeleteGroups(request) => {
                ResponseKind::DeleteGroups(self.delete_groups(&request).await)
            }
            RequestKind::InitProducerId(request) => {
                ResponseKind::InitProducerId(self.init_producer_id(&request).await)
            }
            RequestKind::DescribeConfigs(request) => {
                ResponseKind::DescribeConfigs(self.describe_configs(&request))
            }
            RequestKind::IncrementalAlterConfigs(request) => {
                ResponseKind::IncrementalAlterConfigs(self.incremental_alter_configs(request).await)
            }
            RequestKind::AlterConfigs(request) => {
                ResponseKind::AlterConfigs(self.alter_configs(request).await)
            }
            RequestKind::DescribeCluster(request) => {
                ResponseKind::DescribeCluster(self.describe_cluster(&request))
            }
            _ => return None,
        };
        Some(Answer::Respond(response))
    }

    pub fn topics(&self) -> &Arc<Topics> {
        &self.topics
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }
}

/// Runs blocking work (disk I/O) off the async workers. A panicked or
/// cancelled task becomes `None`.
async fn blocking<T, F>(work: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.ok()
}
