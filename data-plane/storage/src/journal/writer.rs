//! Group-commit passes (JOURNAL.md section 4): take what is queued, frame
//! it as Pass, records, Pad, write it with one write at the journal's next
//! page, `fdatasync` the journal file once, then publish each log's durable
//! offset. One pass in flight (the writer mutex, J6).

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::durability::{Disk, FlushReport, LogSync};
use crate::error::{Error, Result, io_error};
use crate::file_cache::FileCache;
use crate::journal::format::{self, FILE_HEADER_BYTES, FileHeader, Kind, PAGE};
use crate::journal::{Journal, Queued};
use crate::medium::{MediumFile, Preallocate};
use crate::sim::lock;

/// The active journal file and the pass chain.
#[derive(Debug)]
pub(crate) struct Writer {
    pub file: Arc<dyn MediumFile>,
    pub header: FileHeader,
    /// Journal position where the next pass starts (a page boundary).
    pub next: u64,
    /// Sequence of the last pass written.
    pub seq: u64,
    /// End of the last pass written (0 before the first pass ever).
    pub last_end: u64,
    /// A write or sync failed: nothing is written or published any more.
    pub failed: bool,
    /// Journal files on disk: start position -> size.
    pub files: BTreeMap<u64, u64>,
}

pub(crate) fn file_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.journal"))
}

/// Creates, preallocates and syncs a journal file starting at `start`, and
/// syncs the directory: no pass uses a file whose entry could vanish.
pub(crate) fn create_file(
    cache: &FileCache,
    dir: &Path,
    start: u64,
    size: u64,
) -> Result<(Arc<dyn MediumFile>, FileHeader)> {
    let path = file_path(dir, start);
    let medium = cache.medium();
    let file = medium.open(&path, true).map_err(io_error(&path))?;
    if file.len().map_err(io_error(&path))? > 0 {
        // Left by a crash during an earlier creation: never used (J1).
        file.set_len(0).map_err(io_error(&path))?;
    }
    file.allocate(size, Preallocate::Fallocate)
        .map_err(io_error(&path))?;
    if file.len().map_err(io_error(&path))? != size {
        file.set_len(size).map_err(io_error(&path))?;
    }
    let salt = std::collections::hash_map::RandomState::new().hash_one((start, Instant::now()));
    let header = FileHeader { start, size, salt };
    file.write_at(&header.encode(), 0)
        .map_err(io_error(&path))?;
    file.sync_data().map_err(io_error(&path))?;
    medium.sync_dir(dir).map_err(io_error(dir))?;
    Ok((file, header))
}

impl Writer {
    /// Frames `records` as one pass at `self.next`, rotating first if the
    /// pass does not fit the active file; returns the bytes to write.
    fn frame(
        &mut self,
        journal: &Journal,
        cache: &FileCache,
        records: &[Queued],
    ) -> Result<Vec<u8>> {
        let body: u64 = format::record_len(8) as u64
            + records
                .iter()
                .map(|record| format::record_len(record.payload.len()) as u64)
                .sum::<u64>();
        let total = body + format::pad_len(self.next + body);
        if self.next + total > self.header.start + self.header.size {
            let start = self.header.start + self.header.size;
            let (file, header) =
                create_file(cache, &journal.dir, start, journal.config.file_bytes.0)?;
            self.files.insert(start, header.size);
            self.file = file;
            self.header = header;
            self.next = start + FILE_HEADER_BYTES;
            assert!(
                self.next + total <= start + header.size,
                "a pass fits an empty file"
            );
        }
        let salt = self.header.salt;
        let start = self.next;
        assert_eq!(start % PAGE, 0, "J6: passes start on a page");
        let mut out = Vec::with_capacity(usize::try_from(total).expect("passes are small"));
        let pass = (Kind::Pass, 0, self.seq + 1);
        format::encode_record(&mut out, salt, start, pass, &[&self.last_end.to_be_bytes()]);
        for record in records {
            let at = start + out.len() as u64;
            let header = (record.kind, record.log_id, record.argument);
            format::encode_record(&mut out, salt, at, header, &[&record.payload]);
        }
        let pad_at = start + out.len() as u64;
        format::encode_pad(&mut out, salt, pad_at);
        assert_eq!(out.len() as u64, total);
        assert_eq!((start + total) % PAGE, 0, "J6: passes end on a page");
        Ok(out)
    }

