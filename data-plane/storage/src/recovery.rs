//! Opening a log: the recovery algorithm of DESIGN.md section 5.

use std::path::Path;
use std::sync::Arc;

use crate::batch::{BatchHeader, HEADER_BYTES, parse_header};
use crate::checkpoint::Checkpoint;
use crate::durability::{Disk, LogSync};
use crate::epochs::EpochHistory;
use crate::error::{Result, io_error};
use crate::file_cache::FileCache;
use crate::index::SegmentIndex;
use crate::log::{Log, LogConfig, RecoveryReport};
use crate::medium::MediumFile;
use crate::scan::{ScanRules, scan};
use crate::segment::Segment;
use crate::types::{Offset, Timestamp};

/// Bases of the segment files in `directory`, sorted; stray temporaries removed.
fn list_segments(cache: &FileCache, directory: &Path) -> Result<Vec<Offset>> {
    let medium = cache.medium();
    let mut bases = Vec::new();
    for name in medium.list(directory).map_err(io_error(directory))? {
        if name.ends_with(".tmp") {
            let path = directory.join(&name);
            medium.remove(&path).map_err(io_error(&path))?;
            continue;
        }
        let Some(stem) = name.strip_suffix(".log") else {
            continue;
        };
        if stem.len() == 20
            && let Ok(base) = stem.parse::<i64>()
        {
            bases.push(Offset(base));
        }
    }
    bases.sort();
    Ok(bases)
}

/// How one segment is brought back.
struct SegmentPlan {
    scan: bool,
    rebuild_epochs: bool,
}

impl Log {
    /// Opens (creating if needed) the log in `directory`, recovering from any
    /// crash. Check [`Log::recovery_report`] for what recovery did.
    pub fn open(disk: &Arc<Disk>, directory: &Path, config: LogConfig) -> Result<Log> {
        config.validate()?;
        let journal_id = disk.register_log(directory, &config)?;
        let cache = &disk.cache;
        let existed = cache.medium().list(directory).is_ok();
        let medium = cache.medium();
        medium
            .create_dir_all(directory)
            .map_err(io_error(directory))?;
        if !existed {
            // The log directory's own entry must survive a crash too.
            let parent = crate::medium::parent_of(directory);
            medium.sync_dir(&parent).map_err(io_error(&parent))?;
        }
        let bases = list_segments(cache, directory)?;
        let checkpoint = Checkpoint::load(cache, &directory.join("checkpoint"))?;
        let loaded_epochs = EpochHistory::load(cache, &directory.join("leader-epochs"))?;
        let mut log = Log {
            disk: disk.clone(),
            directory: directory.to_owned(),
            config,
            segments: Vec::new(),
            log_start_offset: checkpoint.map_or(Offset::ZERO, |c| c.log_start_offset),
            high_watermark: checkpoint.map_or(Offset::ZERO, |c| c.high_watermark),
            rebuilding_epochs: loaded_epochs.is_none(),
            epochs: loaded_epochs.unwrap_or_default(),
            sync: Arc::new(LogSync::default()),
            checkpoint_sequence: checkpoint.map_or(0, |c| c.sequence),
            recovery: RecoveryReport {
                clean_shutdown: checkpoint.is_some_and(|c| c.clean_shutdown),
                ..RecoveryReport::default()
            },
            journal_id,
        };
        let recovery_point = checkpoint.map(|c| c.recovery_point);
        // Records of an earlier handle of this log may still be queued.
        log.settle_journal()?;
        log.load_segments(&bases, recovery_point)?;
        log.finish_open()?;
        Ok(log)
    }

    fn load_segments(&mut self, bases: &[Offset], recovery_point: Option<Offset>) -> Result<()> {
        let clean = self.recovery.clean_shutdown && !self.rebuilding_epochs;
        // Scan from the last segment starting at or below the recovery point.
        let scan_from = match recovery_point {
            Some(point) if !self.rebuilding_epochs => {
                bases.iter().rposition(|base| *base <= point).unwrap_or(0)
            }
            _ => 0,
        };
        for (position, base) in bases.iter().enumerate() {
            let expected = self.segments.last().map(|s: &Segment| s.next_offset);
            let plan = SegmentPlan {
                scan: !clean && position >= scan_from,
                rebuild_epochs: self.rebuilding_epochs,
            };
            if expected.is_some_and(|expected| expected != *base) {
                self.recovery.corruption.get_or_insert_with(|| {
                    format!("segment {base} does not follow the previous segment")
                });
                self.delete_segment_files(&bases[position..])?;
                break;
            }
            if !self.load_segment(*base, &plan)? {
                self.delete_segment_files(&bases[position + 1..])?;
                break;
            }
        }
        Ok(())
    }

