//! The partition log: segments, offsets, appends and reads (DESIGN.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::batch::{self, BatchHeader};
use crate::durability::{Disk, DurableOffset, FlushPolicy, LogSync};
use crate::epochs::EpochHistory;
use crate::error::{Error, Result, io_error};
use crate::journal::AppendRecord;
use crate::medium::Preallocate;
use crate::segment::{ReadWindow, Segment};
use crate::types::{ByteSize, LeaderEpoch, Offset, Timestamp};

/// Largest segment: positions are u32 in the index.
pub const SEGMENT_BYTES_MAX: ByteSize = ByteSize(i32::MAX as u64);

/// Per-log settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Roll to a new segment before one grows past this.
    pub segment_bytes: ByteSize,
    /// Roll a segment this long after it was created (or opened).
    pub segment_age: Option<Duration>,
    /// Bytes of data between sparse index entries.
    pub index_interval_bytes: ByteSize,
    /// Delete the oldest segments while the log is larger than this.
    pub retention_bytes: Option<ByteSize>,
    /// Delete segments whose newest timestamp is older than this.
    pub retention_age: Option<Duration>,
    pub preallocate: Preallocate,
    /// Check CRC and epoch of every batch handed to a reader.
    pub verify_reads: bool,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: ByteSize::gib(1),
            segment_age: Some(Duration::from_secs(7 * 24 * 3600)),
            index_interval_bytes: ByteSize::kib(4),
            retention_bytes: None,
            retention_age: Some(Duration::from_secs(7 * 24 * 3600)),
            preallocate: Preallocate::Fallocate,
            verify_reads: true,
        }
    }
}

impl LogConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |reason: &str| Err(Error::InvalidArgument(reason.to_owned()));
        if self.segment_bytes.0 < batch::HEADER_BYTES as u64
            || self.segment_bytes > SEGMENT_BYTES_MAX
        {
            return invalid("segment_bytes must be between 61 bytes and 2 GiB");
        }
        if self.index_interval_bytes.0 == 0 || self.index_interval_bytes.0 > u64::from(u32::MAX) {
            return invalid("index_interval_bytes must be between 1 and 4 GiB");
        }
        Ok(())
    }
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: Offset,
    pub last_offset: Offset,
    /// The log end offset after the append.
    pub log_end_offset: Offset,
}

/// Whole batches read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Concatenated RecordBatch v2 bytes, ready for a Fetch response.
    pub bytes: Vec<u8>,
    /// The offset after the last batch returned (the start if none).
    pub next_offset: Offset,
}

/// What recovery found and did when the log was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub clean_shutdown: bool,
    pub segments_scanned: u64,
    pub indexes_rebuilt: u64,
    /// Bytes cut because a batch failed a check (torn or corrupt).
    pub truncated_bytes: u64,
    /// Segments deleted because they followed a corrupt batch or sat below the
    /// log start offset.
    pub segments_deleted: u64,
    /// The first check that failed, if any did.
    pub corruption: Option<String>,
}

/// One partition's log. Single writer: `&mut self` for changes.
#[derive(Debug)]
pub struct Log {
    pub(crate) disk: Arc<Disk>,
    pub(crate) directory: PathBuf,
    pub(crate) config: LogConfig,
    /// Sorted by base offset; never empty; the last one is active.
    pub(crate) segments: Vec<Segment>,
    pub(crate) log_start_offset: Offset,
    pub(crate) high_watermark: Offset,
    pub(crate) epochs: EpochHistory,
    /// True while opening a log whose epoch history file was missing or bad.
    pub(crate) rebuilding_epochs: bool,
    pub(crate) sync: Arc<LogSync>,
    pub(crate) checkpoint_sequence: u64,
    pub(crate) recovery: RecoveryReport,
    /// The log's id in its disk's journal registry (journal policy only).
    pub(crate) journal_id: Option<u32>,
}

impl Log {
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> Offset {
        self.active().next_offset
    }

    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    /// Every batch below this offset survives a crash.
    pub fn durable_offset(&self) -> Offset {
        self.sync.durable.get()
    }

