//! The state machine as the controller uses it: validate, apply, invariants.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{brokers, cluster, create, heartbeat, incarnation, name, register};
use fjord_metadata::liveness::expired_sessions;
use fjord_metadata::{
    BrokerId, Error, LeaderEpoch, MetadataImage, MetadataRecord, Millis, PartitionRef,
};

fn partition(image: &MetadataImage, topic: &str, index: u32) -> fjord_metadata::Partition {
    image
        .partition(&PartitionRef {
            topic: name(topic),
            partition: index,
        })
        .unwrap()
        .clone()
}

#[test]
fn registered_broker_is_fenced_until_its_first_heartbeat() {
    let mut image = MetadataImage::new();
    image.apply(&register(1, None, 0)).unwrap();
    assert!(image.broker(BrokerId(1)).unwrap().fenced);
    image.apply(&heartbeat(1, 5)).unwrap();
    assert!(!image.broker(BrokerId(1)).unwrap().fenced);
}

#[test]
fn a_new_incarnation_is_catching_up_until_its_first_heartbeat_and_a_lapsed_session_is_not() {
    let mut image = MetadataImage::new();
    image.apply(&register(1, None, 0)).unwrap();
    let broker = image.broker(BrokerId(1)).unwrap();
    assert!(broker.catching_up && broker.fenced);
    image.apply(&heartbeat(1, 5)).unwrap();
    assert!(!image.broker(BrokerId(1)).unwrap().catching_up);
    // Fenced for silence: fenced, but not catching up.
    image
        .apply(&MetadataRecord::FenceBroker {
            broker: BrokerId(1),
            incarnation: incarnation(1, 0),
        })
        .unwrap();
    let broker = image.broker(BrokerId(1)).unwrap();
    assert!(broker.fenced && !broker.catching_up);
}

#[test]
fn created_topic_has_every_replica_in_sync_and_the_first_as_leader() {
    let mut image = cluster(&[0, 1, 2]);
    image
        .apply(&create(1, "orders", &[&[2, 3, 1], &[3, 1, 2]]))
        .unwrap();
    let first = partition(&image, "orders", 0);
    assert_eq!(first.isr, brokers(&[2, 3, 1]));
    assert_eq!(first.leader, Some(BrokerId(2)));
    assert_eq!(partition(&image, "orders", 1).leader, Some(BrokerId(3)));
}

#[test]
fn invalid_topics_are_refused_and_change_nothing() {
    let mut image = cluster(&[0, 1]);
    let before = image.clone();
    let refusals = [
        (create(1, "t", &[&[1, 1]]), "duplicate replica"),
        (create(1, "t", &[&[1, 9]]), "broker 9 is not registered"),
        (create(1, "t", &[&[1, 2], &[1]]), "same replication factor"),
        (create(1, "t", &[]), "at least one partition"),
    ];
    for (record, expected) in &refusals {
        let error = image.validate(record).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
        assert_eq!(
            image.apply(record).unwrap_err(),
            error,
            "apply refuses as validate does"
        );
    }
    assert_eq!(image.topics().count(), before.topics().count());
    image.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    assert!(matches!(
        image.validate(&create(2, "t", &[&[1]])),
        Err(Error::TopicExists(_))
    ));
    assert!(matches!(
        image.validate(&create(1, "u", &[&[1]])),
        Err(Error::TopicIdInUse(_))
    ));
}

#[test]
fn records_with_invalid_topic_names_do_not_decode() {
    let valid = String::from_utf8(create(1, "t", &[&[1]]).encode().unwrap()).unwrap();
    for bad in ["", "..", "a b", "caf\u{e9}"] {
        let json = valid.replace("\"name\":\"t\"", &format!("\"name\":{bad:?}"));
        let error = MetadataRecord::decode(json.as_bytes()).unwrap_err();
        assert!(
            error.to_string().contains("invalid topic name"),
            "{bad:?}: {error}"
        );
    }
    assert!(fjord_metadata::TopicName::new("x".repeat(250)).is_err());
}

#[test]
fn replication_factor_above_live_brokers_needs_explicit_permission() {
    let mut image = cluster(&[0, 1]);
    image.apply(&register(3, None, 0)).unwrap(); // registered, still fenced
    let record = create(1, "t", &[&[1, 2, 3]]);
    assert!(matches!(
        image.validate(&record),
        Err(Error::ReplicationAboveBrokers {
            replication_factor: 3,
            brokers: 2
        })
    ));
    let MetadataRecord::CreateTopic {
        topic_id,
        name,
        partitions,
        configs,
        ..
    } = record
    else {
        unreachable!()
    };
    let allowed = MetadataRecord::CreateTopic {
        topic_id,
        name,
        partitions,
        configs,
        allow_replication_above_brokers: true,
    };
    image.apply(&allowed).unwrap();
    assert_eq!(
        partition(&image, "t", 0).isr,
        brokers(&[1, 2]),
        "a fenced replica starts out of sync"
    );
}

