//! Group commit and the durability API (DESIGN.md section 4).
//!
//! Appends queue their segment file on the `Disk`; one `flush_pending` pass
//! `fdatasync`s each queued file once and publishes every log's new durable
//! offset. Callers learn durability through [`DurableOffset`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::file_cache::FileCache;
use crate::journal::{Journal, JournalConfig};
use crate::medium::{Medium, MediumFile};
use crate::sim::lock;
use crate::types::{ByteSize, Offset, Timestamp};

/// When appended data is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// `fdatasync` inside every append, before it returns.
    EveryAppend,
    /// A flusher pass every `interval`, or sooner once `bytes` are pending.
    /// Each pass `fdatasync`s every file with pending data once: durability
    /// rests only on per-file syncs, never on `syncfs(2)` (JOURNAL.md section 3).
    GroupCommit { interval: Duration, bytes: ByteSize },
    /// Only segment rolls and clean closes sync.
    Never,
    /// Appends go to the disk's journal, one write and one `fdatasync` per
    /// pass for every log on the disk; segments are synced behind it by
    /// [`Disk::checkpoint`] (JOURNAL.md). Open the disk with [`Disk::open`].
    Journal(JournalConfig),
}

/// A source of wall-clock time (tests use a manual one).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let elapsed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }
}

#[derive(Debug, Default)]
struct DurableState {
    offset: Offset,
    generation: u64,
}

/// A log's durable offset: every batch below it survives a crash.
/// Cloned freely; waiters block on a condition variable.
#[derive(Debug, Default, Clone)]
pub struct DurableOffset {
    inner: Arc<(Mutex<DurableState>, Condvar)>,
}

impl DurableOffset {
    pub fn get(&self) -> Offset {
        lock(&self.inner.0).offset
    }

    /// Blocks until the durable offset reaches `offset` or `timeout` passes.
    /// Returns whether it was reached. Use from a blocking thread.
    pub fn wait_for(&self, offset: Offset, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.inner.0);
        // Bounded by the deadline.
        while state.offset < offset {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let (next, _) = self
                .inner
                .1
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state = next;
        }
        true
    }

    pub(crate) fn generation(&self) -> u64 {
        lock(&self.inner.0).generation
    }

    /// Raises the durable offset to `offset` unless a truncation happened since
    /// `generation` was read.
    pub(crate) fn advance(&self, offset: Offset, generation: u64) -> bool {
        let mut state = lock(&self.inner.0);
        if state.generation != generation || offset <= state.offset {
            return false;
        }
        state.offset = offset;
        self.inner.1.notify_all();
        true
    }

    /// Suffix truncation: lowers the durable offset and fences older flushes.
    pub(crate) fn truncate(&self, log_end: Offset) {
        let mut state = lock(&self.inner.0);
        state.generation += 1;
        state.offset = state.offset.min(log_end);
    }

    pub(crate) fn reset(&self, offset: Offset) {
        let mut state = lock(&self.inner.0);
        state.generation += 1;
        state.offset = offset;
        self.inner.1.notify_all();
    }
}

/// Segment files one log may have pending in one pass (each roll adds one).
const PENDING_FILES_MAX: usize = 4096;

/// What a log still needs synced.
#[derive(Debug)]
struct PendingSync {
    files: Vec<(PathBuf, Arc<dyn MediumFile>)>,
    target: Offset,
    generation: u64,
}

/// The link between one log and its disk's flush queue.
#[derive(Debug, Default)]
pub(crate) struct LogSync {
    pub durable: DurableOffset,
    pending: Mutex<Option<PendingSync>>,
}

impl LogSync {
    /// Forgets pending work (after a truncation, which syncs by itself).
    pub(crate) fn clear(&self) {
        lock(&self.pending).take();
    }
}

/// Counters of one flush pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    pub logs: u64,
    pub files_synced: u64,
}

#[derive(Debug, Default)]
struct Queue {
    logs: VecDeque<Arc<LogSync>>,
    bytes: u64,
}

/// One data directory on one device: the open-file cache, the flush policy
/// and the group-commit queue shared by every log on it.
#[derive(Debug)]
pub struct Disk {
    pub(crate) cache: FileCache,
    policy: FlushPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    queue: Mutex<Queue>,
    wake: Condvar,
    stopping: AtomicBool,
    flushes: AtomicU64,
    pub(crate) journal: Option<Journal>,
}

impl Disk {
    pub fn new(medium: Arc<dyn Medium>, policy: FlushPolicy, open_files_max: usize) -> Arc<Disk> {
        Disk::with_clock(medium, policy, open_files_max, Arc::new(SystemClock))
    }

    pub fn with_clock(
        medium: Arc<dyn Medium>,
        policy: FlushPolicy,
        open_files_max: usize,
        clock: Arc<dyn Clock>,
    ) -> Arc<Disk> {
        Disk::build(medium, policy, open_files_max, clock, None)
    }

    pub(crate) fn build(
        medium: Arc<dyn Medium>,
        policy: FlushPolicy,
        open_files_max: usize,
        clock: Arc<dyn Clock>,
        journal: Option<Journal>,
    ) -> Arc<Disk> {
        Arc::new(Disk {
            cache: FileCache::new(medium, open_files_max),
            policy,
            clock,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            stopping: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
            journal,
        })
    }