    /// A handle to wait for durability from another thread.
    pub fn durability(&self) -> DurableOffset {
        self.sync.durable.clone()
    }

    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Total data bytes in all segments.
    pub fn size(&self) -> ByteSize {
        ByteSize(self.segments.iter().map(|s| s.size).sum())
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub(crate) fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    /// The whole leader-epoch history: `(epoch, first offset written in it)`,
    /// both strictly increasing (replication restores its log view from it).
    pub fn epoch_history(&self) -> Vec<(LeaderEpoch, Offset)> {
        self.epochs.entries().to_vec()
    }

    /// The latest leader epoch and the offset it started at.
    pub fn latest_epoch(&self) -> Option<(LeaderEpoch, Offset)> {
        self.epochs.latest()
    }

    /// Kafka's OffsetForLeaderEpoch: the end offset of `epoch`.
    pub fn epoch_end_offset(&self, epoch: LeaderEpoch) -> Option<Offset> {
        self.epochs.end_offset(epoch, self.log_end_offset())
    }

    /// Replaces the settings (takes effect for the next append or retention pass).
    pub fn set_config(&mut self, config: LogConfig) -> Result<()> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Sets the high watermark, clamped to `[log start, log end]`.
    pub fn set_high_watermark(&mut self, offset: Offset) {
        self.high_watermark = offset.clamp(self.log_start_offset, self.log_end_offset());
        assert!(self.log_start_offset <= self.high_watermark);
    }

    /// Appends producer batches as leader at `epoch`: assigns offsets by
    /// rewriting each batch header in `batches` (base offset, leader epoch),
    /// after checking every header and CRC. Records are never decoded.
    pub fn append(&mut self, batches: &mut [u8], epoch: LeaderEpoch) -> Result<AppendInfo> {
        if epoch.0 < 0 {
            return Err(Error::InvalidArgument(format!(
                "leader epoch {epoch} is negative"
            )));
        }
        let mut headers = batch::split_batches(batches).map_err(Error::InvalidBatch)?;
        if headers.is_empty() {
            return Err(Error::InvalidBatch("no batches".to_owned()));
        }
        let mut next = self.log_end_offset();
        let mut position = 0usize;
        for header in &mut headers {
            batch::stamp(&mut batches[position..], next, epoch);
            header.base_offset = next;
            header.leader_epoch = epoch;
            next = header.next_offset();
            position += header.size as usize;
        }
        self.append_stamped(batches, &headers)
    }

    /// Appends batches replicated from the leader, offsets and epochs as they
    /// are: the first must start at the log end offset, and they must be
    /// contiguous.
    pub fn append_replicated(&mut self, batches: &[u8]) -> Result<AppendInfo> {
        let headers = batch::split_batches(batches).map_err(Error::InvalidBatch)?;
        let mut expected = self.log_end_offset();
        for header in &headers {
            if header.base_offset != expected || header.leader_epoch.0 < 0 {
                return Err(Error::InvalidBatch(format!(
                    "replicated batch at offset {} (epoch {}) where offset {expected} was expected",
                    header.base_offset, header.leader_epoch
                )));
            }
            expected = header.next_offset();
        }
        if headers.is_empty() {
            return Err(Error::InvalidBatch("no batches".to_owned()));
        }
        self.append_stamped(batches, &headers)
    }

    fn append_stamped(&mut self, bytes: &[u8], headers: &[BatchHeader]) -> Result<AppendInfo> {
        let first_offset = headers[0].base_offset;
        let last_offset = headers[headers.len() - 1].last_offset();
        assert_eq!(first_offset, self.log_end_offset());
        if let FlushPolicy::Journal(journal) = self.disk.policy()
            && bytes.len() as u64 + 64 > journal.append_bytes_max()
            && !journal.indirect(bytes.len())
        {
            return Err(Error::InvalidArgument(format!(
                "an append of {} bytes does not fit one journal pass",
                bytes.len()
            )));
        }
        self.record_epochs(headers)?;
        self.maybe_roll(bytes.len() as u64, last_offset)?;
        let segment = self
            .segments
            .last_mut()
            .expect("a log always has an active segment");
        let file = segment.append(&self.disk.cache, bytes, headers)?;
        let log_end_offset = self.log_end_offset();
        assert_eq!(log_end_offset, last_offset.plus(1));
        match self.disk.policy() {
            FlushPolicy::EveryAppend => {
                let generation = self.sync.durable.generation();
                file.sync_data().map_err(io_error(&self.active().path))?;
                self.sync.durable.advance(log_end_offset, generation);
            }
            FlushPolicy::GroupCommit { .. } => {
                let path = self.active().path.as_path();
                let written = (path, file);
                self.disk
                    .note_written(&self.sync, written, log_end_offset, bytes.len() as u64)
            }
            FlushPolicy::Journal(_) => {
                let record = AppendRecord {
                    log_id: self
                        .journal_id
                        .expect("a journaled log is registered at open"),
                    segment: &self.active().path,
                    segment_base: self.active().base_offset,
                    base: first_offset,
                    last: last_offset,
                    epoch: headers[headers.len() - 1].leader_epoch,
                    batches: u32::try_from(headers.len()).expect("batches fit one pass"),
                    data: bytes,
                    sync: &self.sync,
                };
                // J3: the segment write above returned before the record is queued.
                self.disk.journal_append(record, log_end_offset);
            }
            FlushPolicy::Never => {}
        }
        Ok(AppendInfo {
            first_offset,
            last_offset,
            log_end_offset,
        })
    }

    /// Adds epoch history entries for new epochs, synced before the data.
    fn record_epochs(&mut self, headers: &[BatchHeader]) -> Result<()> {
        let mut changed = false;
        for header in headers {
            if let Some((latest, _)) = self.epochs.latest()
                && header.leader_epoch < latest
            {
                return Err(Error::StaleLeaderEpoch {
                    epoch: header.leader_epoch.0,
                    latest: latest.0,
                });
            }
            changed |= self.epochs.assign(header.leader_epoch, header.base_offset);
        }
        if changed {
            self.epochs.store(&self.disk.cache, &self.epochs_path())?;
        }
        Ok(())
    }

    /// With the journal, a durable offset may be published only once every
    /// record of the log up to it is in a synced pass: otherwise a replayed
    /// Truncate could cut acknowledged bytes that only the segment held.
    /// Roll, flush, close and open publish from segment syncs, so they run
    /// a pass first. (No-op for the other policies and during replay.)
    pub(crate) fn settle_journal(&self) -> Result<()> {
        if matches!(self.disk.policy(), FlushPolicy::Journal(_)) {
            self.disk.flush_pending()?;
        }
        Ok(())
    }

    pub(crate) fn epochs_path(&self) -> PathBuf {
        self.directory.join("leader-epochs")
    }

    pub(crate) fn checkpoint_path(&self) -> PathBuf {
        self.directory.join("checkpoint")
    }

    /// Reads whole batches from `start` up to `max_bytes` (at least one batch
    /// if any is available) and below `upper_bound` (exclusive; pass the high
    /// watermark for consumers, the log end for followers).
    pub fn read(&self, start: Offset, max_bytes: ByteSize, upper_bound: Offset) -> Result<Fetched> {
        let mut bytes = Vec::new();
        let next_offset = self.read_into(start, max_bytes, upper_bound, &mut bytes)?;
        Ok(Fetched { bytes, next_offset })
    }

    /// [`Log::read`] into a caller-owned buffer (cleared first), so a fetch
    /// loop reuses one allocation. Returns the offset after the last batch.
    pub fn read_into(
        &self,
        start: Offset,
        max_bytes: ByteSize,
        upper_bound: Offset,
        bytes: &mut Vec<u8>,
    ) -> Result<Offset> {
        bytes.clear();
        let log_end_offset = self.log_end_offset();
        if start < self.log_start_offset || start > log_end_offset {
            return Err(Error::OffsetOutOfRange {
                offset: start,
                log_start_offset: self.log_start_offset,
                log_end_offset,
            });
        }
        let window = ReadWindow {
            max_bytes: usize::try_from(max_bytes.0).unwrap_or(usize::MAX),
            upper_bound: upper_bound.min(log_end_offset),
            verify: self.config.verify_reads,
        };
        let mut next = start;
        let first = self.segments.partition_point(|s| s.next_offset <= start);
        // Bounded by the number of segments.
        for segment in &self.segments[first.min(self.segments.len())..] {
            if next >= window.upper_bound || (!bytes.is_empty() && bytes.len() >= window.max_bytes)
            {
                break;
            }
            if segment.size == 0 || next >= segment.next_offset {
                continue;
            }
            let before = bytes.len();
            let reached = segment.read(&self.disk.cache, next, &window, &self.epochs, bytes)?;
            if bytes.len() == before {
                break;
            }
            next = reached;
            if next < segment.next_offset {
                break;
            }
        }
        assert!(next >= start);
        Ok(next)
    }

    /// The base offset of the first batch whose max timestamp is >= `target`,
    /// at or after the log start offset (Kafka ListOffsets by time, at batch
    /// granularity). `None` if no batch is that new.
    pub fn offset_for_time(&self, target: Timestamp) -> Result<Option<Offset>> {
        // Bounded by the number of segments.
        for segment in &self.segments {
            if segment.next_offset <= self.log_start_offset {
                continue;
            }
            let found = segment.find_time(&self.disk.cache, target, self.log_start_offset)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}
