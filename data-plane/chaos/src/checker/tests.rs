#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use super::*;

fn id(producer: u32, sequence: u64) -> RecordId {
    RecordId {
        producer,
        incarnation: 0,
        sequence,
    }
}

fn at(partition: i32, offset: i64, id: RecordId) -> Placed {
    Placed {
        partition,
        offset,
        id,
    }
}

/// Two producers, two partitions, everything acknowledged read back in place.
fn clean_log() -> Vec<Placed> {
    vec![
        at(0, 0, id(0, 0)),
        at(0, 1, id(1, 0)),
        at(0, 2, id(0, 2)),
        at(1, 0, id(0, 1)),
        at(1, 1, id(1, 1)),
    ]
}

#[test]
fn a_log_holding_every_acknowledged_record_in_place_is_clean() {
    let log = clean_log();
    let report = check(&log, &log);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.total.acked, 5);
    assert_eq!(report.total.read, 5);
    assert_eq!(report.partitions[&0].read, 3);
}

#[test]
fn an_acknowledged_record_missing_from_its_partition_is_lost() {
    let acked = clean_log();
    let read: Vec<_> = acked.iter().copied().filter(|r| r.offset != 1).collect();
    let report = check(&acked, &read);
    assert_eq!(report.partitions[&0].lost, 1);
    assert_eq!(report.partitions[&1].lost, 1);
    assert_eq!(report.total.lost, 2);
    assert!(!report.is_clean());
    assert!(report.partitions[&0].examples[0].starts_with("lost 1:0:0"));
}

#[test]
fn a_record_read_in_another_partition_than_acknowledged_is_lost() {
    let acked = vec![at(0, 0, id(0, 0))];
    let read = vec![at(1, 0, id(0, 0))];
    let report = check(&acked, &read);
    assert_eq!(report.partitions[&0].lost, 1);
    assert_eq!(report.partitions[&1].unacknowledged, 1);
}

#[test]
fn a_record_read_twice_is_duplicated_once_per_extra_copy() {
    let acked = clean_log();
    let mut read = acked.clone();
    read.push(at(0, 3, id(0, 2)));
    read.push(at(0, 4, id(0, 2)));
    let report = check(&acked, &read);
    assert_eq!(report.partitions[&0].duplicated, 2);
    assert_eq!(
        report.partitions[&0].reordered, 0,
        "a copy is not a reorder"
    );
    assert_eq!(report.total.violations(), 2);
}

#[test]
fn a_lower_sequence_after_a_higher_one_of_the_same_producer_is_reordered() {
    let read = vec![
        at(0, 0, id(0, 0)),
        at(0, 1, id(0, 2)),
        at(0, 2, id(1, 5)),
        at(0, 3, id(0, 1)),
    ];
    let report = check(&read, &read);
    assert_eq!(report.partitions[&0].reordered, 1);
    assert_eq!(report.total.lost, 0);
    assert_eq!(report.total.duplicated, 0);
}

#[test]
fn a_new_incarnation_restarts_the_order() {
    let mut restarted = id(0, 0);
    restarted.incarnation = 1;
    let read = vec![at(0, 0, id(0, 7)), at(0, 1, restarted)];
    assert!(check(&read, &read).is_clean());
}

#[test]
fn sequence_gaps_and_unacknowledged_records_are_allowed() {
    let acked = vec![at(0, 0, id(0, 0)), at(0, 2, id(0, 5))];
    let read = vec![at(0, 0, id(0, 0)), at(0, 1, id(0, 3)), at(0, 2, id(0, 5))];
    let report = check(&acked, &read);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.total.unacknowledged, 1);
}

#[test]
fn a_record_read_at_another_offset_than_acknowledged_is_moved() {
    let acked = vec![at(0, 0, id(0, 0)), at(0, 1, id(0, 1)), at(0, -1, id(0, 2))];
    let read = vec![at(0, 0, id(0, 1)), at(0, 1, id(0, 0)), at(0, 7, id(0, 2))];
    let report = check(&acked, &read);
    assert_eq!(
        report.total.moved, 2,
        "an unknown acked offset (-1) is not checked"
    );
    assert_eq!(report.total.reordered, 1);
}

#[test]
fn lines_round_trip_and_malformed_lines_are_refused() {
    let record = at(
        3,
        42,
        RecordId {
            producer: 2,
            incarnation: 1,
            sequence: 9,
        },
    );
    assert_eq!(record.line(), "3 42 2:1:9");
    assert_eq!(Placed::parse(&record.line()).unwrap(), record);
    for bad in [
        "",
        "3 42",
        "3 x 2:1:9",
        "3 42 2:1",
        "3 42 2:1:9:0",
        "3 42 a:1:9",
    ] {
        assert!(Placed::parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_duplicate_acknowledged_at_its_second_copy_is_not_also_moved() {
    let acked = vec![at(0, 1, id(0, 0))];
    let read = vec![at(0, 0, id(0, 0)), at(0, 1, id(0, 0))];
    let report = check(&acked, &read);
    assert_eq!(report.total.duplicated, 1);
    assert_eq!(report.total.moved, 0);
    assert_eq!(report.total.lost, 0);
}
