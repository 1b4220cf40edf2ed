//! A partition with a single replica: this broker's log is the whole truth,
//! so the high watermark is the log end offset.
//!
//! The log and the partition's producer state sit behind one mutex, so an
//! idempotent producer's sequence check, the append and the state update are
//! one step: two connections racing with the same batch cannot both append.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fjord_storage::batch::{self, HeaderProblem};
use fjord_storage::{
    AppendInfo, ByteSize, DurableOffset, Error as StorageError, LeaderEpoch, Log, LogConfig,
    Offset, Timestamp,
};
use tokio::sync::Notify;

use super::{AppendOutcome, PartitionOffsets, PartitionReplica, ReplicaError};
use crate::disk::DataDisk;
use crate::producer::{Check, ProducerBatch, ProducerStates, SequenceError, snapshot};
use crate::topic_config::PartitionSettings;

/// The only leader epoch a single-replica partition ever has.
const EPOCH: LeaderEpoch = LeaderEpoch(0);
/// Bytes read per step while rebuilding producer state from the log.
const SCAN_CHUNK_BYTES: u64 = 1024 * 1024;
/// Producers silent for longer are forgotten (Kafka's
/// `producer.id.expiration.ms` default, one day).
const PRODUCER_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

/// A single-replica partition on the storage core.
#[derive(Debug)]
pub struct LocalReplica {
    disk: Arc<DataDisk>,
    directory: PathBuf,
    state: Mutex<State>,
    durability: DurableOffset,
    appended: Notify,
    /// The topic's `max.message.bytes`.
    message_bytes_max: AtomicUsize,
}

/// Everything an append reads and changes, under one lock.
#[derive(Debug)]
struct State {
    log: Log,
    producers: ProducerStates,
    /// The log end the last producer snapshot written covers.
    snapshot_end: Option<Offset>,
}

impl LocalReplica {
    /// Opens (or creates) the partition's log in `directory` with the
    /// storage defaults and no message size limit (internal logs).
    pub fn open(disk: &Arc<DataDisk>, directory: &Path) -> Result<Self, ReplicaError> {
        let settings = PartitionSettings {
            log: LogConfig {
                // See `topic_config::partition_settings`.
                preallocate: fjord_storage::Preallocate::None,
                ..LogConfig::default()
            },
            message_bytes_max: usize::MAX,
        };
        Self::open_with(disk, directory, &settings)
    }

    /// Opens (or creates) the partition's log in `directory` with a topic's
    /// settings.
    pub fn open_with(
        disk: &Arc<DataDisk>,
        directory: &Path,
        settings: &PartitionSettings,
    ) -> Result<Self, ReplicaError> {
        std::fs::create_dir_all(directory)
            .map_err(|error| ReplicaError::Storage(format!("{}: {error}", directory.display())))?;
        let mut log =
            Log::open(disk.disk(), directory, settings.log.clone()).map_err(storage_error)?;
        let end = log.log_end_offset();
        log.set_high_watermark(end);
        let producers = rebuild_producers(&log, directory)?;
        Ok(Self {
            disk: Arc::clone(disk),
            directory: directory.to_owned(),
            durability: log.durability(),
            state: Mutex::new(State {
                log,
                producers,
                snapshot_end: None,
            }),
            appended: Notify::new(),
            message_bytes_max: AtomicUsize::new(settings.message_bytes_max),
        })
    }

    /// Writes the log checkpoint, then the producer snapshot as of the log end.
    fn checkpoint(&self, state: &mut State) -> Result<(), ReplicaError> {
        state.log.checkpoint().map_err(storage_error)?;
        let end = state.log.log_end_offset();
        if state.snapshot_end == Some(end) {
            // Nothing appended since the last snapshot: it is still exact.
            return Ok(());
        }
        snapshot::write(&self.directory, end.0, &state.producers).map_err(|error| {
            ReplicaError::Storage(format!(
                "producer snapshot in {}: {error}",
                self.directory.display()
            ))
        })?;
        state.snapshot_end = Some(end);
        Ok(())
    }

    fn online(&self) -> Result<(), ReplicaError> {
        self.disk.health().map_err(ReplicaError::DiskOffline)
    }