    /// Writes and syncs one pass. Positions only grow (J1).
    pub(crate) fn write_pass(
        &mut self,
        journal: &Journal,
        cache: &FileCache,
        records: &[Queued],
    ) -> Result<u64> {
        let bytes = self.frame(journal, cache, records)?;
        let start = self.next;
        let path = file_path(&journal.dir, self.header.start);
        self.file
            .write_at(&bytes, start - self.header.start)
            .map_err(io_error(&path))?;
        // J2: this sync starts after the pass's write returned.
        self.file.sync_data().map_err(io_error(&path))?;
        let end = start + bytes.len() as u64;
        assert!(end > self.last_end, "J1: positions strictly increase");
        self.seq += 1;
        self.last_end = end;
        self.next = end;
        journal.synced_end.store(end, Ordering::Release);
        let mut stats = lock(&journal.stats);
        stats.passes += 1;
        stats.bytes_written += bytes.len() as u64;
        stats.records += records.len() as u64;
        stats.synced_end = end;
        Ok(end)
    }
}

/// Takes the records of one pass off the queue: as many as fit
/// `pass_bytes_max`, at least one.
fn take_pass(journal: &Journal) -> Vec<Queued> {
    let budget = journal.config.append_bytes_max();
    let mut queue = lock(&journal.queue);
    let mut bytes = 0u64;
    let mut count = 0usize;
    for record in &queue.records {
        let len = format::record_len(record.payload.len()) as u64;
        if count > 0 && bytes + len > budget {
            break;
        }
        bytes += len;
        count += 1;
    }
    queue.bytes = queue.bytes.saturating_sub(bytes);
    queue.records.drain(..count).collect()
}

impl Disk {
    /// `flush_pending` of a journaled disk: passes until the queue is empty.
    /// Everything queued before the call is durable (or an error returned)
    /// when it returns, because the writer lock is taken before the queue.
    pub(crate) fn journal_flush(&self, journal: &Journal) -> Result<FlushReport> {
        let mut slot = lock(&journal.writer);
        let Some(writer) = slot.as_mut() else {
            // Replay: logs queue nothing until the writer exists.
            return Ok(FlushReport::default());
        };
        if writer.failed {
            return Err(Error::Io {
                path: journal.dir.clone(),
                source: std::io::Error::other("the journal stopped after a failed write or sync"),
            });
        }
        let mut report = FlushReport::default();
        // Bounded: each round takes at least one record off the queue.
        loop {
            let records = take_pass(journal);
            if records.is_empty() {
                break;
            }
            let written = self
                .sync_indirect_segments(&records)
                .and_then(|()| writer.write_pass(journal, &self.cache, &records));
            if let Err(error) = written {
                // DESIGN.md 6a: no retry after a failed write or fdatasync.
                writer.failed = true;
                return Err(error);
            }
            // One advance per log, its last record's: a log's records are in
            // offset order and each advance wakes that log's waiters.
            let mut published: HashSet<*const LogSync> = HashSet::new();
            let publish = records.iter().rev().filter_map(|r| r.publish.as_ref());
            for (sync, target, generation) in publish {
                if published.insert(Arc::as_ptr(sync)) {
                    sync.durable.advance(*target, *generation);
                    report.logs += 1;
                }
            }
            report.files_synced += 1;
            self.count_flush();
        }
        Ok(report)
    }

    /// J2 for indirect appends: their segment files are synced before the
    /// pass that names them is written and synced. A file removed since
    /// (retention below the log start) needs no sync.
    fn sync_indirect_segments(&self, records: &[Queued]) -> Result<()> {
        let mut synced: HashSet<&Path> = HashSet::new();
        for path in records
            .iter()
            .filter_map(|record| record.segment.as_deref())
        {
            if !synced.insert(path) {
                continue;
            }
            match self.cache.get(path, false) {
                Ok(file) => file.sync_data().map_err(io_error(path))?,
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// The journal's flusher: a pass as soon as records are queued (adaptive
    /// group commit), and a checkpoint when one is due.
    pub(crate) fn journal_flusher_loop(&self, journal: &Journal) {
        // Bounded by `stopping`.
        while !journal.stopping.load(Ordering::Acquire) {
            {
                let queue = lock(&journal.queue);
                if queue.records.is_empty() {
                    let _ = journal.queued.wait_timeout(queue, journal.config.interval);
                }
            }
            if let Err(error) = self.flush_pending() {
                eprintln!("fjord-storage: journal pass failed, flusher stops: {error}");
                return;
            }
            if self.checkpoint_due(journal)
                && let Err(error) = self.checkpoint()
            {
                eprintln!("fjord-storage: journal checkpoint failed, flusher stops: {error}");
                return;
            }
        }
    }
}
