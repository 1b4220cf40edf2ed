//! Property tests of the planners and the codec (docs/controller.md, "Tests").
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{cluster, heartbeat, incarnation};
use fjord_metadata::balance::{balance_leaders, leader_counts, plan_maintenance};
use fjord_metadata::decommission::plan_decommission;
use fjord_metadata::health::restart_risk;
use fjord_metadata::placement::place;
use fjord_metadata::{BrokerId, MetadataImage, MetadataRecord, PartitionRef, TopicId, TopicName};
use proptest::prelude::*;

fn rack_of(image: &MetadataImage, broker: BrokerId) -> String {
    image.broker(broker).unwrap().rack.clone().unwrap()
}

fn create_topic(image: &mut MetadataImage, index: u32, replicas: Vec<Vec<BrokerId>>) {
    let record = MetadataRecord::CreateTopic {
        topic_id: TopicId(uuid::Uuid::from_u128(u128::from(index) + 1)),
        name: TopicName::new(format!("topic-{index}")).unwrap(),
        partitions: replicas,
        configs: BTreeMap::new(),
        allow_replication_above_brokers: false,
    };
    image.apply(&record).unwrap();
}

fn spread(counts: impl Iterator<Item = usize> + Clone) -> usize {
    counts.clone().max().unwrap_or(0) - counts.min().unwrap_or(0)
}

/// Racks for `brokers` brokers: uniform (round robin over `racks`) or not.
fn racks_strategy() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..4, 1..9)
}

/// A cluster with placed topics, then random fences, returns, isr changes,
/// leader moves, maintenance switches, reassignments, decommissions and
/// re-registrations (refused ones are skipped; the invariants are asserted
/// after every apply). Returns the image before the operations, after them,
/// and every record offered.
fn busy_history() -> impl Strategy<Value = (MetadataImage, MetadataImage, Vec<MetadataRecord>)> {
    let operations = prop::collection::vec((0u8..10, 0usize..64, 0usize..64), 0..40);
    (
        racks_strategy(),
        1usize..4,
        1usize..20,
        any::<u64>(),
        operations,
    )
        .prop_map(
            |(racks, replication_factor, partitions, seed, operations)| {
                let mut image = cluster(&racks);
                let replication_factor = replication_factor.min(racks.len());
                let plan = place(&image, partitions, replication_factor, seed).unwrap();
                create_topic(&mut image, 0, plan);
                let start = image.clone();
                let mut offered = Vec::new();
                for (kind, first, second) in operations {
                    let record = operation(&image, kind, first, second);
                    let _refused_or_applied = image.apply(&record);
                    offered.push(record);
                }
                (start, image, offered)
            },
        )
}

fn busy_image() -> impl Strategy<Value = MetadataImage> {
    busy_history().prop_map(|(_, image, _)| image)
}

