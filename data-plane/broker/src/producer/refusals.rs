//! Which producer batches a replica just refused retriably, so that the
//! batch after one is not answered OUT_OF_ORDER_SEQUENCE_NUMBER.
//!
//! librdkafka pipelines up to five batches per partition. When a replica
//! refuses batch n with a retriable error before appending it
//! (NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR) and then receives n+1,
//! whose sequence is ahead of the expected one, the honest sequence check
//! says OUT_OF_ORDER_SEQUENCE_NUMBER. librdkafka takes a forward gap after
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

/// Producers remembered before the memory is cleared: one refusal per
/// producer, and forgetting only costs the client an epoch bump.
pub const REFUSALS_KEPT: usize = 100_000;

/// Producer id -> (epoch, first sequence) of its latest batch refused
/// retriably before it was appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    refused: HashMap<i64, (i16, i32)>,
}

impl Refusals {
    /// `batch` was refused with a retriable error and not appended: the
    /// client will send it again.
    pub fn refused(&mut self, batch: &ProducerBatch) {
        if self.refused.len() >= REFUSALS_KEPT && !self.refused.contains_key(&batch.producer_id) {
            self.refused.clear();
        }
        self.refused
            .insert(batch.producer_id, (batch.epoch, batch.base_sequence));
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
        got > expected && self.refused.get(&batch.producer_id) == Some(&(batch.epoch, expected))
    }

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
    fn the_latest_refusal_of_a_producer_counts_and_memory_is_bounded() {
        let mut refusals = Refusals::default();
        refusals.refused(&batch(7, 0, 40));
        refusals.refused(&batch(7, 0, 50));
        assert!(!refusals.gap_is_ours(&batch(7, 0, 50), 40, 50));
        assert!(refusals.gap_is_ours(&batch(7, 0, 60), 50, 60));
        assert_eq!(refusals.len(), 1);
        for producer in 0..i64::try_from(REFUSALS_KEPT).unwrap_or(i64::MAX) + 5 {
            refusals.refused(&batch(producer + 100, 0, 0));
            assert!(refusals.len() <= REFUSALS_KEPT);
        }
        assert!(refusals.len() < REFUSALS_KEPT);
    }
}
