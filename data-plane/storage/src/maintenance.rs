//! Roll, suffix truncation, prefix deletion (retention, delete-records),
//! checkpoints and clean close (DESIGN.md section 6).

use crate::checkpoint::Checkpoint;
use crate::epochs::EpochHistory;
use crate::error::{Error, Result, io_error};
use crate::journal::Kind;
use crate::log::Log;
use crate::scan::{ScanRules, scan};
use crate::segment::Segment;
use crate::types::{LeaderEpoch, Offset, Timestamp};

impl Log {
    /// Rolls before an append of `incoming` bytes ending at `last_offset` if
    /// the active segment is full, too old, or cannot index the offsets.
    pub(crate) fn maybe_roll(&mut self, incoming: u64, last_offset: Offset) -> Result<()> {
        let active = self.active();
        if active.size == 0 {
            return Ok(());
        }
        let full = active.size + incoming > self.config.segment_bytes.0;
        let now = self.disk.clock.now();
        let old = self.config.segment_age.is_some_and(|age| {
            now.0.saturating_sub(active.created_at.0)
                >= i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
        });
        let offsets_overflow = last_offset.0 - active.base_offset.0 > i64::from(u32::MAX);
        if full || old || offsets_overflow {
            self.roll()?;
        }
        Ok(())
    }

    /// Seals the active segment (trim, sync, indexes) and starts a new one at
    /// the log end offset.
    pub fn roll(&mut self) -> Result<()> {
        let log_end = self.log_end_offset();
        if self.active().size == 0 {
            return Ok(());
        }
        self.settle_journal()?;
        let generation = self.sync.durable.generation();
        let cache = &self.disk.cache;
        self.segments
            .last_mut()
            .expect("active segment")
            .seal(cache)?;
        let preallocate = (self.config.preallocate, self.config.segment_bytes.0);
        let interval = u32::try_from(self.config.index_interval_bytes.0).expect("validated");
        let now = self.disk.clock.now();
        let segment = Segment::create(cache, &self.directory, log_end, interval, preallocate, now)?;
        self.segments.push(segment);
        self.sync_directory()?;
        self.sync.durable.advance(log_end, generation);
        self.checkpoint()?;
        assert_eq!(self.active().base_offset, log_end);
        assert!(self.segments.len() >= 2);
        Ok(())
    }

    pub(crate) fn sync_directory(&self) -> Result<()> {
        let medium = self.disk.cache.medium();
        medium
            .sync_dir(&self.directory)
            .map_err(io_error(&self.directory))
    }

