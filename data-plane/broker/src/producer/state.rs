//! Per-partition producer state: producer id -> epoch and the metadata of
//! its last [`BATCHES_KEPT`] batches, as Kafka keeps it.
//!
//! Rules (Kafka's `ProducerStateManager` after KIP-360):
//! - a batch without a producer id (-1) is not checked;
//! - an epoch below the producer's current one is fenced
//!   (INVALID_PRODUCER_EPOCH);
//! - with the current epoch, a batch whose first and last sequence equal one
//!   of the kept batches is a duplicate: acknowledged with that batch's
//!   offsets and not appended again; otherwise its first sequence must follow
//!   the last one (wrapping from `i32::MAX` to 0), else
//!   OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a higher epoch (the producer bumped it) must start again at sequence 0;
//! - a producer the partition has no state for (new, or expired) may start at
//!   any sequence: modern Kafka no longer answers UNKNOWN_PRODUCER_ID there.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Batches kept per producer for duplicate detection: the most a client may
/// have in flight with idempotence on (`max.in.flight` <= 5).
pub const BATCHES_KEPT: usize = 5;

/// Attribute bit of a transactional batch.
const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Attribute bit of a control batch (transaction markers).
const CONTROL_FLAG: i16 = 0x20;

/// The producer fields of one RecordBatch v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub last_offset_delta: i32,
    pub max_timestamp: i64,
    pub transactional: bool,
}

impl ProducerBatch {
    /// Reads the producer fields of the batch header at the start of
    /// `header` (at least 61 bytes, already checked by the storage core's
    /// header parser). `None` for a batch without a producer id.
    pub fn from_header(header: &[u8]) -> Option<Self> {
        let field = |at: usize, width: usize| header.get(at..at + width);
        let attributes = i16::from_be_bytes(field(21, 2)?.try_into().ok()?);
        let producer_id = i64::from_be_bytes(field(43, 8)?.try_into().ok()?);
        if producer_id < 0 {
            return None;
        }
        Some(Self {
            producer_id,
            epoch: i16::from_be_bytes(field(51, 2)?.try_into().ok()?),
            base_sequence: i32::from_be_bytes(field(53, 4)?.try_into().ok()?),
            last_offset_delta: i32::from_be_bytes(field(23, 4)?.try_into().ok()?),
            max_timestamp: i64::from_be_bytes(field(35, 8)?.try_into().ok()?),
            transactional: attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG) != 0,
        })
    }

    pub fn last_sequence(&self) -> i32 {
        last_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// The sequence of the last record of a batch, wrapping past `i32::MAX` to 0
/// as producers do (Kafka's `DefaultRecordBatch.incrementSequence`).
pub fn last_sequence(base_sequence: i32, last_offset_delta: i32) -> i32 {
    assert!(base_sequence >= 0 && last_offset_delta >= 0);
    if base_sequence > i32::MAX - last_offset_delta {
        last_offset_delta - (i32::MAX - base_sequence) - 1
    } else {
        base_sequence + last_offset_delta
    }
}

fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// Where one appended batch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub base_offset: i64,
    pub last_offset: i64,
}

/// What a partition knows of one producer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// Oldest first; never empty, at most [`BATCHES_KEPT`].
    pub batches: VecDeque<BatchMetadata>,
    /// Max timestamp of the last batch, for expiry.
    pub last_timestamp: i64,
}

impl ProducerEntry {
    fn last(&self) -> &BatchMetadata {
        self.batches
            .back()
            .expect("a producer entry always holds a batch")
    }
}

/// Decision for a batch that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Append it, then [`ProducerStates::record`] it.
    Append,
    /// Already in the log: answer with these offsets, append nothing.
    Duplicate(BatchMetadata),
}

