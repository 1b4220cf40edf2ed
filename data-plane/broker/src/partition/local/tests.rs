use std::sync::Arc;

use fjord_storage::batch::build_batch;

use super::*;
use crate::producer::snapshot;

fn idempotent_batch(producer_id: i64, epoch: i16, base_sequence: i32, records: i32) -> Vec<u8> {
    let mut bytes = build_batch(records, Timestamp(now_ms()), 32, 7);
    bytes[43..51].copy_from_slice(&producer_id.to_be_bytes());
    bytes[51..53].copy_from_slice(&epoch.to_be_bytes());
    bytes[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn append(replica: &LocalReplica, batch: &[u8]) -> Result<AppendOutcome, ReplicaError> {
    replica.append(&mut batch.to_vec())
}

#[test]
fn a_duplicate_is_acknowledged_with_its_offset_and_not_appended_again() {
    let directory = tempfile::tempdir().unwrap();
    let replica = LocalReplica::open(&DataDisk::new(), directory.path()).unwrap();
    append(&replica, &build_batch(2, Timestamp(1), 8, 1)).unwrap();
    let first = append(&replica, &idempotent_batch(7, 0, 0, 3)).unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.info.first_offset, Offset(2));
    append(&replica, &idempotent_batch(7, 0, 3, 1)).unwrap();
    let retry = append(&replica, &idempotent_batch(7, 0, 0, 3)).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.info.first_offset, Offset(2));
    assert_eq!(retry.info.last_offset, Offset(4));
    assert_eq!(
        replica.offsets().log_end,
        Offset(6),
        "nothing appended twice"
    );
    let gap = append(&replica, &idempotent_batch(7, 0, 9, 1)).unwrap_err();
    assert_eq!(
        gap.kafka_error(),
        kafka_protocol::ResponseError::OutOfOrderSequenceNumber
    );
    let stale = append(&replica, &idempotent_batch(7, -1, 0, 1));
    assert!(stale.is_err());
    assert_eq!(replica.offsets().log_end, Offset(6));
}

#[test]
fn two_batches_of_one_idempotent_producer_in_one_request_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let replica = LocalReplica::open(&DataDisk::new(), directory.path()).unwrap();
    let mut both = idempotent_batch(1, 0, 0, 1);
    both.extend(idempotent_batch(1, 0, 1, 1));
    let refused = append(&replica, &both).unwrap_err();
    assert_eq!(
        refused.kafka_error(),
        kafka_protocol::ResponseError::InvalidRecord
    );
    assert_eq!(replica.offsets().log_end, Offset(0));
}

#[test]
fn producer_state_is_rebuilt_after_restart_from_the_log_alone() {
    let directory = tempfile::tempdir().unwrap();
    let disk = DataDisk::new();
    {
        let replica = LocalReplica::open(&disk, directory.path()).unwrap();
        for sequence in 0..8 {
            append(&replica, &idempotent_batch(3, 1, sequence * 2, 2)).unwrap();
        }
        // No checkpoint, no snapshot: a crash before the first one.
    }
    assert!(!directory.path().join(snapshot::FILE).exists());
    let replica = LocalReplica::open(&disk, directory.path()).unwrap();
    let retry = append(&replica, &idempotent_batch(3, 1, 14, 2)).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.info.first_offset, Offset(14));
    let gap = append(&replica, &idempotent_batch(3, 1, 17, 1)).unwrap_err();
    assert!(matches!(gap, ReplicaError::Sequence(_)), "{gap}");
    assert!(
        !append(&replica, &idempotent_batch(3, 1, 16, 1))
            .unwrap()
            .duplicate
    );
}

#[test]
fn restart_uses_the_snapshot_and_replays_only_the_tail() {
    let directory = tempfile::tempdir().unwrap();
    let disk = DataDisk::new();
    {
        let replica = LocalReplica::open(&disk, directory.path()).unwrap();
        append(&replica, &idempotent_batch(1, 0, 0, 1)).unwrap();
        replica.flush().unwrap();
        append(&replica, &idempotent_batch(2, 0, 0, 1)).unwrap();
    }
    let (covered, states) = snapshot::read(directory.path()).unwrap();
    assert_eq!(covered, 1);
    assert_eq!(states.len(), 1);
    let replica = LocalReplica::open(&disk, directory.path()).unwrap();
    assert!(
        append(&replica, &idempotent_batch(1, 0, 0, 1))
            .unwrap()
            .duplicate
    );
    assert!(
        append(&replica, &idempotent_batch(2, 0, 0, 1))
            .unwrap()
            .duplicate
    );
}

#[test]
fn a_snapshot_ahead_of_the_log_or_corrupt_is_ignored() {
    let directory = tempfile::tempdir().unwrap();
    let disk = DataDisk::new();
    {
        let replica = LocalReplica::open(&disk, directory.path()).unwrap();
        append(&replica, &idempotent_batch(1, 0, 0, 1)).unwrap();
    }
    // A snapshot claiming state at offset 50 for a producer the log never saw.
    let mut phantom = ProducerStates::default();
    let batch = ProducerBatch::from_header(&idempotent_batch(9, 0, 0, 1)).unwrap();
    phantom.record(&batch, 40);
    snapshot::write(directory.path(), 50, &phantom).unwrap();
    let replica = LocalReplica::open(&disk, directory.path()).unwrap();
    assert!(
        append(&replica, &idempotent_batch(1, 0, 0, 1))
            .unwrap()
            .duplicate
    );
    assert!(
        !append(&replica, &idempotent_batch(9, 0, 0, 1))
            .unwrap()
            .duplicate
    );
    drop(replica);
    std::fs::write(directory.path().join(snapshot::FILE), b"{garbage").unwrap();
    let replica = LocalReplica::open(&disk, directory.path()).unwrap();
    assert!(
        append(&replica, &idempotent_batch(9, 0, 0, 1))
            .unwrap()
            .duplicate
    );
}

#[test]
fn racing_retries_of_one_batch_append_it_once() {
    let directory = tempfile::tempdir().unwrap();
    let replica = Arc::new(LocalReplica::open(&DataDisk::new(), directory.path()).unwrap());
    let batches: Vec<Vec<u8>> = (0..50)
        .map(|sequence| idempotent_batch(4, 0, sequence, 1))
        .collect();
    let batches = Arc::new(batches);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let replica = Arc::clone(&replica);
            let batches = Arc::clone(&batches);
            std::thread::spawn(move || {
                let mut appended = 0;
                for batch in batches.iter() {
                    // Every sender offers the sequences in order, so the one
                    // before is always in the log: a refusal can only mean a
                    // batch older than the five kept, already appended.
                    match append(&replica, batch) {
                        Ok(outcome) => appended += usize::from(!outcome.duplicate),
                        Err(ReplicaError::Sequence(SequenceError::OutOfOrder {
                            expected,
                            got,
                            ..
                        })) => {
                            assert!(got < expected, "a gap: {got} before {expected}");
                        }
                        Err(error) => panic!("{error}"),
                    }
                }
                appended
            })
        })
        .collect();
    let appended: usize = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .sum();
    assert_eq!(appended, 50);
    assert_eq!(replica.offsets().log_end, Offset(50));
}
