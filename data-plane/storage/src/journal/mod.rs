//! The per-disk journal (JOURNAL.md): appends from every log on a `Disk` are
//! framed into records and group-committed to one sequential file, one write
//! and one `fdatasync` per pass; segments are synced behind it by the
//! checkpointer and the journal is trimmed below a durable checkpoint;
//! opening the disk replays the journal into the segments.
//!
//! `format` holds the bytes, `registry` the log ids, `writer` the passes,
//! `checkpoint` segment sync and trim, `replay` recovery.

mod checkpoint;
pub(crate) mod format;
mod registry;
mod replay;
mod scan;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use crate::durability::{Disk, LogSync};
use crate::error::{Error, Result};
use crate::log::LogConfig;
use crate::sim::lock;
use crate::types::{ByteSize, LeaderEpoch, Offset};

pub(crate) use format::Kind;
pub(crate) use registry::{Registry, relative_path};
pub(crate) use writer::Writer;

/// Settings of [`crate::FlushPolicy::Journal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size of each preallocated journal file.
    pub file_bytes: ByteSize,
    /// Largest pass; a flush writes several passes if more is queued.
    pub pass_bytes_max: ByteSize,
    /// Longest the flusher thread sleeps when nothing is queued.
    pub interval: Duration,
    /// The flusher checkpoints at least this often...
    pub checkpoint_interval: Duration,
    /// ...and as soon as the journal holds this much since the last checkpoint.
    pub retained_bytes: ByteSize,
    /// Appends at least this large are not copied into the journal: the pass
    /// syncs their segment file and the journal gets a small record naming
    /// it (JOURNAL.md D-J5).
    pub indirect_bytes_min: ByteSize,
}

impl Default for JournalConfig {
    fn default() -> JournalConfig {
        JournalConfig {
            file_bytes: ByteSize::mib(64),
            pass_bytes_max: ByteSize::mib(16),
            interval: Duration::from_millis(100),
            checkpoint_interval: Duration::from_secs(10),
            retained_bytes: ByteSize::gib(1),
            indirect_bytes_min: ByteSize::kib(256),
        }
    }
}

impl JournalConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        let page = format::PAGE;
        if self.pass_bytes_max.0 < 2 * page
            || self.file_bytes.0 < self.pass_bytes_max.0 + format::FILE_HEADER_BYTES + page
            || !self.file_bytes.0.is_multiple_of(page)
        {
            return Err(Error::InvalidArgument(format!(
                "journal files ({}) must be page multiples holding a header and a pass ({})",
                self.file_bytes, self.pass_bytes_max
            )));
        }
        Ok(())
    }

    /// The largest record a pass carries beside its Pass and Pad records.
    pub(crate) fn append_bytes_max(&self) -> u64 {
        self.pass_bytes_max.0 - 2 * format::PAGE
    }

    /// Whether an append of `len` bytes is indirect (its data stays in the segment).
    pub(crate) fn indirect(&self, len: usize) -> bool {
        len as u64 >= self.indirect_bytes_min.0
    }
}

/// What opening a journaled disk found and replayed (JOURNAL.md section 6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalReport {
    pub files: u64,
    pub bytes_scanned: u64,
    pub records_replayed: u64,
    /// Records already in their segments (or below the log start).
    pub records_skipped: u64,
    /// Records of logs removed since (unknown id or missing directory).
    pub records_of_removed_logs: u64,
    /// Records of the unsynced last pass dropped after an indirect append
    /// of theirs was missing from its segment (never acknowledged).
    pub records_dropped: u64,
    /// Whether the last file ended in a torn (never acknowledged) pass.
    pub torn_tail: bool,
    pub logs_replayed: u64,
}

/// Counters of a journaled disk, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    pub passes: u64,
    pub bytes_written: u64,
    pub records: u64,
    pub checkpoints: u64,
    pub files_trimmed: u64,
    /// End of the last synced pass (a journal position).
    pub synced_end: u64,
}

