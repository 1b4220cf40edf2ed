//! Rack-aware replica placement for new topics and partitions.
//!
//! For each new partition, replicas are picked one at a time: the eligible
//! broker whose failure domain (rack) holds the fewest replicas *of this
//! partition* (every rack is used before one repeats), then whose rack holds
//! the fewest replicas overall per broker, then with the fewest replicas
//! itself. Filling the least-loaded racks first keeps rack totals within one
//! of each other, and filling the least-loaded broker within a rack keeps
//! brokers within one of each other, so on a uniform cluster per-broker
//! counts stay within one of even. The preferred leader is the broker with
//! the fewest preferred leaderships that can start a fill whose steps are, as
//! a multiset, as good as the unconstrained fill's (so leader balance never costs replica
//! balance); failing that, the chosen broker with the fewest leaderships. Ties break by a hash
//! of `(seed, broker)`, so a plan is a function of the image and the seed.
//! Counts include existing partitions, so adding partitions balances too.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::image::{Broker, MetadataImage};
use crate::types::BrokerId;

/// A broker's failure domain: its rack, or itself when it names none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Domain {
    Rack(String),
    Alone(BrokerId),
}

pub(crate) fn domain(broker: &Broker) -> Domain {
    broker
        .rack
        .clone()
        .map_or(Domain::Alone(broker.id), Domain::Rack)
}