    fn delete_segment_files(&mut self, bases: &[Offset]) -> Result<()> {
        let interval = 1;
        for base in bases {
            let path = self
                .directory
                .join(crate::segment::segment_name(*base, "log"));
            let stub = Segment {
                base_offset: *base,
                next_offset: *base,
                size: 0,
                index: SegmentIndex::new(*base, interval),
                path,
                created_at: Timestamp(0),
            };
            stub.delete(&self.disk.cache)?;
            self.recovery.segments_deleted += 1;
        }
        if !bases.is_empty() {
            self.sync_directory()?;
        }
        Ok(())
    }

    /// Loads one segment; returns false if it ended at a corrupt batch (it is
    /// then cut there, kept, and every later segment must go).
    fn load_segment(&mut self, base: Offset, plan: &SegmentPlan) -> Result<bool> {
        let path = self
            .directory
            .join(crate::segment::segment_name(base, "log"));
        let file = self.disk.cache.get(&path, false)?;
        let file_len = file.len().map_err(io_error(&path))?;
        let now = self.disk.clock.now();
        let interval = u32::try_from(self.config.index_interval_bytes.0).expect("validated");
        let mut segment = Segment {
            base_offset: base,
            next_offset: base,
            size: file_len,
            index: SegmentIndex::new(base, interval),
            path,
            created_at: now,
        };
        if !plan.scan
            && let Some((index, next_offset)) = self.trusted_index(&segment, file.as_ref())?
        {
            segment.index = index;
            segment.next_offset = next_offset;
            self.segments.push(segment);
            return Ok(true);
        }
        let intact = self.scan_segment(&mut segment, file.as_ref(), plan)?;
        self.segments.push(segment);
        Ok(intact)
    }

    /// The segment's stored indexes and next offset, if they pass every check.
    fn trusted_index(
        &mut self,
        segment: &Segment,
        file: &dyn MediumFile,
    ) -> Result<Option<(SegmentIndex, Offset)>> {
        let (offset_path, time_path) = segment.index_paths();
        let offset_bytes = read_small_file(&self.disk.cache, &offset_path)?;
        let time_bytes = read_small_file(&self.disk.cache, &time_path)?;
        let interval = u32::try_from(self.config.index_interval_bytes.0).expect("validated");
        let decoded = match (offset_bytes, time_bytes) {
            (Some(offsets), Some(times)) => SegmentIndex::decode(
                segment.base_offset,
                interval,
                &offsets,
                &times,
                segment.size,
            ),
            _ => None,
        };
        let Some(index) = decoded else {
            self.recovery.indexes_rebuilt += 1;
            return Ok(None);
        };
        let next = tail_walk(
            file,
            segment.base_offset,
            &index,
            segment.size,
            &self.epochs,
        );
        if next.is_none() {
            self.recovery.indexes_rebuilt += 1;
        }
        Ok(next.map(|next| (index, next)))
    }

    /// Scans the segment, cutting it at the first batch that fails a check.
    fn scan_segment(
        &mut self,
        segment: &mut Segment,
        file: &dyn MediumFile,
        plan: &SegmentPlan,
    ) -> Result<bool> {
        let epochs = &mut self.epochs;
        let mut check = |header: &BatchHeader| {
            if plan.rebuild_epochs {
                let newer = epochs
                    .latest()
                    .is_none_or(|(latest, _)| header.leader_epoch >= latest);
                if newer && header.leader_epoch.0 >= 0 {
                    epochs.assign(header.leader_epoch, header.base_offset);
                }
                newer && header.leader_epoch.0 >= 0
            } else {
                epochs.epoch_at(header.base_offset) == Some(header.leader_epoch)
            }
        };
        let mut rules = ScanRules {
            verify_crc: plan.scan,
            index_interval_bytes: segment.index_interval(),
            epoch_check: &mut check,
        };
        let scanned = scan(file, segment.base_offset, segment.size, &mut rules)
            .map_err(io_error(&segment.path))?;
        self.recovery.segments_scanned += 1;
        let file_len = segment.size;
        segment.size = scanned.valid_bytes;
        segment.next_offset = scanned.next_offset;
        segment.index = scanned.index;
        let Some(problem) = scanned.problem else {
            return Ok(true);
        };
        self.recovery.truncated_bytes += file_len - scanned.valid_bytes;
        self.recovery.corruption.get_or_insert(problem);
        file.set_len(scanned.valid_bytes)
            .map_err(io_error(&segment.path))?;
        file.sync_data().map_err(io_error(&segment.path))?;
        Ok(false)
    }