#[test]
fn lapsed_session_fences_the_broker_and_moves_its_leadership() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&create(1, "t", &[&[1, 2, 3]])).unwrap();
    image.apply(&heartbeat(2, 100)).unwrap();
    image.apply(&heartbeat(3, 100)).unwrap();
    assert!(expired_sessions(&image, Millis(100), 100).is_empty());
    let fences = expired_sessions(&image, Millis(150), 100);
    assert_eq!(
        fences,
        vec![MetadataRecord::FenceBroker {
            broker: BrokerId(1),
            incarnation: incarnation(1, 0)
        }]
    );
    image.apply(&fences[0]).unwrap();
    let after = partition(&image, "t", 0);
    assert_eq!(after.leader, Some(BrokerId(2)));
    assert_eq!(after.isr, brokers(&[2, 3]));
    assert_eq!(after.leader_epoch, LeaderEpoch(1));
    // A heartbeat from the same incarnation unfences it; it rejoins the isr
    // only when the leader says it caught up.
    image.apply(&heartbeat(1, 160)).unwrap();
    assert!(!image.broker(BrokerId(1)).unwrap().fenced);
    assert_eq!(partition(&image, "t", 0).isr, brokers(&[2, 3]));
}

#[test]
fn last_in_sync_replica_stays_recorded_when_fenced_and_leads_again_on_return() {
    let mut image = cluster(&[0, 1]);
    image.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    let isr_change = MetadataRecord::IsrChange {
        name: name("t"),
        partition: 0,
        isr: brokers(&[1]),
    };
    image.apply(&isr_change).unwrap();
    image
        .apply(&MetadataRecord::FenceBroker {
            broker: BrokerId(1),
            incarnation: incarnation(1, 0),
        })
        .unwrap();
    let offline = partition(&image, "t", 0);
    assert_eq!((offline.leader, offline.isr.clone()), (None, brokers(&[1])));
    image.apply(&heartbeat(1, 10)).unwrap();
    assert_eq!(partition(&image, "t", 0).leader, Some(BrokerId(1)));
}

#[test]
fn new_incarnation_replaces_the_old_and_stale_heartbeats_are_refused() {
    let mut image = cluster(&[0, 1]);
    image.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    let restarted = MetadataRecord::RegisterBroker {
        broker: BrokerId(1),
        incarnation: incarnation(1, 1),
        rack: Some("rack-0".into()),
        listeners: Vec::new(),
        at: Millis(50),
    };
    image.apply(&restarted).unwrap();
    assert!(image.broker(BrokerId(1)).unwrap().fenced);
    assert_eq!(partition(&image, "t", 0).leader, Some(BrokerId(2)));
    assert!(matches!(
        image.apply(&heartbeat(1, 60)),
        Err(Error::StaleIncarnation { .. })
    ));
    let fresh = MetadataRecord::BrokerHeartbeat {
        broker: BrokerId(1),
        incarnation: incarnation(1, 1),
        at: Millis(60),
    };
    image.apply(&fresh).unwrap();
    assert!(!image.broker(BrokerId(1)).unwrap().fenced);
}

#[test]
fn leadership_goes_only_to_in_sync_brokers_not_in_maintenance() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&create(1, "t", &[&[1, 2, 3]])).unwrap();
    image
        .apply(&MetadataRecord::SetMaintenance {
            broker: BrokerId(2),
            on: true,
        })
        .unwrap();
    let to = |leader| MetadataRecord::PartitionLeaderChange {
        name: name("t"),
        partition: 0,
        leader: Some(BrokerId(leader)),
    };
    assert!(matches!(
        image.validate(&to(2)),
        Err(Error::InvalidLeader(_))
    ));
    image.apply(&to(3)).unwrap();
    assert_eq!(partition(&image, "t", 0).leader, Some(BrokerId(3)));
    let shrink = MetadataRecord::IsrChange {
        name: name("t"),
        partition: 0,
        isr: brokers(&[1, 2]),
    };
    assert!(
        matches!(image.validate(&shrink), Err(Error::InvalidIsr(_))),
        "the isr keeps the leader"
    );
}

