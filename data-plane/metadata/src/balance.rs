//! Leader balancing and maintenance: which leadership moves to make.
//!
//! Balancing repeatedly takes the move between the two eligible brokers whose
//! leader counts differ most (by at least 2), preferring the partition's
//! preferred replica as target. Each move lowers the larger count and raises
//! the smaller without crossing, so neither the spread (max − min) nor the
//! sum of squared counts ever increases.

use std::collections::BTreeMap;

use crate::image::MetadataImage;
use crate::record::MetadataRecord;
use crate::types::{BrokerId, PartitionRef};

/// Move a partition's leadership from one broker to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderMove {
    pub partition: PartitionRef,
    pub from: BrokerId,
    pub to: BrokerId,
}

impl LeaderMove {
    /// The record that makes the move.
    pub fn record(&self) -> MetadataRecord {
        MetadataRecord::PartitionLeaderChange {
            name: self.partition.topic.clone(),
            partition: self.partition.partition,
            leader: Some(self.to),
        }
    }
}

/// Current leader counts of the brokers that may lead (zero included).
pub fn leader_counts(image: &MetadataImage) -> BTreeMap<BrokerId, usize> {
    let mut counts: BTreeMap<BrokerId, usize> = image
        .brokers()
        .filter(|broker| broker.can_lead())
        .map(|broker| (broker.id, 0))
        .collect();
    for (_, partition) in image.partitions() {
        if let Some(count) = partition.leader.and_then(|leader| counts.get_mut(&leader)) {
            *count += 1;
        }
    }
    counts
}

/// Up to `moves_max` leadership moves bringing leader counts closest to even.
pub fn balance_leaders(image: &MetadataImage, moves_max: usize) -> Vec<LeaderMove> {
    let mut counts = leader_counts(image);
    let mut moved: Vec<PartitionRef> = Vec::new();
    let mut plan = Vec::new();
    while plan.len() < moves_max {
        let Some(best) = best_move(image, &counts, &moved) else {
            break;
        };
        let from = counts
            .get_mut(&best.from)
            .expect("moves start at an eligible broker");
        *from -= 1;
        *counts
            .get_mut(&best.to)
            .expect("moves end at an eligible broker") += 1;
        moved.push(best.partition.clone());
        plan.push(best);
    }
    plan
}

fn best_move(
    image: &MetadataImage,
    counts: &BTreeMap<BrokerId, usize>,
    moved: &[PartitionRef],
) -> Option<LeaderMove> {
    let mut best: Option<((usize, bool), LeaderMove)> = None;
    for (at, partition) in image.partitions() {
        let Some(leader) = partition.leader else {
            continue;
        };
        let Some(&from_count) = counts.get(&leader) else {
            continue;
        };
        if moved.contains(&at) {
            continue;
        }
        for target in partition
            .replicas
            .iter()
            .filter(|broker| partition.isr.contains(broker))
        {
            let Some(&to_count) = counts.get(target) else {
                continue;
            };
            if from_count < to_count + 2 {
                continue;
            }
            let key = (
                from_count - to_count,
                partition.replicas.first() == Some(target),
            );
            if best.as_ref().is_none_or(|(best_key, _)| key > *best_key) {
                let candidate = LeaderMove {
                    partition: at.clone(),
                    from: leader,
                    to: *target,
                };
                best = Some((key, candidate));
            }
        }
    }
    best.map(|(_, chosen)| chosen)
}

/// Leadership moves that take every partition off `broker` for maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaintenancePlan {
    pub moves: Vec<LeaderMove>,
    /// Partitions `broker` leads with no other in-sync broker able to lead.
    pub without_alternative: Vec<PartitionRef>,
}

/// Moves leadership away from `broker`: each partition it leads goes to the
/// eligible in-sync replica with the fewest leaders (replica order breaks ties).
pub fn plan_maintenance(image: &MetadataImage, broker: BrokerId) -> MaintenancePlan {
    let mut counts = leader_counts(image);
    counts.remove(&broker);
    let mut plan = MaintenancePlan::default();
    for (at, partition) in image
        .partitions()
        .filter(|(_, partition)| partition.leader == Some(broker))
    {
        let target = partition
            .replicas
            .iter()
            .filter(|candidate| partition.isr.contains(candidate) && counts.contains_key(candidate))
            .min_by_key(|candidate| counts.get(candidate).copied().unwrap_or(0))
            .copied();
        match target {
            Some(to) => {
                *counts.get_mut(&to).expect("target is eligible") += 1;
                plan.moves.push(LeaderMove {
                    partition: at,
                    from: broker,
                    to,
                });
            }
            None => plan.without_alternative.push(at),
        }
    }
    plan
}