/// Why a producer batch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("producer {producer_id}: sequence {got} where {expected} was expected")]
    OutOfOrder {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    #[error("producer {producer_id}: epoch {got} is older than the current epoch {current}")]
    StaleEpoch {
        producer_id: i64,
        current: i16,
        got: i16,
    },
    #[error("producer {producer_id}: invalid batch: {reason}")]
    Invalid { producer_id: i64, reason: String },
}

/// The producer state of one partition. Sans-IO: the partition feeds it
/// batch headers and offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Decides what to do with `batch`; changes nothing.
    pub fn check(&self, batch: &ProducerBatch) -> Result<Check, SequenceError> {
        let producer_id = batch.producer_id;
        let invalid = |reason: &str| SequenceError::Invalid {
            producer_id,
            reason: reason.to_owned(),
        };
        if batch.transactional {
            return Err(invalid("transactions are not supported"));
        }
        if batch.epoch < 0 || batch.base_sequence < 0 || batch.last_offset_delta < 0 {
            return Err(invalid("negative epoch or sequence"));
        }
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(Check::Append);
        };
        if batch.epoch < entry.epoch {
            return Err(SequenceError::StaleEpoch {
                producer_id,
                current: entry.epoch,
                got: batch.epoch,
            });
        }
        if batch.epoch > entry.epoch {
            if batch.base_sequence != 0 {
                return Err(SequenceError::OutOfOrder {
                    producer_id,
                    expected: 0,
                    got: batch.base_sequence,
                });
            }
            return Ok(Check::Append);
        }
        let last_sequence = batch.last_sequence();
        if let Some(duplicate) = entry.batches.iter().find(|kept| {
            kept.first_sequence == batch.base_sequence && kept.last_sequence == last_sequence
        }) {
            return Ok(Check::Duplicate(*duplicate));
        }
        let last = entry.last().last_sequence;
        if !in_sequence(last, batch.base_sequence) {
            return Err(SequenceError::OutOfOrder {
                producer_id,
                expected: last_sequence_after(last),
                got: batch.base_sequence,
            });
        }
        Ok(Check::Append)
    }

    /// Records `batch`, appended at `base_offset`. Call only after
    /// [`Self::check`] answered [`Check::Append`] and the append succeeded,
    /// or while rebuilding from the log.
    pub fn record(&mut self, batch: &ProducerBatch, base_offset: i64) {
        assert!(base_offset >= 0, "appended batches have offsets");
        let metadata = BatchMetadata {
            first_sequence: batch.base_sequence,
            last_sequence: batch.last_sequence(),
            base_offset,
            last_offset: base_offset + i64::from(batch.last_offset_delta),
        };
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: batch.epoch,
                batches: VecDeque::with_capacity(BATCHES_KEPT),
                last_timestamp: batch.max_timestamp,
            });
        if batch.epoch != entry.epoch {
            entry.epoch = batch.epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == BATCHES_KEPT {
            entry.batches.pop_front();
        }
        entry.batches.push_back(metadata);
        entry.last_timestamp = entry.last_timestamp.max(batch.max_timestamp);
        assert!(!entry.batches.is_empty() && entry.batches.len() <= BATCHES_KEPT);
    }

    /// Forgets producers whose last batch is older than `cutoff_ms`
    /// (Kafka's `producer.id.expiration.ms`). Returns how many went.
    pub fn expire(&mut self, cutoff_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, entry| entry.last_timestamp >= cutoff_ms);
        before - self.producers.len()
    }

    /// Every entry, for a snapshot.
    pub fn entries(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, entry)| (*id, entry))
    }

    /// Rebuilds from snapshot entries.
    pub fn from_entries(entries: impl IntoIterator<Item = (i64, ProducerEntry)>) -> Self {
        let producers: HashMap<i64, ProducerEntry> = entries
            .into_iter()
            .filter(|(_, entry)| !entry.batches.is_empty() && entry.batches.len() <= BATCHES_KEPT)
            .collect();
        Self { producers }
    }
}

fn last_sequence_after(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}