    /// Settles offsets and files after the segments are loaded.
    fn finish_open(&mut self) -> Result<()> {
        if self.segments.is_empty() {
            let base = self.log_start_offset;
            let interval = u32::try_from(self.config.index_interval_bytes.0).expect("validated");
            let preallocate = (self.config.preallocate, self.config.segment_bytes.0);
            let now = self.disk.clock.now();
            let segment = Segment::create(
                &self.disk.cache,
                &self.directory,
                base,
                interval,
                preallocate,
                now,
            )?;
            self.segments.push(segment);
            self.sync_directory()?;
        }
        let log_end = self.log_end_offset();
        let first_base = self.segments[0].base_offset;
        self.log_start_offset = self.log_start_offset.clamp(first_base, log_end);
        self.high_watermark = self.high_watermark.clamp(self.log_start_offset, log_end);
        let has_data = log_end > first_base;
        if self.epochs.truncate_from(log_end) || (self.rebuilding_epochs && has_data) {
            self.epochs.store(&self.disk.cache, &self.epochs_path())?;
        }
        self.rebuilding_epochs = false;
        // The clean flag goes before anything else is written. The directory
        // sync makes a newly created checkpoint file's entry durable, so a
        // later log-start advance cannot vanish with it.
        self.write_checkpoint(false)?;
        self.sync_directory()?;
        let removed = self.delete_below_start_on_open()?;
        self.recovery.segments_deleted += removed as u64;
        let active = self.active();
        let file = active.file(&self.disk.cache)?;
        if active.size > 0 {
            // What recovery read may have come from the page cache only.
            file.sync_data().map_err(io_error(&active.path))?;
        }
        file.allocate(self.config.segment_bytes.0, self.config.preallocate)
            .map_err(io_error(&active.path))?;
        self.sync.durable.reset(log_end);
        assert!(self.log_start_offset <= self.high_watermark);
        assert!(self.high_watermark <= self.log_end_offset());
        Ok(())
    }

    fn delete_below_start_on_open(&mut self) -> Result<usize> {
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
}

fn read_small_file(cache: &FileCache, path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match cache.medium().open(path, false) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(path)(error)),
    };
    let len = file.len().map_err(io_error(path))?;
    // An index larger than 64 MiB cannot describe a 2 GiB segment sparsely.
    if len > 64 * 1024 * 1024 {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0).map_err(io_error(path))?;
    Ok(Some(bytes))
}

/// Walks the batch headers after the last index entry to the end of the data:
/// the segment's next offset, or `None` if anything does not fit.
fn tail_walk(
    file: &dyn MediumFile,
    base: Offset,
    index: &SegmentIndex,
    size: u64,
    epochs: &EpochHistory,
) -> Option<Offset> {
    let (mut expected, mut position) = match index.last_offset_entry() {
        Some(entry) => (
            base.plus(i64::from(entry.relative_offset)),
            u64::from(entry.position),
        ),
        None => (base, 0),
    };
    // Bounded: each round moves forward by one batch inside the segment.
    while position < size {
        let mut bytes = [0u8; HEADER_BYTES];
        file.read_exact_at(&mut bytes, position).ok()?;
        let header = parse_header(&bytes).ok()?;
        let fits = position + u64::from(header.size) <= size;
        let epoch_ok = epochs.epoch_at(header.base_offset) == Some(header.leader_epoch);
        if header.base_offset != expected || !fits || !epoch_ok {
            return None;
        }
        expected = header.next_offset();
        position += u64::from(header.size);
    }
    Some(expected)
}
