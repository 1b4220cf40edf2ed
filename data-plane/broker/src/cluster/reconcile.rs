//! The controller's image made real on this broker, and this broker's part
//! in the controller's view:
//!
//! - **hosting**: every partition that lists this broker as a replica gets
//!   its Raft group on the node (voters = the replicas) and a
//!   [`ReplicatedReplica`] in the topic registry; the others an
//!   [`Unhosted`] placeholder; topics gone from the image lose their groups
//!   and data;
//! - **reports**: for each group it leads, the term and in-sync replicas go
//!   to the controller whenever they differ from the image (a follower is
//!   in sync when it acknowledged within [`REPLICA_LAG_MS`] and its log
//!   reached the high watermark of the previous round);
//! - **session** (`session`): registration, catching up (`startup`), then a
//!   heartbeat each second;
//! - **maintenance**: while the image says this broker is in maintenance,
//!   its groups do not campaign and it hands each leadership to another
//!   in-sync replica;
//! - **leader balancing**: otherwise it hands a leadership it has held for
//!   [`super::leadership::PREFERRED_AFTER`] back to the partition's preferred replica when that
//!   one is in sync and may lead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fjord_metadata::{BrokerId, MetadataImage, TopicName};
use fjord_node::{GroupId, GroupSpec, Node, PartitionStatus};
use fjord_replication::NodeId;
use tracing::{debug, info, warn};

use super::replica::{ReplicatedReplica, Unhosted};
use super::requests::{ControllerReply, ControllerRequest, ReportedPartition};
use super::{CONTROLLER_GROUP, Cluster, ControllerClient, group_of};
use crate::partition::PartitionReplica;
use crate::topic_config::{self, Overrides};
use crate::topics::{Topic, Topics};

/// The listener name the single-listener flags register under.
pub const KAFKA_LISTENER: &str = crate::config::LEGACY_LISTENER_NAME;
/// A follower silent for longer is out of sync.
pub const REPLICA_LAG_MS: u64 = 10_000;
const REPORT_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub(super) struct Hosted {
    pub(super) topic: TopicName,
    pub(super) index: u32,
    replica: Arc<ReplicatedReplica>,
    configs: Overrides,
}

/// Runs hosting, reports, the session and maintenance for this broker.
#[derive(Debug)]
pub struct Reconciler {
    pub(super) node: Arc<Node>,
    pub(super) me: BrokerId,
    topics: Arc<Topics>,
    client: Arc<ControllerClient>,
    hosted: Mutex<BTreeMap<GroupId, Hosted>>,
    /// The image the registry and the hosted groups last matched.
    synced: tokio::sync::watch::Sender<Arc<MetadataImage>>,
    startup: super::startup::Startup,
}

/// How this broker registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub rack: Option<String>,
    /// Every Kafka listener's name and advertised address.
    pub listeners: Vec<fjord_metadata::Listener>,
}

/// Starts every loop of this module.
pub fn start(
    cluster: &Cluster,
    topics: Arc<Topics>,
    registration: Registration,
    groups: crate::handler::Groups,
    group_log_partitions: std::num::NonZeroU32,
) -> Arc<Reconciler> {
    let reconciler = Arc::new(Reconciler {
        node: Arc::clone(&cluster.node),
        me: cluster.me,
        topics,
        client: Arc::clone(&cluster.client),
        hosted: Mutex::new(BTreeMap::new()),
        synced: tokio::sync::watch::Sender::new(Arc::new(MetadataImage::new())),
        startup: cluster.startup.clone(),
    });
    tokio::spawn(Arc::clone(&reconciler).host_loop(cluster.controller.subscribe()));
    tokio::spawn(Arc::clone(&reconciler).report_loop());
    tokio::spawn(Arc::clone(&reconciler).session_loop(registration));
    tokio::spawn(Arc::clone(&reconciler).maintenance_loop());
    tokio::spawn(Arc::clone(&reconciler).group_log_loop(groups, group_log_partitions));
    tokio::spawn(Arc::clone(&cluster.controller).run_liveness(super::SESSION_TIMEOUT_MS));
    reconciler
}

impl Reconciler {
    pub(super) fn image(&self) -> Arc<MetadataImage> {
        self.client.controller().image()
    }

    /// The replica of a hosted partition.
    pub(super) fn replica_of(&self, group: GroupId) -> Option<Arc<ReplicatedReplica>> {
        self.hosted()
            .get(&group)
            .map(|hosted| Arc::clone(&hosted.replica))
    }

