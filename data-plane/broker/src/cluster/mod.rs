//! Cluster mode: the broker as one node of a Raft-replicated cluster
//! (`docs/replication.md` "Broker cluster mode").
//!
//! - [`controller`]: the controller group (Raft group 0) on this node; every
//!   voter applies its committed metadata records to a `MetadataImage`; the
//!   leader turns requests into records.
//! - [`client`]: how any broker reaches the controller leader (locally, or
//!   over the voters' admin HTTP addresses).
//! - [`reconcile`]: the image made real on this broker: a Raft group per
//!   hosted partition, the topic registry, leadership reports, heartbeats,
//!   maintenance.
//! - [`replica`]: a partition replica backed by its Raft group.
//! - [`http`]: the controller endpoint and the operator's probes on the
//!   admin port.
//! - [`startup`]: starting, catching up, serving: the Kafka listener and
//!   `/readyz` wait for this broker to replay the controller's metadata.

pub mod client;
pub mod controller;
mod group_log;
pub mod http;
mod leadership;
pub mod reconcile;
pub mod replica;
pub mod requests;
pub mod resolve;
mod session;
pub mod startup;

use std::path::Path;
use std::sync::Arc;

use fjord_metadata::{BrokerId, MetadataImage};
use fjord_node::{ClusterId, GroupId, GroupSpec, Node, NodeConfig, NodeMetrics};
use fjord_replication::NodeId;
use fjord_storage::{LogConfig, Preallocate};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::config::{BrokerConfig, ClusterSettings};
use crate::security::peer_reload::PeerTlsReload;
use crate::{Error, Result};

pub use client::ControllerClient;
pub use controller::Controller;

/// The controller group's id; partitions' groups are never 0.
pub const CONTROLLER_GROUP: GroupId = GroupId(0);
/// The internal topic holding the consumer groups' log in a cluster; each
/// partition's leader coordinates the groups that hash to it (see
/// `group::placement` and `group_log`).
pub const GROUP_LOG_TOPIC: &str = "__consumer_offsets";
/// A broker whose controller session lapses this long is fenced.
pub const SESSION_TIMEOUT_MS: u64 = 6_000;

/// The Raft group of one partition: a hash of the topic id and index, never
/// 0. The reconciler refuses to host a second partition whose id collides.
pub fn group_of(topic: Uuid, partition: u32) -> GroupId {
    let bytes = topic.as_u128();
    let mut hash = (bytes as u64) ^ ((bytes >> 64) as u64);
    hash ^= u64::from(partition).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // SplitMix64's finalizer: every input bit reaches every output bit.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    GroupId((hash >> 1).max(1))
}

/// The cluster's identity on the wire and to Kafka clients, derived from the
/// controller voter list every broker is given, so brokers configured alike
/// agree without another flag.
pub fn cluster_id(settings: &ClusterSettings) -> (ClusterId, String) {
    let mut hash: u128 = 0x6a09_e667_f3bc_c908_bb67_ae85_84ca_a73b;
    for (id, address) in &settings.controller_voters {
        for byte in format!("{id}@{address};").bytes() {
            hash =
                (hash ^ u128::from(byte)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }
    let name = Uuid::from_u128(hash).simple().to_string();
    (ClusterId(hash), name)
}

/// Everything cluster mode runs.
#[derive(Debug)]
pub struct Cluster {
    pub node: Arc<Node>,
    pub controller: Arc<Controller>,
    pub client: Arc<ControllerClient>,
    pub me: BrokerId,
    pub kafka_cluster_id: String,
    /// Where this broker is in its start-up; advanced by the session loop.
    pub startup: startup::Startup,
    /// Reloads the peer TLS files when they change (with `--peer-tls-*`).
    pub peer_tls_reload: Option<PeerTlsReload>,
}

/// Starts this broker's node (peer transport, controller group) and the
/// controller's applier. The reconciler is started by [`reconcile::start`]
/// once the topic registry exists.
pub async fn start(
    config: &BrokerConfig,
    settings: &ClusterSettings,
    data_dir: &Path,
    metrics: NodeMetrics,
) -> Result<Cluster> {
    let me = u32::try_from(config.node_id)
        .map_err(|_| Error::Config("--node-id must be >= 0".into()))?;
    let voter = settings.controller_voters.contains_key(&me);
    let (wire_id, kafka_cluster_id) = cluster_id(settings);
    let mut node_config = NodeConfig::new(NodeId(me), wire_id, data_dir.join("raft"));
    node_config.peers = settings
        .peers
        .iter()
        .map(|(id, address)| (NodeId(*id), address.clone()))
        .collect();
    node_config.hosts_file = settings.hosts_file.clone();
    let resolver = fjord_node::Resolver::new(
        settings.hosts_file.clone(),
        metrics.resolve_failures.clone(),
    );
    let http = resolve::http_client(&resolver, std::time::Duration::from_secs(5));
    if voter {
        node_config.groups = vec![GroupSpec {
            id: CONTROLLER_GROUP,
            voters: settings
                .controller_voters
                .keys()
                .map(|id| NodeId(*id))
                .collect(),
        }];
    }
    node_config.log = controller_log_config();
    node_config.tls = config
        .peer_tls
        .as_ref()
        .map(crate::security::peer_tls::PeerTlsFiles::load)
        .transpose()?;
    // Shares the node's configurations, so a reload reaches its transport.
    let peer_tls_reload = config
        .peer_tls
        .clone()
        .zip(node_config.tls.clone())
        .map(|(files, tls)| PeerTlsReload::new(files, tls));
    let listener = TcpListener::bind(settings.peer_listen)
        .await
        .map_err(|source| Error::Listen {
            address: settings.peer_listen.to_string(),
            source,
        })?;
    let node = Node::start(node_config, listener, metrics)
        .await
        .map_err(|error| Error::Config(format!("cannot start the replication node: {error}")))?;
    let node = Arc::new(node);
    let controller = if voter {
        Controller::start(Arc::clone(&node), BrokerId(me))
            .await
            .map_err(|error| Error::Config(format!("cannot start the controller: {error}")))?
    } else {
        Controller::start_observer(
            Arc::clone(&node),
            BrokerId(me),
            settings.controller_voters.clone(),
            http.clone(),
        )
    };
    let client = Arc::new(ControllerClient::new(
        Arc::clone(&controller),
        settings.controller_voters.clone(),
        http,
    ));
    Ok(Cluster {
        node,
        controller,
        client,
        me: BrokerId(me),
        kafka_cluster_id,
        startup: startup::Startup::default(),
        peer_tls_reload,
    })
}

/// The controller log keeps everything: the image is rebuilt from it at
/// start (no metadata snapshots yet).
fn controller_log_config() -> LogConfig {
    LogConfig {
        segment_bytes: fjord_storage::ByteSize::mib(64),
        retention_age: None,
        retention_bytes: None,
        preallocate: Preallocate::None,
        ..LogConfig::default()
    }
}

/// A read-only view for the handlers: the image and who the controller is.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub controller: Arc<Controller>,
    pub me: BrokerId,
    pub kafka_cluster_id: String,
}

impl Cluster {
    pub fn view(&self) -> ClusterView {
        ClusterView {
            controller: Arc::clone(&self.controller),
            me: self.me,
            kafka_cluster_id: self.kafka_cluster_id.clone(),
        }
    }
}

impl ClusterView {
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }
}