    pub(crate) fn count_flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn policy(&self) -> FlushPolicy {
        self.policy
    }

    /// Group-commit passes run so far (a metric for the broker).
    pub fn flush_passes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Open descriptors now, and opens so far.
    pub fn open_files(&self) -> (usize, u64) {
        self.cache.stats()
    }

    /// Called by a log after writing up to `target` into `file`.
    pub(crate) fn note_written(
        &self,
        log: &Arc<LogSync>,
        written: (&Path, Arc<dyn MediumFile>),
        target: Offset,
        bytes: u64,
    ) {
        let (path, file) = written;
        let newly_pending = {
            let mut pending = lock(&log.pending);
            match pending.as_mut() {
                Some(work) => {
                    // One handle per file: the cache may hand out a new handle
                    // for the same file after an eviction, and syncing any
                    // handle of a file syncs the file.
                    if !work.files.iter().any(|(known, _)| known.as_path() == path) {
                        assert!(
                            work.files.len() < PENDING_FILES_MAX,
                            "too many rolls between passes"
                        );
                        work.files.push((path.to_owned(), file));
                    }
                    work.target = work.target.max(target);
                    false
                }
                None => {
                    let generation = log.durable.generation();
                    *pending = Some(PendingSync {
                        files: vec![(path.to_owned(), file)],
                        target,
                        generation,
                    });
                    true
                }
            }
        };
        let mut queue = lock(&self.queue);
        if newly_pending {
            queue.logs.push_back(log.clone());
        }
        queue.bytes += bytes;
        if let FlushPolicy::GroupCommit {
            bytes: threshold, ..
        } = self.policy
            && queue.bytes >= threshold.0
        {
            self.wake.notify_one();
        }
    }

    /// One group-commit pass: syncs every file with pending data once, then
    /// publishes each log's durable offset. A failed `fdatasync` is returned
    /// and publishes nothing for that log: after it the page cache state is
    /// unknown, so the broker must treat the disk as failed.
    pub fn flush_pending(&self) -> Result<FlushReport> {
        if let Some(journal) = &self.journal {
            return self.journal_flush(journal);
        }
        let logs = {
            let mut queue = lock(&self.queue);
            queue.bytes = 0;
            std::mem::take(&mut queue.logs)
        };
        let work: Vec<(Arc<LogSync>, PendingSync)> = logs
            .into_iter()
            .filter_map(|log| {
                let pending = lock(&log.pending).take();
                pending.map(|pending| (log, pending))
            })
            .collect();
        let io_error = |source| Error::Io {
            path: "<group commit>".into(),
            source,
        };
        let mut report = FlushReport::default();
        for (_, file) in work.iter().flat_map(|(_, pending)| &pending.files) {
            file.sync_data().map_err(io_error)?;
            report.files_synced += 1;
        }
        for (log, pending) in &work {
            assert!(!pending.files.is_empty());
            log.durable.advance(pending.target, pending.generation);
            report.logs += 1;
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(report)
    }

    /// Starts the flusher thread of a `GroupCommit` policy. It stops when the
    /// handle is dropped.
    pub fn start_flusher(self: &Arc<Disk>) -> Option<Flusher> {
        if self.journal.is_some() {
            let disk = self.clone();
            let thread = std::thread::Builder::new()
                .name("fjord-journal".into())
                .spawn(move || {
                    if let Some(journal) = &disk.journal {
                        disk.journal_flusher_loop(journal);
                    }
                })
                .ok()?;
            return Some(Flusher {
                disk: self.clone(),
                thread: Some(thread),
            });
        }
        let FlushPolicy::GroupCommit {
            interval, bytes, ..
        } = self.policy
        else {
            return None;
        };
        let disk = self.clone();
        let thread = std::thread::Builder::new()
            .name("fjord-flusher".into())
            .spawn(move || disk.flusher_loop(interval, bytes))
            .ok()?;
        Some(Flusher {
            disk: self.clone(),
            thread: Some(thread),
        })
    }

    fn flusher_loop(&self, interval: Duration, threshold: ByteSize) {
        // Bounded by `stopping`.
        while !self.stopping.load(Ordering::Acquire) {
            {
                let queue = lock(&self.queue);
                if queue.bytes < threshold.0 {
                    let _ = self.wake.wait_timeout(queue, interval);
                }
            }
            if let Err(error) = self.flush_pending() {
                // There is no safe retry after a failed fdatasync: stop
                // publishing durability, which stalls acks=all visibly.
                eprintln!("fjord-storage: group commit failed, flusher stops: {error}");
                return;
            }
        }
    }
}

/// The running flusher thread; dropping it stops the thread after a last pass.
#[derive(Debug)]
pub struct Flusher {
    disk: Arc<Disk>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.disk.stopping.store(true, Ordering::Release);
        self.disk.wake.notify_all();
        if let Some(journal) = &self.disk.journal {
            journal.stopping.store(true, Ordering::Release);
            let _queue = lock(&journal.queue);
            journal.queued.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