    /// Writes the checkpoint: log start, recovery point (the active segment's
    /// base: everything before it was synced at roll) and high watermark.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.write_checkpoint(false)
    }

    pub(crate) fn write_checkpoint(&mut self, clean_shutdown: bool) -> Result<()> {
        self.checkpoint_sequence += 1;
        let checkpoint = Checkpoint {
            sequence: self.checkpoint_sequence,
            clean_shutdown,
            log_start_offset: self.log_start_offset,
            recovery_point: self.active().base_offset,
            high_watermark: self.high_watermark,
        };
        checkpoint.store(&self.disk.cache, &self.checkpoint_path())
    }

    /// Syncs the active segment now and publishes the durable offset.
    pub fn flush(&mut self) -> Result<()> {
        self.settle_journal()?;
        let generation = self.sync.durable.generation();
        let log_end = self.log_end_offset();
        let active = self.active();
        active
            .file(&self.disk.cache)?
            .sync_data()
            .map_err(io_error(&active.path))?;
        self.sync.durable.advance(log_end, generation);
        Ok(())
    }

    /// Removes every batch from the one holding `offset` on (replication's
    /// truncation to a divergence point). The new log end offset is the base
    /// of that batch, which is `offset` when it is a batch boundary.
    pub fn truncate_to(&mut self, offset: Offset) -> Result<Offset> {
        if offset < self.log_start_offset {
            return Err(Error::InvalidArgument(format!(
                "cannot truncate to {offset}, below the log start offset {}",
                self.log_start_offset
            )));
        }
        if offset >= self.log_end_offset() {
            return Ok(self.log_end_offset());
        }
        // Journal: the Truncate record is durable before any segment is cut,
        // so replay never resurrects the removed offsets (JOURNAL.md case T).
        let disk = self.disk.clone();
        let _barrier = disk.journal_barrier(self.journal_id, Kind::Truncate, offset, None)?;
        // Bounded by the number of segments; the first segment always stays.
        while self.segments.len() > 1 && self.active().base_offset >= offset {
            let segment = self.segments.pop().expect("more than one segment");
            segment.delete(&self.disk.cache)?;
        }
        self.cut_active(offset)?;
        self.sync_directory()?;
        let log_end = self.log_end_offset();
        if self.epochs.truncate_from(log_end) {
            self.epochs.store(&self.disk.cache, &self.epochs_path())?;
        }
        self.sync.durable.truncate(log_end);
        self.sync.clear();
        self.log_start_offset = self.log_start_offset.min(log_end);
        self.high_watermark = self.high_watermark.min(log_end).max(self.log_start_offset);
        self.checkpoint()?;
        assert!(log_end <= offset);
        assert!(self.high_watermark <= log_end);
        Ok(log_end)
    }

    /// Cuts the active segment at the batch holding `offset` and rebuilds its index.
    fn cut_active(&mut self, offset: Offset) -> Result<()> {
        let cache = &self.disk.cache;
        let interval = u32::try_from(self.config.index_interval_bytes.0).expect("validated");
        let segment = self.segments.last_mut().expect("active segment");
        let (position, new_end) = segment.position_of(cache, offset)?;
        let file = segment.file(cache)?;
        file.set_len(position).map_err(io_error(&segment.path))?;
        file.sync_data().map_err(io_error(&segment.path))?;
        let mut accept = |_: &crate::batch::BatchHeader| true;
        let mut rules = ScanRules {
            verify_crc: false,
            index_interval_bytes: interval,
            epoch_check: &mut accept,
        };
        let scanned = scan(file.as_ref(), segment.base_offset, position, &mut rules)
            .map_err(io_error(&segment.path))?;
        if let Some(problem) = scanned.problem {
            return Err(Error::Corrupt {
                path: segment.path.clone(),
                position: scanned.valid_bytes,
                reason: problem,
            });
        }
        assert_eq!(scanned.valid_bytes, position);
        assert_eq!(scanned.next_offset, new_end);
        segment.size = position;
        segment.next_offset = new_end;
        segment.index = scanned.index;
        let preallocate = self.config.preallocate;
        file.allocate(self.config.segment_bytes.0, preallocate)
            .map_err(io_error(&segment.path))
    }

    /// Kafka DeleteRecords: moves the log start offset to `offset` (at most the
    /// high watermark) and deletes the segments wholly below it.
    pub fn delete_records(&mut self, offset: Offset) -> Result<Offset> {
        if offset > self.high_watermark {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.high_watermark,
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.checkpoint()?;
        }
        self.delete_segments_below_start()?;
        Ok(self.log_start_offset)
    }

    /// Deletes whole segments below the log start offset; never the active one.
    fn delete_segments_below_start(&mut self) -> Result<usize> {
        let mut deleted = 0usize;
        // Bounded by the number of segments.
        while self.segments.len() > 1 && self.segments[0].next_offset <= self.log_start_offset {
            let segment = self.segments.remove(0);
            segment.delete(&self.disk.cache)?;
            deleted += 1;
        }
        if deleted > 0 {
            self.sync_directory()?;
        }
        Ok(deleted)
    }

    /// Applies retention by size and by age (newest timestamp of a segment);
    /// only segments wholly below the high watermark go. Returns how many.
    pub fn enforce_retention(&mut self) -> Result<usize> {
        let now = self.disk.clock.now();
        let mut total = self.size().0;
        let mut new_start = self.log_start_offset;
        for segment in &self.segments[..self.segments.len() - 1] {
            if segment.next_offset > self.high_watermark {
                break;
            }
            let too_big = self
                .config
                .retention_bytes
                .is_some_and(|limit| total - segment.size >= limit.0);
            let too_old = self.config.retention_age.is_some_and(|age| {
                let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                segment.index.max_timestamp() < Timestamp(now.0.saturating_sub(age))
            });
            if !too_big && !too_old {
                break;
            }
            total -= segment.size;
            new_start = new_start.max(segment.next_offset);
        }
        if new_start > self.log_start_offset {
            self.log_start_offset = new_start;
            self.checkpoint()?;
        }
        self.delete_segments_below_start()
    }

    /// Kafka's "truncate fully and start at": removes every batch and restarts
    /// the log empty at `start` (log start, end and high watermark), for a
    /// replica whose leader has deleted, by retention, entries it still
    /// needs. `epoch` is the leader epoch in effect at `start - 1` and the
    /// offset where it began (below `start`), kept as the only epoch-history
    /// entry so the replica can check the leader's next append against it.
    ///
    /// Crash order: the checkpoint (log start = `start`) goes first, so a
    /// crash with old segments left opens with the log start clamped to
    /// their end (nothing below it readable); then every segment is deleted,
    /// the epoch history replaced and the new segment created. A crash
    /// between the deletion and the epoch history opens an empty log at
    /// `start` with the old history, which the caller detects (the term at
    /// `start - 1` differs) and resets again. On an error the log must not
    /// be used further (it may have no active segment).
    pub fn reset_to(&mut self, start: Offset, epoch: Option<(LeaderEpoch, Offset)>) -> Result<()> {
        let bad_epoch = epoch.is_some_and(|(e, s)| e.0 < 0 || s.0 < 0 || s >= start);
        if start.0 < 0 || bad_epoch || (epoch.is_none() && start.0 > 0) {
            return Err(Error::InvalidArgument(format!(
                "cannot reset the log to start at {start} with epoch {epoch:?}"
            )));
        }
        let disk = self.disk.clone();
        let _barrier = disk.journal_barrier(self.journal_id, Kind::Reset, start, epoch)?;
        self.log_start_offset = start;
        self.high_watermark = start;
        self.checkpoint()?;
        let cache = &self.disk.cache;
        // Bounded by the number of segments; oldest first, as retention does.
        while !self.segments.is_empty() {
            self.segments[0].delete(cache)?;
            self.segments.remove(0);
        }
        self.sync_directory()?;
        self.epochs = EpochHistory::default();
        if let Some((epoch, epoch_start)) = epoch {
            self.epochs.assign(epoch, epoch_start);
        }
        self.epochs.store(cache, &self.epochs_path())?;
        let interval = u32::try_from(self.config.index_interval_bytes.0).expect("validated");
        let preallocate = (self.config.preallocate, self.config.segment_bytes.0);
        let now = self.disk.clock.now();
        let segment = Segment::create(cache, &self.directory, start, interval, preallocate, now)?;
        self.segments.push(segment);
        self.sync_directory()?;
        self.sync.clear();
        self.sync.durable.reset(start);
        self.checkpoint()?;
        assert_eq!(self.log_end_offset(), start);
        assert_eq!(self.log_start_offset, start);
        Ok(())
    }

    /// Syncs everything, writes the active segment's indexes and marks the
    /// shutdown clean, so the next open skips the scan.
    pub fn close(mut self) -> Result<()> {
        self.settle_journal()?;
        let cache = &self.disk.cache;
        let active = self.segments.last().expect("active segment");
        let file = active.file(cache)?;
        file.set_len(active.size).map_err(io_error(&active.path))?;
        file.sync_data().map_err(io_error(&active.path))?;
        active.write_indexes(cache)?;
        self.sync.durable.reset(self.log_end_offset());
        self.write_checkpoint(true)
    }
}
