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

/// Most alternative preferred leaders tried per partition, bounding the cost
/// on large clusters to `O(LEADER_TRIES × rf × brokers)` per partition.
const LEADER_TRIES: usize = 64;

/// The eligible brokers and their counts, by position.
#[derive(Debug)]
struct Pool {
    ids: Vec<BrokerId>,
    domain: Vec<usize>,
    domain_size: Vec<usize>,
    domain_replicas: Vec<usize>,
    replicas: Vec<usize>,
    leaders: Vec<usize>,
    tiebreak: Vec<u64>,
}

impl Pool {
    fn new(image: &MetadataImage, seed: u64) -> Pool {
        let eligible: Vec<&Broker> = image.brokers().filter(|broker| broker.can_host()).collect();
        let load = Load::of(image);
        let mut names: Vec<Domain> = eligible.iter().map(|broker| domain(broker)).collect();
        names.sort();
        names.dedup();
        let domain: Vec<usize> = eligible
            .iter()
            .map(|broker| names.binary_search(&domain(broker)).expect("listed above"))
            .collect();
        let mut pool = Pool {
            ids: eligible.iter().map(|broker| broker.id).collect(),
            domain_size: vec![0; names.len()],
            domain_replicas: vec![0; names.len()],
            replicas: eligible
                .iter()
                .map(|broker| load.replicas(broker.id))
                .collect(),
            leaders: eligible
                .iter()
                .map(|broker| load.leaders(broker.id))
                .collect(),
            tiebreak: eligible
                .iter()
                .map(|broker| tiebreak(seed, broker.id))
                .collect(),
            domain,
        };
        for (index, rack) in pool.domain.iter().enumerate() {
            pool.domain_size[*rack] += 1;
            pool.domain_replicas[*rack] += pool.replicas[index];
        }
        pool
    }

    fn add(&mut self, replicas: &[usize]) {
        for index in replicas {
            self.replicas[*index] += 1;
            self.domain_replicas[self.domain[*index]] += 1;
        }
        self.leaders[replicas[0]] += 1;
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
    let mut pool = Pool::new(image, seed);
    if replication_factor == 0 {
        return Err(Error::Unplaceable(
            "the replication factor is at least 1".into(),
        ));
    }
    if replication_factor > pool.ids.len() {
        return Err(Error::ReplicationAboveBrokers {
            replication_factor,
            brokers: pool.ids.len(),
        });
    }
    let mut plan = Vec::with_capacity(partitions);
    for _ in 0..partitions {
        let chosen = place_one(&pool, replication_factor);
        assert_eq!(chosen.len(), replication_factor, "one replica per slot");
        pool.add(&chosen);
        let replicas: Vec<BrokerId> = chosen.iter().map(|index| pool.ids[*index]).collect();
        crate::apply::check_distinct(&replicas).expect("placement never repeats a broker");
        plan.push(replicas);
    }
    Ok(plan)
}

fn place_one(pool: &Pool, replication_factor: usize) -> Vec<usize> {
    let (mut best, mut best_keys) = fill(pool, replication_factor, None);
    best_keys.sort_unstable();
    // The preferred leader: the broker with the fewest preferred leaderships
    // among those that can start a fill as good as the best one.
    let best_leaders = best
        .iter()
        .map(|index| pool.leaders[*index])
        .min()
        .unwrap_or(0);
    let mut candidates: Vec<usize> = (0..pool.ids.len())
        .filter(|index| pool.leaders[*index] < best_leaders)
        .collect();
    candidates.sort_by_key(|index| (pool.leaders[*index], pool.tiebreak[*index]));
    let better = candidates.into_iter().take(LEADER_TRIES).find_map(|first| {
        let (chosen, mut keys) = fill(pool, replication_factor, Some(first));
        keys.sort_unstable();
        (keys == best_keys).then_some(chosen)
    });
    if let Some(chosen) = better {
        return chosen;
    }
    let leader = (0..best.len())
        .min_by_key(|slot| (pool.leaders[best[*slot]], pool.tiebreak[best[*slot]]))
        .expect("at least one replica");
    best.swap(0, leader);
    best
}

/// What a fill step minimises, tie-break excluded: replicas of this partition
/// in the rack, scaled rack load, the broker's replicas.
type StepKey = (usize, usize, usize);

/// Picks `replication_factor` brokers one at a time by the least step key,
/// starting with `first` when given; returns their positions and each step's
/// key.
fn fill(
    pool: &Pool,
    replication_factor: usize,
    first: Option<usize>,
) -> (Vec<usize>, Vec<StepKey>) {
    let mut domain_replicas = pool.domain_replicas.clone();
    let mut in_partition = vec![0usize; pool.domain_size.len()];
    let mut chosen: Vec<usize> = Vec::with_capacity(replication_factor);
    let mut keys: Vec<StepKey> = Vec::with_capacity(replication_factor);
    let key = |index: usize, in_partition: &[usize], domain_replicas: &[usize]| -> StepKey {
        let rack = pool.domain[index];
        let rack_load = domain_replicas[rack] * DOMAIN_SCALE / pool.domain_size[rack];
        (in_partition[rack], rack_load, pool.replicas[index])
    };
    while chosen.len() < replication_factor {
        let next = match first.filter(|_| chosen.is_empty()) {
            Some(first) => first,
            // Among equals, followers are brokers with more leaderships: the
            // ones with fewer stay light for the leaders to come.
            None => (0..pool.ids.len())
                .filter(|index| !chosen.contains(index))
                .min_by_key(|index| {
                    let leaders = std::cmp::Reverse(pool.leaders[*index]);
                    (
                        key(*index, &in_partition, &domain_replicas),
                        leaders,
                        pool.tiebreak[*index],
                    )
                })
                .expect("replication factor <= eligible brokers"),
        };
        keys.push(key(next, &in_partition, &domain_replicas));
        domain_replicas[pool.domain[next]] += 1;
        in_partition[pool.domain[next]] += 1;
        chosen.push(next);
    }
    (chosen, keys)
}
