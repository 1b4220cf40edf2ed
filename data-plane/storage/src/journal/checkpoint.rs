//! Segment sync, Checkpoint record and trim (JOURNAL.md section 5).
//!
//! 1. Under the structure lock (no truncate or reset between its record and
//!    its durable segment change), read `c` = the end of the last synced pass
//!    and take the set of segment files written since the last checkpoint.
//!    Every record below `c` was queued after its file entered the set (J3).
//! 2. `fdatasync` each file once (a removed file is skipped: its data lies
//!    below the log start or was cut durably).
//! 3. Queue Checkpoint(replay-from = c) and run a pass: durable.
//! 4. Delete the journal files ending at or below `c` (never the active
//!    one) and sync the journal directory (J4).

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::durability::Disk;
use crate::error::{Error, Result, io_error};
use crate::journal::{Journal, Kind, Queued};
use crate::sim::lock;

impl Disk {
    /// Whether a [`Disk::checkpoint`] is due: the journal's checkpoint
    /// interval has passed or it holds its retained bytes since the last
    /// one. Always false without a journal. For callers that schedule
    /// checkpoints themselves instead of running [`Disk::start_flusher`].
    pub fn checkpoint_is_due(&self) -> bool {
        self.journal()
            .is_some_and(|journal| self.checkpoint_due(journal))
    }

    pub(crate) fn checkpoint_due(&self, journal: &Journal) -> bool {
        let (when, position) = *lock(&journal.last_checkpoint);
        let written = journal.synced_end.load(Ordering::Acquire);
        when.elapsed() >= journal.config.checkpoint_interval
            || written.saturating_sub(position) >= journal.config.retained_bytes.0
    }

    /// Syncs the segments written since the last checkpoint, makes a
    /// Checkpoint record durable and deletes the journal files below it.
    /// Returns how many journal files were deleted. Without a journal: 0.
    pub fn checkpoint(&self) -> Result<u64> {
        let Some(journal) = self.journal() else {
            return Ok(0);
        };
        let (c, dirty) = {
            let _exclusive = journal
                .structure
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let c = journal.synced_end.load(Ordering::Acquire);
            (c, std::mem::take(&mut *lock(&journal.dirty)))
        };
        if let Err(error) = self.sync_segments(&dirty) {
            // Those files are still unsynced: the next checkpoint syncs them.
            lock(&journal.dirty).extend(dirty);
            return Err(error);
        }
        let generation = lock(&journal.registry).generation;
        journal.enqueue(Queued {
            kind: Kind::Checkpoint,
            log_id: 0,
            argument: c,
            payload: generation.to_be_bytes().to_vec(),
            publish: None,
            segment: None,
        });
        self.flush_pending()?;
        let trimmed = self.trim_journal(journal, c)?;
        *lock(&journal.last_checkpoint) = (Instant::now(), c);
        let mut stats = lock(&journal.stats);
        stats.checkpoints += 1;
        stats.files_trimmed += trimmed;
        Ok(trimmed)
    }

    fn sync_segments(&self, dirty: &std::collections::BTreeSet<std::path::PathBuf>) -> Result<()> {
        for path in dirty {
            match self.cache.get(path, false) {
                Ok(file) => file.sync_data().map_err(io_error(path))?,
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Deletes the journal files that end at or below the durable
    /// checkpoint `c`, never the active one (J4).
    fn trim_journal(&self, journal: &Journal, c: u64) -> Result<u64> {
        let mut slot = lock(&journal.writer);
        let Some(writer) = slot.as_mut() else {
            return Ok(0);
        };
        let active = writer.header.start;
        let doomed: Vec<u64> = writer
            .files
            .iter()
            .filter(|(start, size)| **start != active && *start + *size <= c)
            .map(|(start, _)| *start)
            .collect();
        let medium = self.cache.medium();
        for start in &doomed {
            let path = super::writer::file_path(&journal.dir, *start);
            medium.remove(&path).map_err(io_error(&path))?;
            writer.files.remove(start);
        }
        if !doomed.is_empty() {
            medium
                .sync_dir(&journal.dir)
                .map_err(io_error(&journal.dir))?;
        }
        Ok(doomed.len() as u64)
    }
}