    /// A write or sync error leaves the log in an unknown state on disk:
    /// take the whole disk offline rather than keep writing to it.
    fn fail_disk(&self, error: ReplicaError) -> ReplicaError {
        if let ReplicaError::Storage(reason) = &error {
            self.disk.take_offline(format!("append failed: {reason}"));
        }
        error
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The producer fields of the batches in `batches`: `None` when no batch
/// carries a producer id. An idempotent produce must send one batch per
/// partition (as Kafka requires from Produce v3). Headers the storage core
/// would refuse are left for its append to report.
pub(crate) fn producer_batch(batches: &[u8]) -> Result<Option<ProducerBatch>, ReplicaError> {
    let mut found = None;
    let mut count = 0usize;
    let mut position = 0usize;
    // Bounded: every step moves past at least one whole header.
    while position < batches.len() {
        let Ok(header) = batch::parse_header(&batches[position..]) else {
            return Ok(None);
        };
        if let Some(producer) = ProducerBatch::from_header(&batches[position..]) {
            found = Some(producer);
        }
        count += 1;
        position += header.size as usize;
    }
    match found {
        Some(producer) if count > 1 => Err(SequenceError::Invalid {
            producer_id: producer.producer_id,
            reason: format!("{count} batches in one partition's records, one expected"),
        }
        .into()),
        found => Ok(found),
    }
}

/// Loads the producer snapshot and replays the batch headers after it (or
/// the whole log without a usable snapshot).
fn rebuild_producers(log: &Log, directory: &Path) -> Result<ProducerStates, ReplicaError> {
    let end = log.log_end_offset();
    let log_start = log.log_start_offset();
    let (mut next, mut producers) = match snapshot::read(directory) {
        Some((offset, producers)) if offset <= end.0 => (Offset(offset).max(log_start), producers),
        Some((offset, _)) => {
            tracing::warn!(directory = %directory.display(), snapshot = offset, log_end = end.0, "producer snapshot is ahead of the recovered log, rescanning it");
            (log_start, ProducerStates::default())
        }
        None => (log_start, ProducerStates::default()),
    };
    let from = next;
    let mut buffer = Vec::new();
    // Bounded by the log: every step advances `next`.
    while next < end {
        let reached = log
            .read_into(next, ByteSize(SCAN_CHUNK_BYTES), end, &mut buffer)
            .map_err(storage_error)?;
        assert!(reached > next || buffer.is_empty());
        if reached <= next {
            break;
        }
        replay(&buffer, &mut producers)?;
        next = reached;
    }
    tracing::debug!(directory = %directory.display(), from = from.0, to = end.0, producers = producers.len(), "producer state rebuilt");
    Ok(producers)
}

/// The producer state of a whole log, from its batch headers (a replicated
/// partition rebuilds it this way when its replica becomes leader).
pub(crate) fn replay_log(log: &Log) -> Result<ProducerStates, ReplicaError> {
    let end = log.log_end_offset();
    let mut next = log.log_start_offset();
    let mut producers = ProducerStates::default();
    let mut buffer = Vec::new();
    // Bounded by the log: every step advances `next`.
    while next < end {
        buffer.clear();
        let reached = log
            .read_into(next, ByteSize(SCAN_CHUNK_BYTES), end, &mut buffer)
            .map_err(storage_error)?;
        if reached <= next {
            break;
        }
        replay(&buffer, &mut producers)?;
        next = reached;
    }
    Ok(producers)
}

fn replay(batches: &[u8], producers: &mut ProducerStates) -> Result<(), ReplicaError> {
    let mut position = 0usize;
    // Bounded: every step moves past one whole batch.
    while position < batches.len() {
        let header = match batch::parse_header(&batches[position..]) {
            Ok(header) => header,
            Err(HeaderProblem::End) => break,
            Err(HeaderProblem::Invalid(reason)) => return Err(ReplicaError::CorruptBatch(reason)),
        };
        if let Some(producer) = ProducerBatch::from_header(&batches[position..])
            && !producer.transactional
            && producer.base_sequence >= 0
            && producer.epoch >= 0
        {
            producers.record(&producer, header.base_offset.0);
        }
        position += header.size as usize;
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

fn storage_error(error: StorageError) -> ReplicaError {
    match error {
        StorageError::InvalidBatch(reason) => ReplicaError::CorruptBatch(reason),
        StorageError::OffsetOutOfRange { offset, .. } => {
            ReplicaError::OffsetOutOfRange { offset: offset.0 }
        }
        other => ReplicaError::Storage(other.to_string()),
    }
}

impl PartitionReplica for LocalReplica {
    fn append(&self, batches: &mut [u8]) -> Result<AppendOutcome, ReplicaError> {
        self.online()?;
        let producer = producer_batch(batches)?;
        let limit = self.message_bytes_max.load(Ordering::Relaxed);
        if batches.len() > limit {
            return Err(ReplicaError::MessageTooLarge {
                bytes: batches.len(),
                limit,
            });
        }
        let info = {
            let mut state = self.state();
            if let Some(producer) = &producer
                && let Check::Duplicate(original) = state.producers.check(producer)?
            {
                let info = AppendInfo {
                    first_offset: Offset(original.base_offset),
                    last_offset: Offset(original.last_offset),
                    log_end_offset: Offset(original.last_offset + 1),
                };
                assert!(info.log_end_offset <= state.log.log_end_offset());
                return Ok(AppendOutcome {
                    info,
                    duplicate: true,
                });
            }
            let info = state
                .log
                .append(batches, EPOCH)
                .map_err(|error| self.fail_disk(storage_error(error)))?;
            state.log.set_high_watermark(info.log_end_offset);
            if let Some(producer) = &producer {
                state.producers.record(producer, info.first_offset.0);
            }
            info
        };
        self.appended.notify_waiters();
        Ok(AppendOutcome {
            info,
            duplicate: false,
        })
    }

    fn read(
        &self,
        start: Offset,
        max_bytes: u64,
        out: &mut Vec<u8>,
    ) -> Result<Offset, ReplicaError> {
        self.online()?;
        let state = self.state();
        let log = &state.log;
        let upper = log.high_watermark();
        log.read_into(start, ByteSize(max_bytes), upper, out)
            .map_err(storage_error)
    }

    fn offsets(&self) -> PartitionOffsets {
        let state = self.state();
        let log = &state.log;
        PartitionOffsets {
            log_start: log.log_start_offset(),
            high_watermark: log.high_watermark(),
            log_end: log.log_end_offset(),
        }
    }

    fn wait_durable(&self, offset: Offset, timeout: Duration) -> bool {
        self.durability.wait_for(offset, timeout)
    }

    fn batch_for_time(
        &self,
        target: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<Option<Offset>, ReplicaError> {
        let state = self.state();
        let log = &state.log;
        let Some(offset) = log.offset_for_time(target).map_err(storage_error)? else {
            return Ok(None);
        };
        let upper = log.log_end_offset();
        // One byte asks for exactly the first batch (reads return at least one).
        log.read_into(offset, ByteSize(1), upper, out)
            .map_err(storage_error)?;
        Ok(Some(offset))
    }

    fn leader_epoch(&self) -> LeaderEpoch {
        EPOCH
    }

    fn epoch_end_offset(&self, epoch: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
        let state = self.state();
        let log = &state.log;
        if epoch > EPOCH {
            return None;
        }
        let end = log.epoch_end_offset(epoch).unwrap_or(log.log_end_offset());
        Some((epoch, end))
    }

    fn appended(&self) -> &Notify {
        &self.appended
    }

    fn configure(&self, settings: &PartitionSettings) -> Result<(), ReplicaError> {
        self.online()?;
        let mut state = self.state();
        let log = &mut state.log;
        log.set_config(settings.log.clone())
            .map_err(|error| ReplicaError::InvalidSettings(error.to_string()))?;
        self.message_bytes_max
            .store(settings.message_bytes_max, Ordering::Relaxed);
        let deleted = log.enforce_retention().map_err(storage_error)?;
        tracing::debug!(directory = %log.directory().display(), deleted, "log settings applied");
        Ok(())
    }

    fn maintain(&self) -> Result<(), ReplicaError> {
        self.online()?;
        let mut state = self.state();
        state.log.enforce_retention().map_err(storage_error)?;
        let expired = state.producers.expire(now_ms() - PRODUCER_EXPIRY_MS);
        if expired > 0 {
            tracing::debug!(directory = %self.directory.display(), expired, "producers expired");
        }
        self.checkpoint(&mut state)
    }

    fn flush(&self) -> Result<(), ReplicaError> {
        self.online()?;
        let mut state = self.state();
        state.log.flush().map_err(storage_error)?;
        self.checkpoint(&mut state)
    }
}

#[cfg(test)]
mod tests;
