use super::*;

fn batch(producer_id: i64, epoch: i16, base_sequence: i32, records: i32) -> ProducerBatch {
    ProducerBatch {
        producer_id,
        epoch,
        base_sequence,
        last_offset_delta: records - 1,
        max_timestamp: 1_000,
        transactional: false,
    }
}

/// Checks then records like the partition does; returns the check.
fn offer(states: &mut ProducerStates, next_offset: &mut i64, batch: ProducerBatch) -> Check {
    let check = states.check(&batch).unwrap();
    if check == Check::Append {
        states.record(&batch, *next_offset);
        *next_offset += i64::from(batch.last_offset_delta) + 1;
    }
    check
}

#[test]
fn a_retry_of_any_of_the_last_five_batches_is_a_duplicate_with_its_original_offsets() {
    let mut states = ProducerStates::default();
    let mut offset = 100;
    for index in 0..7 {
        assert_eq!(
            offer(&mut states, &mut offset, batch(1, 0, index * 10, 10)),
            Check::Append
        );
    }
    assert_eq!(offset, 170);
    for index in 2..7 {
        let check = states.check(&batch(1, 0, index * 10, 10)).unwrap();
        let base = 100 + i64::from(index) * 10;
        assert_eq!(
            check,
            Check::Duplicate(BatchMetadata {
                first_sequence: index * 10,
                last_sequence: index * 10 + 9,
                base_offset: base,
                last_offset: base + 9,
            })
        );
    }
    // Older than the kept five: no longer recognised, and out of order.
    assert!(matches!(
        states.check(&batch(1, 0, 10, 10)),
        Err(SequenceError::OutOfOrder {
            expected: 70,
            got: 10,
            ..
        })
    ));
}

#[test]
fn a_sequence_gap_is_out_of_order_and_changes_nothing() {
    let mut states = ProducerStates::default();
    let mut offset = 0;
    offer(&mut states, &mut offset, batch(1, 0, 0, 5));
    let before = states.clone();
    assert_eq!(
        states.check(&batch(1, 0, 6, 1)),
        Err(SequenceError::OutOfOrder {
            producer_id: 1,
            expected: 5,
            got: 6
        })
    );
    assert_eq!(states, before);
    assert_eq!(
        offer(&mut states, &mut offset, batch(1, 0, 5, 1)),
        Check::Append
    );
}

#[test]
fn a_partial_overlap_with_a_kept_batch_is_not_a_duplicate() {
    let mut states = ProducerStates::default();
    let mut offset = 0;
    offer(&mut states, &mut offset, batch(1, 0, 0, 5));
    assert!(matches!(
        states.check(&batch(1, 0, 0, 3)),
        Err(SequenceError::OutOfOrder { .. })
    ));
}

#[test]
fn a_stale_epoch_is_fenced_and_a_bumped_epoch_restarts_at_zero() {
    let mut states = ProducerStates::default();
    let mut offset = 0;
    offer(&mut states, &mut offset, batch(1, 3, 0, 5));
    assert_eq!(
        states.check(&batch(1, 2, 5, 1)),
        Err(SequenceError::StaleEpoch {
            producer_id: 1,
            current: 3,
            got: 2
        })
    );
    assert!(matches!(
        states.check(&batch(1, 4, 5, 1)),
        Err(SequenceError::OutOfOrder {
            expected: 0,
            got: 5,
            ..
        })
    ));
    assert_eq!(
        offer(&mut states, &mut offset, batch(1, 4, 0, 2)),
        Check::Append
    );
    let entry = states.get(1).unwrap();
    assert_eq!(entry.epoch, 4);
    assert_eq!(
        entry.batches.len(),
        1,
        "the old epoch's batches are dropped"
    );
    // The old epoch's batch is not a duplicate any more: it is fenced.
    assert!(matches!(
        states.check(&batch(1, 3, 0, 5)),
        Err(SequenceError::StaleEpoch { .. })
    ));
}

#[test]
fn sequences_wrap_from_i32_max_to_zero() {
    assert_eq!(last_sequence(i32::MAX - 1, 0), i32::MAX - 1);
    assert_eq!(last_sequence(i32::MAX - 1, 1), i32::MAX);
    assert_eq!(last_sequence(i32::MAX - 1, 2), 0);
    assert_eq!(last_sequence(i32::MAX, 4), 3);
    let mut states = ProducerStates::default();
    let mut offset = 0;
    // Unknown producers may start anywhere (expired state, as Kafka).
    offer(&mut states, &mut offset, batch(9, 0, i32::MAX - 2, 5));
    // MAX-2, MAX-1, MAX, 0, 1.
    assert_eq!(states.get(9).unwrap().batches[0].last_sequence, 1);
    assert_eq!(
        offer(&mut states, &mut offset, batch(9, 0, 2, 1)),
        Check::Append
    );
    assert_eq!(
        offer(&mut states, &mut offset, batch(9, 0, 3, i32::MAX - 2)),
        Check::Append
    );
    assert_eq!(states.get(9).unwrap().batches[2].last_sequence, i32::MAX);
    assert_eq!(
        offer(&mut states, &mut offset, batch(9, 0, 0, 1)),
        Check::Append
    );
    assert!(matches!(
        states.check(&batch(9, 0, 0, 5)),
        Err(SequenceError::OutOfOrder { expected: 1, .. })
    ));
}