    pub(super) fn client(&self) -> &Arc<ControllerClient> {
        &self.client
    }

    pub(super) fn synced(&self) -> tokio::sync::watch::Receiver<Arc<MetadataImage>> {
        self.synced.subscribe()
    }

    pub(super) fn startup(&self) -> &super::startup::Startup {
        &self.startup
    }

    pub(super) fn hosted(&self) -> std::sync::MutexGuard<'_, BTreeMap<GroupId, Hosted>> {
        self.hosted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn host_loop(
        self: Arc<Self>,
        mut images: tokio::sync::watch::Receiver<Arc<MetadataImage>>,
    ) {
        loop {
            let image = images.borrow_and_update().clone();
            self.sync(&image).await;
            self.synced.send_replace(image);
            if images.changed().await.is_err() {
                return;
            }
        }
    }

    /// Makes the registry and the hosted groups what `image` says.
    async fn sync(&self, image: &MetadataImage) {
        // The defaults are live (`crate::live`): read once per pass, and the
        // pass's partitions configured again if they changed meanwhile.
        let defaults = self.topics.defaults();
        let mut wanted = BTreeSet::new();
        for topic in image.topics() {
            let replication_factor = topic.partitions.first().map_or(1, |p| p.replicas.len());
            let configs = topic_config::validate_all(
                topic.configs.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))),
                i16::try_from(replication_factor).unwrap_or(i16::MAX),
            )
            .unwrap_or_else(|error| {
                warn!(topic = %topic.name, %error, "invalid topic configs in the image; using the defaults");
                Overrides::new()
            });
            let settings = topic_config::partition_settings(&configs, &defaults);
            let mut partitions: Vec<Arc<dyn PartitionReplica>> = Vec::new();
            for (index, partition) in (0u32..).zip(&topic.partitions) {
                let group = group_of(topic.id.0, index);
                let leader = partition.leader.map(|leader| leader.0);
                if !partition.replicas.contains(&self.me) {
                    partitions.push(Arc::new(Unhosted::new(leader)));
                    continue;
                }
                wanted.insert(group);
                let voters = initial_voters(self.me, partition);
                match self
                    .host(group, &topic.name, index, &voters, &configs, &settings)
                    .await
                {
                    Some(replica) => partitions.push(replica),
                    None => partitions.push(Arc::new(Unhosted::new(leader))),
                }
            }
            self.topics.install(Topic {
                name: topic.name.as_str().to_owned(),
                id: topic.id.0,
                partitions,
                configs,
            });
        }
        let names: BTreeSet<&str> = image.topics().map(|topic| topic.name.as_str()).collect();
        for topic in self.topics.list() {
            if !names.contains(topic.name.as_str()) {
                self.topics.uninstall(&topic.name);
                info!(topic = topic.name, "topic removed");
            }
        }
        if self.topics.defaults() != defaults {
            let topics = Arc::clone(&self.topics);
            if tokio::task::spawn_blocking(move || topics.reapply_defaults())
                .await
                .is_err()
            {
                warn!("applying changed broker defaults stopped");
            }
        }
        let gone: Vec<GroupId> = self
            .hosted()
            .keys()
            .filter(|group| !wanted.contains(group))
            .copied()
            .collect();
        for group in gone {
            self.hosted().remove(&group);
            if let Err(error) = self.node.remove_group(group, true).await {
                warn!(%group, %error, "cannot remove a partition's group");
            }
        }
    }

    /// The replica of a partition this broker hosts, its group started if
    /// new and its settings applied if changed.
    async fn host(
        &self,
        group: GroupId,
        topic: &TopicName,
        index: u32,
        replicas: &[BrokerId],
        configs: &Overrides,
        settings: &topic_config::PartitionSettings,
    ) -> Option<Arc<dyn PartitionReplica>> {
        let existing = self.hosted().get(&group).map(|hosted| {
            let same = hosted.topic == *topic && hosted.index == index;
            (
                same,
                Arc::clone(&hosted.replica),
                hosted.configs != *configs,
            )
        });
        match existing {
            Some((false, _, _)) => {
                warn!(%group, %topic, index, "partition group id collides with another partition; not hosting it");
                None
            }
            Some((true, replica, changed)) => {
                if changed {
                    let (applied, settings) = (Arc::clone(&replica), settings.clone());
                    let configured =
                        tokio::task::spawn_blocking(move || applied.configure(&settings)).await;
                    if !matches!(configured, Ok(Ok(()))) {
                        warn!(%topic, index, "cannot apply new topic configs");
                    }
                    if let Some(hosted) = self.hosted().get_mut(&group) {
                        hosted.configs = configs.clone();
                    }
                }
                Some(replica as Arc<dyn PartitionReplica>)
            }
            None => {
                let spec = GroupSpec {
                    id: group,
                    voters: replicas.iter().map(|broker| NodeId(broker.0)).collect(),
                };
                if let Err(error) = self.node.add_group(spec, settings.log.clone()).await {
                    warn!(%topic, index, %error, "cannot start the partition's group");
                    return None;
                }
                let replica =
                    match ReplicatedReplica::new(Arc::clone(&self.node), group, settings).await {
                        Ok(replica) => Arc::new(replica),
                        Err(error) => {
                            warn!(%topic, index, %error, "cannot open the partition replica");
                            return None;
                        }
                    };
                debug!(%topic, index, %group, "hosting partition");
                self.hosted().insert(
                    group,
                    Hosted {
                        topic: topic.clone(),
                        index,
                        replica: Arc::clone(&replica),
                        configs: configs.clone(),
                    },
                );
                Some(replica)
            }
        }
    }

    async fn report_loop(self: Arc<Self>) {
        let mut previous_high_watermarks: BTreeMap<GroupId, i64> = BTreeMap::new();
        loop {
            tokio::time::sleep(REPORT_INTERVAL).await;
            let Ok(statuses) = self.node.statuses().await else {
                return; // the node stopped
            };
            let image = self.image();
            let mut states = Vec::new();
            let mut next_high_watermarks = BTreeMap::new();
            for (group, status) in statuses {
                if group == CONTROLLER_GROUP || !status.is_leader {
                    continue;
                }
                next_high_watermarks.insert(group, status.high_watermark);
                let Some((topic, index)) = self
                    .hosted()
                    .get(&group)
                    .map(|hosted| (hosted.topic.clone(), hosted.index))
                else {
                    continue;
                };
                let reached = previous_high_watermarks
                    .get(&group)
                    .copied()
                    .unwrap_or(status.high_watermark);
                let recorded = image
                    .topic(&topic)
                    .and_then(|t| t.partitions.get(index as usize));
                // A voter on its way out is no longer a replica to report.
                let mut isr = in_sync(self.me, &status, reached);
                isr.retain(|broker| recorded.is_some_and(|p| p.replicas.contains(broker)));
                let same = recorded.is_some_and(|p| {
                    p.leader == Some(self.me)
                        && p.raft_term == status.term
                        && p.isr.iter().collect::<BTreeSet<_>>() == isr.iter().collect()
                });
                if !same {
                    states.push(ReportedPartition {
                        name: topic,
                        partition: index,
                        term: status.term,
                        leader: self.me,
                        isr,
                    });
                }
            }
            previous_high_watermarks = next_high_watermarks;
            if states.is_empty() {
                continue;
            }
            let reply = self
                .client
                .call(&ControllerRequest::ReportPartitions { states })
                .await;
            if !matches!(reply, ControllerReply::Done { .. }) {
                debug!(?reply, "partition report not taken");
            }
        }
    }
}

/// The voters a group starts with on this broker. A replica added by a
/// reassignment (not in sync yet while the move is on) joins the existing
/// group: it starts outside the configuration, never campaigns, and learns
/// its membership from the leader's configuration entries. Everyone else
/// starts with every replica (a restarted member restores its membership
/// history from its own log).
fn initial_voters(me: BrokerId, partition: &fjord_metadata::Partition) -> Vec<BrokerId> {
    let joining = !partition.removing.is_empty() && !partition.isr.contains(&me);
    if !joining {
        return partition.replicas.clone();
    }
    partition
        .replicas
        .iter()
        .copied()
        .filter(|broker| partition.isr.contains(broker) || partition.removing.contains(broker))
        .filter(|broker| *broker != me)
        .collect()
}

/// The leader and every follower that acknowledged recently and whose log
/// reached `reached`.
fn in_sync(me: BrokerId, status: &PartitionStatus, reached: i64) -> Vec<BrokerId> {
    let mut isr = vec![me];
    isr.extend(
        status
            .followers
            .iter()
            .filter(|f| f.last_ack_age_ms <= REPLICA_LAG_MS && f.match_end >= reached)
            .map(|f| BrokerId(f.id.0)),
    );
    isr
}