#[test]
fn reassignment_completes_only_once_the_new_replicas_are_in_sync() {
    let mut image = cluster(&[0, 1, 2, 0]);
    image.apply(&create(1, "t", &[&[1, 2, 3]])).unwrap();
    let reassign = MetadataRecord::ReassignReplicas {
        name: name("t"),
        partition: 0,
        target: brokers(&[4, 2, 3]),
    };
    image.apply(&reassign).unwrap();
    let moving = partition(&image, "t", 0);
    assert_eq!(moving.replicas, brokers(&[4, 2, 3, 1]));
    assert_eq!(moving.removing, brokers(&[1]));
    let caught_up = MetadataRecord::IsrChange {
        name: name("t"),
        partition: 0,
        isr: brokers(&[1, 2, 3, 4]),
    };
    image.apply(&caught_up).unwrap();
    let done = partition(&image, "t", 0);
    assert_eq!(
        (done.replicas.clone(), done.isr.clone()),
        (brokers(&[4, 2, 3]), brokers(&[2, 3, 4]))
    );
    assert_eq!(
        done.leader,
        Some(BrokerId(4)),
        "the removed leader hands over to the first in-sync target"
    );
}

#[test]
fn decommissioned_broker_is_removed_only_once_it_hosts_nothing() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    let end = MetadataRecord::EndDecommission {
        broker: BrokerId(1),
    };
    assert!(matches!(
        image.validate(&end),
        Err(Error::Decommission { .. })
    ));
    image
        .apply(&MetadataRecord::BeginDecommission {
            broker: BrokerId(1),
        })
        .unwrap();
    assert!(
        image.validate(&create(2, "u", &[&[1]])).is_err(),
        "no new replicas on a draining broker"
    );
    assert!(
        image
            .validate(&end)
            .unwrap_err()
            .to_string()
            .contains("still hosts 1 replicas")
    );
    image
        .apply(&MetadataRecord::DeleteTopic { name: name("t") })
        .unwrap();
    image.apply(&end).unwrap();
    assert!(image.broker(BrokerId(1)).is_none());
}

#[test]
fn topic_configs_and_partitions_change_through_records() {
    let mut image = cluster(&[0, 1]);
    image.apply(&create(1, "t", &[&[1, 2]])).unwrap();
    let set = |value: Option<&str>| MetadataRecord::SetTopicConfig {
        name: name("t"),
        key: "retention.ms".into(),
        value: value.map(str::to_owned),
    };
    image.apply(&set(Some("1000"))).unwrap();
    assert_eq!(
        image
            .topic(&name("t"))
            .unwrap()
            .configs
            .get("retention.ms")
            .map(String::as_str),
        Some("1000")
    );
    image.apply(&set(None)).unwrap();
    assert!(image.topic(&name("t")).unwrap().configs.is_empty());
    let grow = MetadataRecord::CreatePartitions {
        name: name("t"),
        partitions: vec![brokers(&[2, 1])],
    };
    image.apply(&grow).unwrap();
    assert_eq!(partition(&image, "t", 1).leader, Some(BrokerId(2)));
    assert_eq!(image.applied(), 8);
}

#[test]
fn partition_state_reports_record_the_raft_leader_and_never_go_back_a_term() {
    let mut image = cluster(&[0, 1, 2]);
    image.apply(&create(1, "orders", &[&[1, 2, 3]])).unwrap();
    let report = |term: i32, leader: u32, isr: &[u32]| MetadataRecord::PartitionState {
        name: name("orders"),
        partition: 0,
        term,
        leader: BrokerId(leader),
        isr: brokers(isr),
    };
    image.apply(&report(2, 3, &[3, 1])).unwrap();
    let recorded = partition(&image, "orders", 0);
    assert_eq!(
        (recorded.leader, recorded.raft_term),
        (Some(BrokerId(3)), 2)
    );
    assert_eq!(recorded.isr, brokers(&[3, 1]));
    // An older term, a leader outside the replicas, an ISR without the
    // leader: refused, and nothing changes.
    for stale in [report(1, 1, &[1]), report(3, 7, &[7]), report(3, 1, &[2])] {
        assert!(image.apply(&stale).is_err(), "{stale:?}");
    }
    assert_eq!(partition(&image, "orders", 0), recorded);
    // A fenced broker leads nothing and is dropped from a reported ISR.
    let fence = MetadataRecord::FenceBroker {
        broker: BrokerId(2),
        incarnation: incarnation(2, 0),
    };
    image.apply(&fence).unwrap();
    assert!(image.apply(&report(3, 2, &[2, 3])).is_err());
    image.apply(&report(3, 3, &[3, 2, 1])).unwrap();
    assert_eq!(partition(&image, "orders", 0).isr, brokers(&[3, 1]));
}
