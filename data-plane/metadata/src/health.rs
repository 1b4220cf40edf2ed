//! Cluster health and the pre-restart probe.

use crate::image::{MetadataImage, Partition};
use crate::types::{BrokerId, PartitionRef};

/// What an operator checks before and during a rolling upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterHealth {
    pub brokers: usize,
    pub fenced_brokers: Vec<BrokerId>,
    /// Fenced because they are still replaying the controller log after a
    /// (re)start; a subset of `fenced_brokers`.
    pub catching_up_brokers: Vec<BrokerId>,
    /// The ISR is smaller than the replica set.
    pub under_replicated: Vec<PartitionRef>,
    /// No leader.
    pub leaderless: Vec<PartitionRef>,
    /// No unfenced in-sync replica: nobody can serve it.
    pub offline: Vec<PartitionRef>,
}

impl ClusterHealth {
    pub fn is_healthy(&self) -> bool {
        self.fenced_brokers.is_empty()
            && self.under_replicated.is_empty()
            && self.leaderless.is_empty()
            && self.offline.is_empty()
    }
}

pub fn cluster_health(image: &MetadataImage) -> ClusterHealth {
    let mut health = ClusterHealth {
        brokers: image.brokers().count(),
        fenced_brokers: image
            .brokers()
            .filter(|broker| broker.fenced)
            .map(|broker| broker.id)
            .collect(),
        catching_up_brokers: image
            .brokers()
            .filter(|broker| broker.catching_up)
            .map(|broker| broker.id)
            .collect(),
        ..ClusterHealth::default()
    };
    for (at, partition) in image.partitions() {
        if partition.isr.len() < partition.replicas.len() {
            health.under_replicated.push(at.clone());
        }
        if partition.leader.is_none() {
            health.leaderless.push(at.clone());
        }
        if live_in_sync(image, partition, None) == 0 {
            health.offline.push(at);
        }
    }
    health
}

/// The partitions hosted on `broker` that would be left without a quorum
/// (a majority of their replicas) of live in-sync replicas while it restarts.
pub fn restart_risk(image: &MetadataImage, broker: BrokerId) -> Vec<PartitionRef> {
    image
        .partitions()
        .filter(|(_, partition)| partition.replicas.contains(&broker))
        .filter(|(_, partition)| live_in_sync(image, partition, Some(broker)) < quorum(partition))
        .map(|(at, _)| at)
        .collect()
}

/// A majority of the replica set.
pub fn quorum(partition: &Partition) -> usize {
    partition.replicas.len() / 2 + 1
}

fn live_in_sync(image: &MetadataImage, partition: &Partition, without: Option<BrokerId>) -> usize {
    partition
        .isr
        .iter()
        .filter(|member| Some(**member) != without)
        .filter(|member| image.broker(**member).is_some_and(|broker| !broker.fenced))
        .count()
}
