//! Decommission planning: a replacement for every replica on a broker.
//!
//! Each partition hosted on the broker gets a target replica list with the
//! broker replaced in place by an eligible broker that is not already a
//! replica, preferring a failure domain the other replicas do not use, then
//! the broker with the fewest replicas. Applied as `ReassignReplicas`, the new
//! replica joins, catches up, enters the ISR, and the reassignment completes.

use crate::error::{Error, Result};
use crate::image::MetadataImage;
use crate::placement::{Load, domain, tiebreak};
use crate::record::MetadataRecord;
use crate::types::{BrokerId, PartitionRef};

/// A partition's new replica list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassignment {
    pub partition: PartitionRef,
    pub target: Vec<BrokerId>,
}

impl Reassignment {
    /// The record that starts the reassignment.
    pub fn record(&self) -> MetadataRecord {
        MetadataRecord::ReassignReplicas {
            name: self.partition.topic.clone(),
            partition: self.partition.partition,
            target: self.target.clone(),
        }
    }
}

/// Replacement replicas for every partition hosted on `broker`.
pub fn plan_decommission(image: &MetadataImage, broker: BrokerId) -> Result<Vec<Reassignment>> {
    image.broker_of(broker)?;
    let mut load = Load::of(image);
    let mut plan = Vec::new();
    for (at, partition) in image.partitions() {
        if !partition.target().any(|replica| replica == broker) {
            continue;
        }
        if !partition.removing.is_empty() {
            return Err(Error::Unplaceable(format!(
                "{at} is already being reassigned"
            )));
        }
        let others: Vec<_> = partition
            .replicas
            .iter()
            .filter(|replica| **replica != broker)
            .collect();
        let replacement = image
            .brokers()
            .filter(|candidate| {
                candidate.can_host()
                    && candidate.id != broker
                    && !partition.replicas.contains(&candidate.id)
            })
            .min_by_key(|candidate| {
                let rack = domain(candidate);
                let shared = others
                    .iter()
                    .filter(|other| {
                        image
                            .broker(***other)
                            .is_some_and(|other| domain(other) == rack)
                    })
                    .count();
                (
                    shared,
                    load.replicas(candidate.id),
                    tiebreak(0, candidate.id),
                )
            })
            .ok_or_else(|| {
                Error::Unplaceable(format!(
                    "no broker can take {at}'s replica from broker {broker}"
                ))
            })?;
        let target: Vec<BrokerId> = partition
            .replicas
            .iter()
            .map(|replica| {
                if *replica == broker {
                    replacement.id
                } else {
                    *replica
                }
            })
            .collect();
        crate::apply::check_distinct(&target).expect("the replacement was not a replica");
        assert!(!target.contains(&broker), "the plan takes the broker out");
        *load.replicas.entry(replacement.id).or_default() += 1;
        plan.push(Reassignment {
            partition: at,
            target,
        });
    }
    Ok(plan)
}