#[test]
fn producers_are_independent_and_unknown_ones_start_at_any_sequence() {
    let mut states = ProducerStates::default();
    let mut offset = 0;
    assert_eq!(
        offer(&mut states, &mut offset, batch(1, 0, 0, 1)),
        Check::Append
    );
    assert_eq!(
        offer(&mut states, &mut offset, batch(2, 0, 42, 1)),
        Check::Append
    );
    assert_eq!(
        offer(&mut states, &mut offset, batch(1, 0, 1, 1)),
        Check::Append
    );
    assert_eq!(states.len(), 2);
}

#[test]
fn transactional_and_malformed_batches_are_refused() {
    let states = ProducerStates::default();
    let mut transactional = batch(1, 0, 0, 1);
    transactional.transactional = true;
    assert!(matches!(
        states.check(&transactional),
        Err(SequenceError::Invalid { .. })
    ));
    assert!(matches!(
        states.check(&batch(1, 0, -1, 1)),
        Err(SequenceError::Invalid { .. })
    ));
    assert!(matches!(
        states.check(&batch(1, -1, 0, 1)),
        Err(SequenceError::Invalid { .. })
    ));
}

#[test]
fn expiry_forgets_silent_producers_only() {
    let mut states = ProducerStates::default();
    let mut old = batch(1, 0, 0, 1);
    old.max_timestamp = 10;
    let mut recent = batch(2, 0, 0, 1);
    recent.max_timestamp = 5_000;
    states.record(&old, 0);
    states.record(&recent, 1);
    assert_eq!(states.expire(1_000), 1);
    assert!(states.get(1).is_none() && states.get(2).is_some());
}

#[test]
fn header_fields_are_read_from_a_record_batch() {
    let mut bytes = fjord_storage::batch::build_batch(3, fjord_storage::Timestamp(77), 16, 0);
    assert_eq!(ProducerBatch::from_header(&bytes), None, "no producer id");
    bytes[43..51].copy_from_slice(&5i64.to_be_bytes());
    bytes[51..53].copy_from_slice(&2i16.to_be_bytes());
    bytes[53..57].copy_from_slice(&40i32.to_be_bytes());
    let producer = ProducerBatch::from_header(&bytes).unwrap();
    assert_eq!(
        producer,
        ProducerBatch {
            producer_id: 5,
            epoch: 2,
            base_sequence: 40,
            last_offset_delta: 2,
            max_timestamp: 77,
            transactional: false
        }
    );
    assert_eq!(producer.last_sequence(), 42);
    bytes[21..23].copy_from_slice(&0x10i16.to_be_bytes());
    assert!(ProducerBatch::from_header(&bytes).unwrap().transactional);
    assert_eq!(ProducerBatch::from_header(&bytes[..40]), None);
}

/// A seeded xorshift generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// A client that sends new batches, retries old ones, skips sequences and
/// bumps its epoch at random, checked against what a log must hold: per
/// epoch, each sequence appended exactly once and contiguously; a retry of
/// one of the last five appended batches answered with its original
/// offsets; nothing else appended.
#[test]
fn random_retries_gaps_and_epoch_bumps_match_the_model() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut states = ProducerStates::default();
        let mut next_offset = 0i64;
        let mut epoch = 0i16;
        // Batches of this epoch that reached the log: (first seq, records, base offset).
        let mut appended: Vec<(i32, i32, i64)> = Vec::new();
        let mut next_sequence = 0i32;
        for _ in 0..2_000 {
            let choice = rng.below(100);
            let records = 1 + rng.below(4) as i32;
            if choice < 55 || appended.is_empty() {
                let sent = batch(1, epoch, next_sequence, records);
                assert_eq!(states.check(&sent), Ok(Check::Append), "seed {seed}");
                states.record(&sent, next_offset);
                appended.push((next_sequence, records, next_offset));
                next_offset += i64::from(records);
                next_sequence += records;
            } else if choice < 85 {
                let back = 1 + rng.below(8) as usize;
                let index = appended.len().saturating_sub(back);
                let (first, count, base) = appended[index];
                let answer = states.check(&batch(1, epoch, first, count));
                if appended.len() - index <= BATCHES_KEPT {
                    let Ok(Check::Duplicate(original)) = answer else {
                        panic!("seed {seed}: recent retry answered {answer:?}");
                    };
                    assert_eq!(original.base_offset, base, "seed {seed}");
                } else {
                    assert!(
                        answer.is_err(),
                        "seed {seed}: old retry answered {answer:?}"
                    );
                }
            } else if choice < 95 {
                let gap = 1 + rng.below(5) as i32;
                let answer = states.check(&batch(1, epoch, next_sequence + gap, records));
                assert!(
                    matches!(answer, Err(SequenceError::OutOfOrder { .. })),
                    "seed {seed}: gap answered {answer:?}"
                );
                if epoch > 0 {
                    let stale = states.check(&batch(1, epoch - 1, next_sequence, records));
                    assert!(matches!(stale, Err(SequenceError::StaleEpoch { .. })));
                }
            } else {
                epoch += 1;
                appended.clear();
                next_sequence = 0;
            }
        }
    }
}