/// One record waiting for a pass.
#[derive(Debug)]
pub(crate) struct Queued {
    pub kind: Kind,
    pub log_id: u32,
    pub argument: u64,
    /// The kind's payload fields, and for Append the data after them.
    pub payload: Vec<u8>,
    /// For appends: whose durable offset the pass publishes, to where.
    pub publish: Option<(Arc<LogSync>, Offset, u64)>,
    /// For indirect appends: the segment file the pass syncs first (J2).
    pub segment: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub(crate) struct JournalQueue {
    pub records: Vec<Queued>,
    pub bytes: u64,
}

/// The journal of one `Disk`.
#[derive(Debug)]
pub(crate) struct Journal {
    pub root: PathBuf,
    pub dir: PathBuf,
    pub config: JournalConfig,
    pub registry: Mutex<Registry>,
    pub queue: Mutex<JournalQueue>,
    pub queued: Condvar,
    /// Held for a whole pass: one pass in flight (J6).
    pub writer: Mutex<Option<Writer>>,
    /// Truncate and reset hold it shared from their record until their
    /// segment change is durable; the checkpointer holds it exclusively
    /// while it picks its replay-from position (JOURNAL.md section 5).
    pub structure: RwLock<()>,
    /// Segment files written since the last checkpoint took the set.
    pub dirty: Mutex<BTreeSet<PathBuf>>,
    pub replaying: AtomicBool,
    pub synced_end: AtomicU64,
    pub last_checkpoint: Mutex<(Instant, u64)>,
    pub stats: Mutex<JournalStats>,
    pub report: Mutex<JournalReport>,
    pub stopping: AtomicBool,
}

impl Journal {
    pub(crate) fn new(root: &Path, config: JournalConfig) -> Journal {
        Journal {
            root: root.to_owned(),
            dir: root.join("journal"),
            config,
            registry: Mutex::new(Registry::default()),
            queue: Mutex::new(JournalQueue::default()),
            queued: Condvar::new(),
            writer: Mutex::new(None),
            structure: RwLock::new(()),
            dirty: Mutex::new(BTreeSet::new()),
            replaying: AtomicBool::new(true),
            synced_end: AtomicU64::new(0),
            last_checkpoint: Mutex::new((Instant::now(), 0)),
            stats: Mutex::new(JournalStats::default()),
            report: Mutex::new(JournalReport::default()),
            stopping: AtomicBool::new(false),
        }
    }

    pub(crate) fn replaying(&self) -> bool {
        self.replaying.load(Ordering::Acquire)
    }

    pub(crate) fn registry_path(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub(crate) fn enqueue(&self, record: Queued) {
        let mut queue = lock(&self.queue);
        queue.bytes += format::record_len(record.payload.len()) as u64;
        queue.records.push(record);
        if queue.records.len() == 1 {
            self.queued.notify_all();
        }
    }
}

/// Everything a log tells the journal about one append.
pub(crate) struct AppendRecord<'a> {
    pub log_id: u32,
    pub segment: &'a Path,
    pub segment_base: Offset,
    pub base: Offset,
    pub last: Offset,
    pub epoch: LeaderEpoch,
    pub batches: u32,
    pub data: &'a [u8],
    pub sync: &'a Arc<LogSync>,
}

impl Disk {
    pub(crate) fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Opens a disk whose logs live under `root`. With
    /// [`crate::FlushPolicy::Journal`] this recovers the journal in
    /// `root/journal` first: every record since the last durable checkpoint
    /// is replayed into its log's segments before this returns
    /// ([`Disk::journal_report`] says what was done). Other policies behave
    /// as [`Disk::new`].
    pub fn open(
        medium: Arc<dyn crate::Medium>,
        root: &Path,
        policy: crate::FlushPolicy,
        open_files_max: usize,
    ) -> Result<Arc<Disk>> {
        let clock: Arc<dyn crate::Clock> = Arc::new(crate::SystemClock);
        let crate::FlushPolicy::Journal(config) = policy else {
            return Ok(Disk::with_clock(medium, policy, open_files_max, clock));
        };
        config.validate()?;
        let journal = Journal::new(root, config);
        let disk = Disk::build(medium, policy, open_files_max, clock, Some(journal));
        replay::recover(&disk)?;
        Ok(disk)
    }

    /// What opening the journal found (empty without a journal).
    pub fn journal_report(&self) -> JournalReport {
        self.journal
            .as_ref()
            .map(|journal| lock(&journal.report).clone())
            .unwrap_or_default()
    }

    /// Journal counters (zero without a journal).
    pub fn journal_stats(&self) -> JournalStats {
        self.journal
            .as_ref()
            .map(|journal| *lock(&journal.stats))
            .unwrap_or_default()
    }

    /// Registers the log in `directory` (idempotent) and returns its id;
    /// durable before any record of it is queued (J7).
    pub(crate) fn register_log(&self, directory: &Path, config: &LogConfig) -> Result<Option<u32>> {
        let Some(journal) = &self.journal else {
            if matches!(self.policy(), crate::FlushPolicy::Journal(_)) {
                return Err(Error::InvalidArgument(
                    "a journaled disk must be opened with Disk::open".to_owned(),
                ));
            }
            return Ok(None);
        };
        let path = relative_path(&journal.root, directory)?;
        let entry = registry::Entry {
            path: path.clone(),
            segment_bytes: config.segment_bytes.0,
            index_interval_bytes: u32::try_from(config.index_interval_bytes.0).expect("validated"),
        };
        let mut registry = lock(&journal.registry);
        let file = journal.registry_path();
        if let Some(id) = registry.find(&path) {
            if registry.logs.get(&id) != Some(&entry) && !journal.replaying() {
                registry.put(&self.cache, &file, id, entry)?;
            }
            return Ok(Some(id));
        }
        let id = registry.next_id;
        if id.checked_add(1).is_none() {
            return Err(Error::InvalidArgument(
                "the journal has used every log id".to_owned(),
            ));
        }
        registry.put(&self.cache, &file, id, entry)?;
        Ok(Some(id))
    }