/// Deterministic tie-break weight of `broker` under `seed` (splitmix64).
pub(crate) fn tiebreak(seed: u64, broker: BrokerId) -> u64 {
    let mut value = seed ^ u64::from(broker.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// Divisible by every domain size up to 16, so scaled domain loads compare
/// exactly.
const DOMAIN_SCALE: usize = 720_720;

/// Replica and preferred-leader counts per broker.
#[derive(Debug, Default, Clone)]
pub(crate) struct Load {
    pub(crate) replicas: BTreeMap<BrokerId, usize>,
    pub(crate) leaders: BTreeMap<BrokerId, usize>,
}

impl Load {
    /// Counts over every partition, the first replica as preferred leader.
    pub(crate) fn of(image: &MetadataImage) -> Load {
        let mut load = Load::default();
        for (_, partition) in image.partitions() {
            for broker in partition.target() {
                *load.replicas.entry(broker).or_default() += 1;
            }
            if let Some(first) = partition.replicas.first() {
                *load.leaders.entry(*first).or_default() += 1;
            }
        }
        load
    }

    pub(crate) fn replicas(&self, broker: BrokerId) -> usize {
        self.replicas.get(&broker).copied().unwrap_or(0)
    }

    pub(crate) fn leaders(&self, broker: BrokerId) -> usize {
        self.leaders.get(&broker).copied().unwrap_or(0)
    }
}

/// Replica lists (preferred leader first) for `partitions` new partitions of
/// `replication_factor` replicas each on the brokers able to host them.
pub fn place(
    image: &MetadataImage,
    partitions: usize,
    replication_factor: usize,
    seed: u64,
) -> Result<Vec<Vec<BrokerId>>> {
    let eligible: Vec<&Broker> = image.brokers().filter(|broker| broker.can_host()).collect();
    if replication_factor == 0 {
        return Err(Error::Unplaceable(
            "the replication factor is at least 1".into(),
        ));
    }
    if replication_factor > eligible.len() {
        return Err(Error::ReplicationAboveBrokers {
            replication_factor,
            brokers: eligible.len(),
        });
    }
    let mut load = Load::of(image);
    let mut plan = Vec::with_capacity(partitions);
    for _ in 0..partitions {
        let replicas = place_one(&eligible, &load, replication_factor, seed);
        assert_eq!(replicas.len(), replication_factor, "one replica per slot");
        for broker in &replicas {
            *load.replicas.entry(*broker).or_default() += 1;
        }
        *load.leaders.entry(replicas[0]).or_default() += 1;
        plan.push(replicas);
    }
    Ok(plan)
}

fn place_one(
    eligible: &[&Broker],
    load: &Load,
    replication_factor: usize,
    seed: u64,
) -> Vec<BrokerId> {
    // Replicas per domain and its size, so bigger racks take more.
    let mut domains: Domains = BTreeMap::new();
    for broker in eligible {
        let entry = domains.entry(domain(broker)).or_default();
        entry.0 += load.replicas(broker.id);
        entry.1 += 1;
    }
    let (best, mut best_keys) = fill(eligible, load, &domains, replication_factor, None, seed);
    best_keys.sort_unstable();
    // The preferred leader: the broker with the fewest preferred leaderships
    // among those that can start a fill as good as the best one.
    let mut candidates: Vec<&Broker> = eligible.to_vec();
    candidates.sort_by_key(|broker| (load.leaders(broker.id), tiebreak(seed, broker.id)));
    let chosen = candidates
        .into_iter()
        .filter(|broker| {
            load.leaders(broker.id)
                < best
                    .iter()
                    .map(|taken| load.leaders(taken.id))
                    .min()
                    .unwrap_or(0)
        })
        .find_map(|first| {
            let (replicas, keys) = fill(
                eligible,
                load,
                &domains,
                replication_factor,
                Some(first),
                seed,
            );
            (keys == best_keys).then_some(replicas)
        })
        .unwrap_or_else(|| {
            let mut best = best;
            let leader = (0..best.len())
                .min_by_key(|index| {
                    (
                        load.leaders(best[*index].id),
                        tiebreak(seed, best[*index].id),
                    )
                })
                .expect("at least one replica");
            best.swap(0, leader);
            best
        });
    let replicas: Vec<BrokerId> = chosen.iter().map(|broker| broker.id).collect();
    crate::apply::check_distinct(&replicas).expect("placement never repeats a broker");
    replicas
}

type Domains = BTreeMap<Domain, (usize, usize)>;
/// What a fill step minimises, tie-break excluded: replicas of this partition
/// in the rack, scaled rack load, the broker's replicas.
type StepKey = (usize, usize, usize);

/// Scaled replicas per broker of a domain.
fn domain_load(domains: &Domains, rack: &Domain) -> usize {
    let (replicas, size) = domains
        .get(rack)
        .copied()
        .expect("every eligible broker's domain is counted");
    replicas * DOMAIN_SCALE / size
}

/// Picks `replication_factor` brokers one at a time by the least step key,
/// starting with `first` when given; returns them and each step's key.
fn fill<'a>(
    eligible: &[&'a Broker],
    load: &Load,
    domains: &Domains,
    replication_factor: usize,
    first: Option<&'a Broker>,
    seed: u64,
) -> (Vec<&'a Broker>, Vec<StepKey>) {
    let mut domains = domains.clone();
    let mut chosen: Vec<&Broker> = Vec::with_capacity(replication_factor);
    let mut keys: Vec<StepKey> = Vec::with_capacity(replication_factor);
    while chosen.len() < replication_factor {
        let key = |broker: &Broker, chosen: &[&Broker]| -> StepKey {
            let rack = domain(broker);
            let same_rack = chosen.iter().filter(|taken| domain(taken) == rack).count();
            (
                same_rack,
                domain_load(&domains, &rack),
                load.replicas(broker.id),
            )
        };
        let next = match first.filter(|_| chosen.is_empty()) {
            Some(first) => first,
            None => eligible
                .iter()
                .filter(|broker| !chosen.iter().any(|taken| taken.id == broker.id))
                // Among equals, followers are brokers with more leaderships:
                // the ones with fewer stay light for the leaders to come.
                .min_by_key(|broker| {
                    let leaders = std::cmp::Reverse(load.leaders(broker.id));
                    (key(broker, &chosen), leaders, tiebreak(seed, broker.id))
                })
                .copied()
                .expect("replication factor <= eligible brokers"),
        };
        keys.push(key(next, &chosen));
        domains.get_mut(&domain(next)).expect("counted above").0 += 1;
        chosen.push(next);
    }
    (chosen, keys)
}
