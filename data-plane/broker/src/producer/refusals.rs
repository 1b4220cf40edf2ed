//! Which producer batches a replica just refused retriably, so that the
//! batch after one is not answered OUT_OF_ORDER_SEQUENCE_NUMBER.
//!
//! librdkafka pipelines up to five batches per partition. When a replica
//! refuses batch n with a retriable error before appending it
//! (NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR) and then receives n+1,
//! whose sequence is ahead of the expected one, the honest sequence check
//! says OUT_OF_ORDER_SEQUENCE_NUMBER. Several pipelined batches may be
//! refused one after another (n, then n+1), so every refusal since the
//! producer last had a batch accepted counts, not only the latest. librdkafka takes a forward gap after
//! a not-persisted refusal as "skipped sequence numbers" and bumps its
//! epoch for every partition at once, resending each partition's
//! unacknowledged batches under new sequence numbers, so a batch that was
//! written but not yet acknowledged on another partition is written twice
//! (docs/replication.md, "Chaos testing"). Answering n+1 with the same
//! retriable refusal instead makes the client resend n, then n+1, in order.
//!
//! Sans-IO and kept across leader terms (unlike the producer state, which
//! is rebuilt from the log at each term): a refusal in one term is what the
//! client resends in the next.

use std::collections::HashMap;

use super::ProducerBatch;

/// Producers remembered before the memory is cleared; forgetting only
/// costs a client an epoch bump.
pub const REFUSALS_KEPT: usize = 100_000;

/// Refused batches remembered per producer: librdkafka has at most five in
/// flight per partition, and every one of them may be refused in turn.
pub const REFUSED_PER_PRODUCER: usize = 8;

/// Producer id -> (epoch, first sequence) of its batches refused
/// retriably before they were appended, since it last had one accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    refused: HashMap<i64, Vec<(i16, i32)>>,
}

impl Refusals {
    /// `batch` was refused with a retriable error and not appended: the
    /// client will send it again.
    pub fn refused(&mut self, batch: &ProducerBatch) {
        if self.refused.len() >= REFUSALS_KEPT && !self.refused.contains_key(&batch.producer_id) {
            self.refused.clear();
        }
        let refused = self.refused.entry(batch.producer_id).or_default();
        let entry = (batch.epoch, batch.base_sequence);
        if !refused.contains(&entry) {
            if refused.len() >= REFUSED_PER_PRODUCER {
                refused.remove(0);
            }
            refused.push(entry);
        }
    }

    /// `batch` was appended or recognised as a duplicate: the producer's
    /// sequence moved on.
    pub fn accepted(&mut self, batch: &ProducerBatch) {
        self.refused.remove(&batch.producer_id);
    }

    /// Whether `batch`, whose sequence `got` is ahead of the `expected` one,
    /// starts right after a gap made by this replica's own refusal of the
    /// batch at `expected`: then it gets that refusal again, not
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    pub fn gap_is_ours(&self, batch: &ProducerBatch, expected: i32, got: i32) -> bool {
        got > expected
            && self
                .refused
                .get(&batch.producer_id)
                .is_some_and(|refused| refused.contains(&(batch.epoch, expected)))
    }

    /// Producers with refusals remembered.
    pub fn len(&self) -> usize {
        self.refused.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refused.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, epoch: i16, base_sequence: i32) -> ProducerBatch {
        ProducerBatch {
            producer_id,
            epoch,
            base_sequence,
            last_offset_delta: 9,
            max_timestamp: 0,
            transactional: false,
        }
    }

    #[test]
    fn only_the_batch_after_our_own_refusal_is_refused_again() {
        let mut refusals = Refusals::default();
        // Batch at 40 refused (not appended); the one at 50 arrives next.
        refusals.refused(&batch(7, 0, 40));
        assert!(refusals.gap_is_ours(&batch(7, 0, 50), 40, 50));
        assert!(refusals.gap_is_ours(&batch(7, 0, 60), 40, 60));
        // Another producer, another epoch, another expected sequence, or no
        // gap at all: an honest sequence error stays one.
        assert!(!refusals.gap_is_ours(&batch(8, 0, 50), 40, 50));
        assert!(!refusals.gap_is_ours(&batch(7, 1, 50), 40, 50));
        assert!(!refusals.gap_is_ours(&batch(7, 0, 50), 30, 50));
        assert!(!refusals.gap_is_ours(&batch(7, 0, 30), 40, 30));
        // Once the refused batch (or any later one) is accepted, a gap is
        // the client's again.
        refusals.accepted(&batch(7, 0, 40));
        assert!(!refusals.gap_is_ours(&batch(7, 0, 50), 40, 50));
        assert!(refusals.is_empty());
    }

    #[test]
    fn every_refusal_since_the_last_acceptance_counts_and_memory_is_bounded() {
        // Seen with librdkafka: batches at 40 and 50 both refused, then the
        // one at 60 arrives while 40 is still expected.
        let mut refusals = Refusals::default();
        refusals.refused(&batch(7, 0, 40));
        refusals.refused(&batch(7, 0, 50));
        refusals.refused(&batch(7, 0, 50));
        assert!(refusals.gap_is_ours(&batch(7, 0, 60), 40, 60));
        assert!(refusals.gap_is_ours(&batch(7, 0, 60), 50, 60));
        assert_eq!(refusals.len(), 1);
        for sequence in 0..20 {
            refusals.refused(&batch(7, 0, 100 + sequence * 10));
        }
        assert!(
            !refusals.gap_is_ours(&batch(7, 0, 400), 40, 400),
            "oldest dropped"
        );
        assert!(refusals.gap_is_ours(&batch(7, 0, 400), 290, 400));
        for producer in 0..i64::try_from(REFUSALS_KEPT).unwrap_or(i64::MAX) + 5 {
            refusals.refused(&batch(producer + 100, 0, 0));
            assert!(refusals.len() <= REFUSALS_KEPT);
        }
        assert!(refusals.len() < REFUSALS_KEPT);
    }
}