    /// Unregisters the log in `directory`, durably, so its journal records
    /// are skipped from now on. Call before deleting the directory (J7).
    pub fn forget_log(&self, directory: &Path) -> Result<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let path = relative_path(&journal.root, directory)?;
        let mut registry = lock(&journal.registry);
        if let Some(id) = registry.find(&path) {
            registry.remove(&self.cache, &journal.registry_path(), id)?;
        }
        Ok(())
    }

    /// Queues an Append record; the next pass publishes the log's durable
    /// offset. Called after the segment write returned (J3).
    pub(crate) fn journal_append(&self, record: AppendRecord<'_>, target: Offset) {
        let journal = self.journal.as_ref().expect("journal policy has a journal");
        if journal.replaying() {
            return;
        }
        {
            let mut dirty = lock(&journal.dirty);
            if !dirty.contains(record.segment) {
                dirty.insert(record.segment.to_owned());
            }
        }
        let indirect = journal.config.indirect(record.data.len());
        let copied = if indirect { 0 } else { record.data.len() };
        let mut payload = Vec::with_capacity(format::APPEND_FIELDS + 8 + copied);
        payload.extend_from_slice(&record.epoch.0.to_be_bytes());
        payload.extend_from_slice(&record.batches.to_be_bytes());
        payload.extend_from_slice(&record.last.0.to_be_bytes());
        let len = u32::try_from(record.data.len()).expect("batches are below 4 GiB");
        payload.extend_from_slice(&len.to_be_bytes());
        let (kind, segment) = if indirect {
            payload.extend_from_slice(&crc32c::crc32c(record.data).to_be_bytes());
            payload.extend_from_slice(&record.segment_base.0.to_be_bytes());
            (Kind::AppendIndirect, Some(record.segment.to_owned()))
        } else {
            payload.extend_from_slice(&0u32.to_be_bytes());
            payload.extend_from_slice(record.data);
            (Kind::Append, None)
        };
        let generation = record.sync.durable.generation();
        journal.enqueue(Queued {
            kind,
            log_id: record.log_id,
            argument: record.base.0 as u64,
            payload,
            publish: Some((record.sync.clone(), target, generation)),
            segment,
        });
    }

    /// Before a truncation or reset of log `log_id`: writes its record and
    /// waits until a pass made it durable. The returned guard keeps the
    /// checkpointer from choosing a replay-from position past the record
    /// until the segment change is durable; hold it until then.
    pub(crate) fn journal_barrier(
        &self,
        log_id: Option<u32>,
        kind: Kind,
        argument: Offset,
        epoch: Option<(LeaderEpoch, Offset)>,
    ) -> Result<Option<RwLockReadGuard<'_, ()>>> {
        let (Some(journal), Some(log_id)) = (&self.journal, log_id) else {
            return Ok(None);
        };
        if journal.replaying() {
            return Ok(None);
        }
        let guard = journal
            .structure
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut payload = Vec::new();
        if kind == Kind::Reset {
            let (epoch, start) = epoch.map_or((-1, -1), |(epoch, start)| (epoch.0, start.0));
            payload.extend_from_slice(&epoch.to_be_bytes());
            payload.extend_from_slice(&start.to_be_bytes());
        }
        journal.enqueue(Queued {
            kind,
            log_id,
            argument: argument.0 as u64,
            payload,
            publish: None,
            segment: None,
        });
        self.flush_pending()?;
        Ok(Some(guard))
    }

    /// The positions of the journal files on disk, with their sizes.
    pub(crate) fn journal_files(&self) -> Result<BTreeMap<u64, String>> {
        let journal = self.journal.as_ref().expect("journal");
        let medium = self.cache.medium();
        let names = medium
            .list(&journal.dir)
            .map_err(crate::error::io_error(&journal.dir))?;
        Ok(names
            .into_iter()
            .filter_map(|name| {
                let stem = name.strip_suffix(".journal")?;
                (stem.len() == 20)
                    .then(|| stem.parse::<u64>().ok())?
                    .map(|start| (start, name))
            })
            .collect())
    }
}
