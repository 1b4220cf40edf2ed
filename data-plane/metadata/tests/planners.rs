//! The planners on small clusters whose right answer can be read off.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{brokers, cluster, create, incarnation, name};
use fjord_metadata::balance::{LeaderMove, balance_leaders, plan_maintenance};
use fjord_metadata::decommission::plan_decommission;
use fjord_metadata::health::{cluster_health, restart_risk};
use fjord_metadata::liveness::expired_sessions;
use fjord_metadata::placement::place;
use fjord_metadata::{BrokerId, Error, MetadataRecord, Millis, PartitionRef};

fn at(topic: &str, partition: u32) -> PartitionRef {
    PartitionRef {
        topic: name(topic),
        partition,
    }
}

fn fence(broker: u32) -> MetadataRecord {
    MetadataRecord::FenceBroker {
        broker: BrokerId(broker),
        incarnation: incarnation(broker, 0),
    }
}

#[test]
fn placement_refuses_more_replicas_than_live_brokers_and_skips_fenced_ones() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&fence(2)).unwrap();
    assert!(matches!(
        place(&image, 1, 3, 0),
        Err(Error::ReplicationAboveBrokers {
            replication_factor: 3,
            brokers: 2
        })
    ));
    for replicas in place(&image, 10, 2, 7).unwrap() {
        assert!(!replicas.contains(&BrokerId(2)));
    }
    assert_eq!(
        place(&image, 5, 2, 7).unwrap(),
        place(&image, 5, 2, 7).unwrap(),
        "same seed, same plan"
    );
}

#[test]
fn balancing_moves_leadership_from_the_busiest_broker_to_an_idle_in_sync_one() {
    let mut image = cluster(&[0, 1, 2]);
    image
        .apply(&create(1, "t", &[&[1, 2, 3], &[1, 3, 2], &[1, 2, 3]]))
        .unwrap();
    let plan = balance_leaders(&image, 10);
    assert_eq!(plan.len(), 2, "3-0-0 becomes 1-1-1: {plan:?}");
    assert!(
        plan.iter()
            .all(|leader_move| leader_move.from == BrokerId(1))
    );
    let targets: Vec<_> = plan.iter().map(|leader_move| leader_move.to).collect();
    assert!(targets.contains(&BrokerId(2)) && targets.contains(&BrokerId(3)));
    assert_eq!(
        balance_leaders(&image, 1).len(),
        1,
        "limited to the moves asked for"
    );
}

#[test]
fn maintenance_moves_leaders_away_and_reports_partitions_with_no_alternative() {
    let mut image = cluster(&[0, 1]);
    image.apply(&create(1, "t", &[&[1, 2], &[1, 2]])).unwrap();
    let shrink = MetadataRecord::IsrChange {
        name: name("t"),
        partition: 1,
        isr: brokers(&[1]),
    };
    image.apply(&shrink).unwrap();
    let plan = plan_maintenance(&image, BrokerId(1));
    assert_eq!(
        plan.moves,
        vec![LeaderMove {
            partition: at("t", 0),
            from: BrokerId(1),
            to: BrokerId(2)
        }]
    );
    assert_eq!(plan.without_alternative, vec![at("t", 1)]);
}

#[test]
fn decommission_replaces_the_broker_within_its_rack_when_others_use_the_rest() {
    // Racks: 1 and 4 in rack 0, 2 in rack 1, 3 in rack 2.
    let mut image = cluster(&[0, 1, 2, 0]);
    image.apply(&create(1, "t", &[&[1, 2, 3]])).unwrap();
    let plan = plan_decommission(&image, BrokerId(1)).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].target, brokers(&[4, 2, 3]));
    let mut small = cluster(&[0, 1]);
    small.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    assert!(matches!(
        plan_decommission(&small, BrokerId(1)),
        Err(Error::Unplaceable(_))
    ));
}

#[test]
fn probe_flags_partitions_that_would_lose_their_quorum() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&create(1, "healthy", &[&[1, 2, 3]])).unwrap();
    image.apply(&create(2, "fragile", &[&[1, 2, 3]])).unwrap();
    image
        .apply(&MetadataRecord::IsrChange {
            name: name("fragile"),
            partition: 0,
            isr: brokers(&[1, 2]),
        })
        .unwrap();
    assert_eq!(restart_risk(&image, BrokerId(1)), vec![at("fragile", 0)]);
    assert_eq!(
        restart_risk(&image, BrokerId(3)),
        Vec::<PartitionRef>::new(),
        "3 is out of sync already"
    );
}

#[test]
fn health_lists_under_replicated_leaderless_and_offline_partitions() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    image.apply(&create(2, "u", &[&[3]])).unwrap();
    assert!(cluster_health(&image).is_healthy());
    // Broker 3 stops heartbeating; the others keep theirs fresh.
    image.apply(&common::heartbeat(1, 100)).unwrap();
    image.apply(&common::heartbeat(2, 100)).unwrap();
    for record in expired_sessions(&image, Millis(100), 50) {
        image.apply(&record).unwrap();
    }
    image.apply(&fence(2)).unwrap();
    let health = cluster_health(&image);
    assert_eq!(health.fenced_brokers, brokers(&[2, 3]));
    assert_eq!(health.under_replicated, vec![at("t", 0)]);
    assert_eq!(health.leaderless, vec![at("u", 0)]);
    assert_eq!(health.offline, vec![at("u", 0)]);
    assert!(!health.is_healthy());
}
