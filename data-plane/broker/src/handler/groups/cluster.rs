//! Cluster mode for the group coordinator: a broker serves the groups of
//! the group-log partitions it leads (`cluster::leadership` drives
//! [`Groups::load`], [`Groups::activate`] and [`Groups::deactivate`]), and
//! FindCoordinator names the leader of a group's partition.

use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator as FoundCoordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::shard::{Role, Shard};
use super::{Groups, Inner, replay};
use crate::group::{Coordinator, GroupConfig, placement};
use crate::handler::BrokerEntry;
use crate::partition::{PartitionReplica, ReplicaError};

impl Groups {
    /// Cluster mode at start: coordinating nothing until the group log's
    /// topic exists ([`Groups::set_partitions`]) and this broker leads some
    /// of its partitions ([`Groups::activate`]).
    pub fn standby() -> Self {
        Self {
            inner: Arc::new(Inner {
                shards: RwLock::new(Vec::new()),
                local: None,
                served: std::sync::OnceLock::new(),
                started: Instant::now(),
            }),
        }
    }

    /// The group log has `count` partitions (fixed once seen: a group's
    /// partition must not change under it). False if a different count was
    /// set before.
    pub fn set_partitions(&self, count: NonZeroU32) -> bool {
        let mut shards = self.inner.shards.write().unwrap_or_else(|e| e.into_inner());
        if shards.is_empty() {
            *shards = (0..count.get())
                .map(|index| Arc::new(Shard::new(index, unhosted(), Role::Standby)))
                .collect();
        }
        shards.len() == count.get() as usize
    }

    fn shard(&self, index: u32) -> Option<Arc<Shard>> {
        let shards = self.inner.shards.read().unwrap_or_else(|e| e.into_inner());
        shards.get(index as usize).cloned()
    }

    /// This broker leads partition `index` and waits for its log to
    /// commit: its groups' requests are answered COORDINATOR_LOAD_IN_PROGRESS.
    pub fn load(&self, index: u32) {
        if let Some(shard) = self.shard(index) {
            shard.load();
            self.report_served();
        }
    }

    /// This broker leads partition `index`, and every entry of its `log` is
    /// committed: its groups are rebuilt from the log and served. Returns
    /// the records replayed.
    pub fn activate(
        &self,
        index: u32,
        log: Arc<dyn PartitionReplica>,
    ) -> Result<u64, ReplicaError> {
        let Some(shard) = self.shard(index) else {
            return Ok(0);
        };
        let mut coordinator = Coordinator::new(GroupConfig::default());
        // Members of restored generations get a session from now on.
        let replayed = replay(&*log, &mut coordinator, self.now())?;
        shard.activate(coordinator, log);
        self.report_served();
        Ok(replayed)
    }

    /// Leadership of partition `index` moved away.
    pub fn deactivate(&self, index: u32) {
        if let Some(shard) = self.shard(index) {
            shard.deactivate(unhosted());
            self.report_served();
        }
    }
}

fn unhosted() -> Arc<dyn PartitionReplica> {
    Arc::new(crate::cluster::replica::Unhosted::new(None))
}

impl crate::handler::Handler {
    pub(in crate::handler) fn find_coordinator(
        &self,
        request: &FindCoordinatorRequest,
        version: i16,
    ) -> FindCoordinatorResponse {
        let found = |key: &StrBytes| {
            let coordinator = self.coordinator_of(key.as_str());
            let code = match coordinator {
                Some(_) => 0,
                None => ResponseError::CoordinatorNotAvailable.code(),
            };
            let broker = coordinator.unwrap_or(BrokerEntry {
                id: -1,
                host: StrBytes::default(),
                port: -1,
                rack: None,
            });
            (broker, code)
        };
        if version >= 4 {
            let coordinators = request
                .coordinator_keys
                .iter()
                .map(|key| {
                    let (broker, code) = found(key);
                    FoundCoordinator::default()
                        .with_key(key.clone())
                        .with_node_id(BrokerId(broker.id))
                        .with_host(broker.host)
                        .with_port(broker.port)
                        .with_error_code(code)
                })
                .collect();
            return FindCoordinatorResponse::default().with_coordinators(coordinators);
        }
        let (broker, code) = found(&request.key);
        FindCoordinatorResponse::default()
            .with_node_id(BrokerId(broker.id))
            .with_host(broker.host)
            .with_port(broker.port)
            .with_error_code(code)
    }

    /// The broker coordinating `group_id`: this one when alone; in a
    /// cluster the leader of the group's partition of the group log
    /// (`__consumer_offsets`), `None` while the topic or that leader is
    /// missing.
    fn coordinator_of(&self, group_id: &str) -> Option<BrokerEntry> {
        let Some(cluster) = &self.cluster else {
            return Some(BrokerEntry {
                id: self.node_id,
                host: self.advertised_host.clone(),
                port: self.advertised_port,
                rack: self.rack.clone(),
            });
        };
        let image = cluster.image();
        let name = fjord_metadata::TopicName::new(crate::cluster::GROUP_LOG_TOPIC).ok()?;
        let partitions = &image.topic(&name)?.partitions;
        let count = NonZeroU32::new(u32::try_from(partitions.len()).ok()?)?;
        let index = placement::partition_for(group_id, count);
        let leader = partitions.get(index as usize)?.leader?;
        let (brokers, _) = self.brokers();
        brokers
            .into_iter()
            .find(|broker| i64::from(broker.id) == i64::from(leader.0))
    }
}