fn operation(image: &MetadataImage, kind: u8, first: usize, second: usize) -> MetadataRecord {
    let brokers: Vec<BrokerId> = image.brokers().map(|broker| broker.id).collect();
    let broker = brokers[first % brokers.len()];
    let partitions: Vec<_> = image
        .partitions()
        .map(|(at, partition)| (at, partition.clone()))
        .collect();
    let (at, partition) = &partitions[first % partitions.len()];
    let (name, index) = (at.topic.clone(), at.partition);
    match kind {
        0 => MetadataRecord::FenceBroker {
            broker,
            incarnation: incarnation(broker.0, 0),
        },
        1 => heartbeat(broker.0, 1),
        2 => {
            let mut isr = partition.isr.clone();
            if isr.len() > 1 {
                isr.remove(second % isr.len());
            }
            MetadataRecord::IsrChange {
                name,
                partition: index,
                isr,
            }
        }
        3 => MetadataRecord::PartitionLeaderChange {
            name,
            partition: index,
            leader: Some(partition.isr[second % partition.isr.len()]),
        },
        4 => MetadataRecord::SetMaintenance {
            broker,
            on: second.is_multiple_of(2),
        },
        5 => {
            // Rotate the broker list and take as many as the partition has.
            let count = partition.replicas.len().min(brokers.len());
            let target = (0..count)
                .map(|offset| brokers[(second + offset) % brokers.len()])
                .collect();
            MetadataRecord::ReassignReplicas {
                name,
                partition: index,
                target,
            }
        }
        6 => MetadataRecord::IsrChange {
            name,
            partition: index,
            isr: partition.replicas.clone(),
        },
        7 => MetadataRecord::BeginDecommission { broker },
        8 => MetadataRecord::EndDecommission { broker },
        _ => MetadataRecord::RegisterBroker {
            broker,
            incarnation: incarnation(broker.0, u32::try_from(second % 2).unwrap()),
            rack: image.broker(broker).unwrap().rack.clone(),
            listeners: Vec::new(),
            at: fjord_metadata::Millis(2),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn placement_never_repeats_a_broker_and_uses_every_rack_before_repeating_one(
        racks in racks_strategy(), replication_factor in 1usize..5, partitions in 1usize..40, seed in any::<u64>(),
        skew in prop::collection::vec(0u32..8, 0..20),
    ) {
        let mut image = cluster(&racks);
        let replication_factor = replication_factor.min(racks.len());
        if !skew.is_empty() {
            // Existing single-replica partitions make some brokers fuller.
            let brokers = u32::try_from(racks.len()).unwrap();
            let existing = skew.iter().map(|index| vec![BrokerId(index % brokers + 1)]).collect();
            create_topic(&mut image, 99, existing);
        }
        let rack_count = racks.iter().collect::<BTreeSet<_>>().len();
        for replicas in place(&image, partitions, replication_factor, seed).unwrap() {
            prop_assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), replication_factor);
            let used: BTreeSet<_> = replicas.iter().map(|broker| rack_of(&image, *broker)).collect();
            prop_assert_eq!(used.len(), replication_factor.min(rack_count), "{:?}", replicas);
        }
    }

    #[test]
    fn placement_keeps_replica_and_leader_counts_within_one_of_even_on_uniform_clusters(
        rack_count in 1u32..4, per_rack in 1u32..4, replication_factor in 1usize..4,
        topics in prop::collection::vec(1usize..30, 1..4), seed in any::<u64>(),
    ) {
        let racks: Vec<u32> = (0..rack_count * per_rack).map(|index| index % rack_count).collect();
        let mut image = cluster(&racks);
        let replication_factor = replication_factor.min(racks.len());
        for (index, partitions) in topics.iter().enumerate() {
            let plan = place(&image, *partitions, replication_factor, seed).unwrap();
            create_topic(&mut image, u32::try_from(index).unwrap(), plan);
        }
        let mut replicas: BTreeMap<BrokerId, usize> = image.brokers().map(|broker| (broker.id, 0)).collect();
        let mut leaders = replicas.clone();
        for (_, partition) in image.partitions() {
            partition.replicas.iter().for_each(|broker| *replicas.get_mut(broker).unwrap() += 1);
            *leaders.get_mut(&partition.replicas[0]).unwrap() += 1;
        }
        prop_assert!(spread(replicas.values().copied()) <= 1, "replicas {:?}", replicas);
        prop_assert!(spread(leaders.values().copied()) <= 1, "leaders {:?}", leaders);
    }

    #[test]
    fn balancing_never_increases_the_leader_imbalance(image in busy_image(), moves_max in 0usize..10) {
        let before = leader_counts(&image);
        let plan = balance_leaders(&image, moves_max);
        prop_assert!(plan.len() <= moves_max);
        let mut image = image;
        let mut spread_before = spread(before.values().copied());
        for leader_move in &plan {
            image.apply(&leader_move.record()).unwrap();
            let after = spread(leader_counts(&image).values().copied());
            prop_assert!(after <= spread_before, "{} -> {} after {:?}", spread_before, after, leader_move);
            spread_before = after;
        }
        let squares = |counts: &BTreeMap<BrokerId, usize>| counts.values().map(|count| count * count).sum::<usize>();
        prop_assert!(squares(&leader_counts(&image)) <= squares(&before));
        if plan.len() < moves_max {
            prop_assert!(balance_leaders(&image, 1).is_empty(), "a short plan means no useful move is left");
        }
    }

    #[test]
    fn maintenance_moves_every_leadership_it_can_off_the_broker(image in busy_image(), pick in 0usize..8) {
        let brokers: Vec<BrokerId> = image.brokers().map(|broker| broker.id).collect();
        let broker = brokers[pick % brokers.len()];
        let plan = plan_maintenance(&image, broker);
        let mut image = image;
        image.apply(&MetadataRecord::SetMaintenance { broker, on: true }).unwrap();
        for leader_move in &plan.moves {
            image.apply(&leader_move.record()).unwrap();
        }
        let still_led: Vec<PartitionRef> = image
            .partitions()
            .filter(|(_, partition)| partition.leader == Some(broker))
            .map(|(at, _)| at)
            .collect();
        prop_assert_eq!(still_led, plan.without_alternative);
    }

    #[test]
    fn decommission_leaves_nothing_on_the_broker_and_keeps_rack_spread(
        rack_count in 1u32..4, per_rack in 2u32..4, replication_factor in 1usize..4,
        partitions in 1usize..30, seed in any::<u64>(), pick in 0u32..12,
    ) {
        let racks: Vec<u32> = (0..rack_count * per_rack).map(|index| index % rack_count).collect();
        let mut image = cluster(&racks);
        let replication_factor = replication_factor.min(racks.len() - 1);
        let plan = place(&image, partitions, replication_factor, seed).unwrap();
        create_topic(&mut image, 0, plan);
        let broker = BrokerId(pick % (rack_count * per_rack) + 1);
        image.apply(&MetadataRecord::BeginDecommission { broker }).unwrap();
        for reassignment in plan_decommission(&image, broker).unwrap() {
            image.apply(&reassignment.record()).unwrap();
            // The new replica catches up and the leader adds it to the isr.
            let at = &reassignment.partition;
            let isr = image.partition(at).unwrap().replicas.clone();
            image.apply(&MetadataRecord::IsrChange { name: at.topic.clone(), partition: at.partition, isr }).unwrap();
            let partition = image.partition(at).unwrap();
            let used: BTreeSet<_> = partition.replicas.iter().map(|broker| rack_of(&image, *broker)).collect();
            prop_assert_eq!(used.len(), replication_factor.min(rack_count as usize));
        }
        prop_assert!(image.partitions().all(|(_, partition)| !partition.replicas.contains(&broker)));
        image.apply(&MetadataRecord::EndDecommission { broker }).unwrap();
    }

    #[test]
    fn restart_probe_agrees_with_fencing_the_broker_through_the_state_machine(image in busy_image()) {
        for broker in image.brokers().map(|broker| broker.id).collect::<Vec<_>>() {
            let mut restarted = image.clone();
            let incarnation = image.broker(broker).unwrap().incarnation;
            restarted.apply(&MetadataRecord::FenceBroker { broker, incarnation }).unwrap();
            let brute_force: Vec<PartitionRef> = restarted
                .partitions()
                .filter(|(_, partition)| partition.replicas.contains(&broker))
                .filter(|(_, partition)| {
                    let live = partition.isr.iter().filter(|member| !restarted.broker(**member).unwrap().fenced).count();
                    live <= partition.replicas.len() / 2
                })
                .map(|(at, _)| at)
                .collect();
            prop_assert_eq!(restart_risk(&image, broker), brute_force);
        }
    }

    #[test]
    fn replaying_the_decoded_records_rebuilds_the_same_image((start, image, offered) in busy_history()) {
        let mut replayed = start;
        for record in &offered {
            let decoded = MetadataRecord::decode(&record.encode().unwrap()).unwrap();
            prop_assert_eq!(&decoded, record);
            let _refused_or_applied = replayed.apply(&decoded);
        }
        prop_assert_eq!(replayed, image);
    }

    #[test]
    fn decoder_never_panics_on_garbage_or_mutated_records(
        bytes in prop::collection::vec(any::<u8>(), 0..512), flips in prop::collection::vec((0usize..4096, any::<u8>()), 0..8),
    ) {
        let _garbage = MetadataRecord::decode(&bytes);
        let mut valid = common::create(1, "orders", &[&[1, 2, 3], &[2, 3, 1]]).encode().unwrap();
        for (at, byte) in flips {
            let index = at % valid.len();
            valid[index] = byte;
        }
        if let Ok(record) = MetadataRecord::decode(&valid) {
            prop_assert_eq!(MetadataRecord::decode(&record.encode().unwrap()).unwrap(), record);
        }
    }
}
