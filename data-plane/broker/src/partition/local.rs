//! A partition with a single replica: this broker's log is the whole truth,
//! so the high watermark is the log end offset.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fjord_storage::{
    AppendInfo, ByteSize, DurableOffset, Error as StorageError, LeaderEpoch, Log, LogConfig,
    Offset, Timestamp,
};
use tokio::sync::Notify;

use super::{PartitionOffsets, PartitionReplica, ReplicaError};
use crate::disk::DataDisk;
use crate::topic_config::PartitionSettings;

/// The only leader epoch a single-replica partition ever has.
const EPOCH: LeaderEpoch = LeaderEpoch(0);

/// A single-replica partition on the storage core.
#[derive(Debug)]
pub struct LocalReplica {
    disk: Arc<DataDisk>,
    log: Mutex<Log>,
    durability: DurableOffset,
    appended: Notify,
    /// The topic's `max.message.bytes`.
    message_bytes_max: AtomicUsize,
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
        Ok(Self {
            disk: Arc::clone(disk),
            durability: log.durability(),
            log: Mutex::new(log),
            appended: Notify::new(),
            message_bytes_max: AtomicUsize::new(settings.message_bytes_max),
        })
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

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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
    fn append(&self, batches: &mut [u8]) -> Result<AppendInfo, ReplicaError> {
        self.online()?;
        let limit = self.message_bytes_max.load(Ordering::Relaxed);
        if batches.len() > limit {
            return Err(ReplicaError::MessageTooLarge {
                bytes: batches.len(),
                limit,
            });
        }
        let info = {
            let mut log = self.log();
            let info = log
                .append(batches, EPOCH)
                .map_err(|error| self.fail_disk(storage_error(error)))?;
            log.set_high_watermark(info.log_end_offset);
            info
        };
        self.appended.notify_waiters();
        Ok(info)
    }

    fn read(
        &self,
        start: Offset,
        max_bytes: u64,
        out: &mut Vec<u8>,
    ) -> Result<Offset, ReplicaError> {
        self.online()?;
        let log = self.log();
        let upper = log.high_watermark();
        log.read_into(start, ByteSize(max_bytes), upper, out)
            .map_err(storage_error)
    }

    fn offsets(&self) -> PartitionOffsets {
        let log = self.log();
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
        let log = self.log();
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
        let log = self.log();
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
        let mut log = self.log();
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
        let mut log = self.log();
        log.enforce_retention().map_err(storage_error)?;
        log.checkpoint().map_err(storage_error)
    }

    fn flush(&self) -> Result<(), ReplicaError> {
        self.online()?;
        let mut log = self.log();
        log.flush().map_err(storage_error)?;
        log.checkpoint().map_err(storage_error)
    }
}
