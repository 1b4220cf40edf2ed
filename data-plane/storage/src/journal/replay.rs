//! Recovery of a journaled disk (JOURNAL.md section 6): check the files,
//! scan the pass chain, replay every record since the newest durable
//! checkpoint into its log's segments, then start a new journal file whose
//! first pass checkpoints everything replayed and delete the older files.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::durability::Disk;
use crate::error::{Error, Result, io_error};
use crate::journal::format::{self, FILE_HEADER_BYTES, Kind, RecordHeader};
use crate::journal::registry::Registry;
use crate::journal::scan::{Chain, JournalFile, corrupt, open_files, scan_chain};
use crate::journal::writer::{Writer, create_file, file_path};
use crate::journal::{Journal, JournalReport};
use crate::log::{Log, LogConfig};
use crate::sim::lock;
use crate::types::{ByteSize, LeaderEpoch, Offset};

/// Opens the log of `id` for replay, or `None` if it was removed.
fn open_log(
    disk: &Arc<Disk>,
    journal: &Journal,
    registry: &Registry,
    id: u32,
) -> Result<Option<Log>> {
    let Some(entry) = registry.logs.get(&id) else {
        return Ok(None);
    };
    let directory = journal.root.join(&entry.path);
    if disk.cache.medium().list(&directory).is_err() {
        return Ok(None);
    }
    let config = LogConfig {
        segment_bytes: ByteSize(entry.segment_bytes),
        segment_age: None,
        index_interval_bytes: ByteSize(u64::from(entry.index_interval_bytes)),
        retention_bytes: None,
        retention_age: None,
        ..LogConfig::default()
    };
    Log::open(disk, &directory, config).map(Some)
}

/// Applies an Append record at `base`: of its batches, those that no later
/// Truncate of this replay removes (it removes the batch holding its offset
/// and all after), and of those what the segment lacks, from the log end.
fn apply_append(
    log: &mut Log,
    base: Offset,
    payload: &[u8],
    later_cut: Option<Offset>,
    bad: &dyn Fn(String) -> Error,
) -> Result<bool> {
    if payload.len() < format::APPEND_FIELDS {
        return Err(bad("append record too short".to_owned()));
    }
    let last = Offset(format::u64_at(payload, 8) as i64);
    let len = u32::from_be_bytes([payload[16], payload[17], payload[18], payload[19]]) as usize;
    let data = payload
        .get(format::APPEND_FIELDS..format::APPEND_FIELDS + len)
        .ok_or_else(|| bad("append data runs past its record".to_owned()))?;
    let headers = crate::batch::split_batches(data)
        .map_err(|reason| bad(format!("replayed append: {reason}")))?;
    let (Some(first), Some(final_batch)) = (headers.first(), headers.last()) else {
        return Err(bad("append record without batches".to_owned()));
    };
    if first.base_offset != base || final_batch.last_offset() != last {
        return Err(bad(
            "append record fields disagree with its batches".to_owned()
        ));
    }
    let end = log.log_end_offset();
    let mut position = 0usize;
    let mut from: Option<(usize, Offset)> = None;
    let mut until = (data.len(), final_batch.next_offset());
    for header in &headers {
        if later_cut.is_some_and(|cut| header.last_offset() >= cut) {
            until = (position, header.base_offset);
            break;
        }
        if from.is_none() && header.last_offset() >= end {
            from = Some((position, header.base_offset));
        }
        position += header.size as usize;
    }
    let Some((from, first_base)) = from.filter(|(from, _)| *from < until.0) else {
        return Ok(false);
    };
    if first_base > end {
        return Err(bad(format!(
            "offsets {end}..{first_base} are in neither segment nor journal"
        )));
    }
    if first_base < end {
        // The segment ends inside a batch of this record: it holds other
        // bytes there. Cut at the batch and write it again.
        if first_base < log.log_start_offset() {
            return Err(bad(format!(
                "append at {first_base} straddles the log start"
            )));
        }
        log.truncate_to(first_base)?;
    }
    log.append_replicated(&data[from..until.0])
        .map_err(|error| bad(format!("replayed append: {error}")))?;
    if log.log_end_offset() != until.1 {
        return Err(bad(format!(
            "J8: the log ends at {} after an append ending at {}",
            log.log_end_offset(),
            until.1
        )));
    }
    Ok(true)
}

/// Whether an AppendIndirect record at `base` finds what it needs in its
/// segment: the batches that no later Truncate of this replay removes. Its
/// pass synced the segment before the journal (J2), so a synced pass
/// always finds them; only an unsynced last pass may not.
fn indirect_present(
    log: &Log,
    base: u64,
    payload: &[u8],
    later_cut: Option<u64>,
    bad: &dyn Fn(String) -> Error,
) -> Result<bool> {
    if payload.len() < format::APPEND_FIELDS + 8 {
        return Err(bad("indirect append record too short".to_owned()));
    }
    let last = format::u64_at(payload, 8);
    let end = log.log_end_offset().0 as u64;
    Ok(match later_cut {
        // All of it is cut again later.
        Some(cut) if cut <= base => true,
        // A later Truncate cuts at a batch base at or above `base`.
        Some(cut) if cut <= last => end >= base,
        _ => last < end,
    })
}

/// Applies one record to its log (JOURNAL.md section 6, step 5). Returns
/// whether it changed the log.
fn apply(
    log: &mut Log,
    (header, later_cut): (&RecordHeader, Option<Offset>),
    record: &[u8],
    path: &std::path::Path,
    at: u64,
) -> Result<bool> {
    let bad = |reason: String| corrupt(path, at, reason);
    let end = log.log_end_offset();
    let start = log.log_start_offset();
    let argument = Offset(header.argument as i64);
    let payload = &record[format::RECORD_HEADER..];
    match header.kind {
        Kind::Append => apply_append(log, argument, payload, later_cut, &bad),
        // Below the log start: the truncation had finished (and its cut
        // was synced) before appends let the log start pass it.
        Kind::Truncate if end > argument && argument >= start => {
            log.truncate_to(argument)?;
            Ok(true)
        }
        Kind::Reset if start <= argument => {
            if payload.len() < 12 {
                return Err(bad("reset record too short".to_owned()));
            }
            let epoch = i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            let epoch_start = format::u64_at(payload, 4) as i64;
            let epoch = (epoch >= 0).then_some((LeaderEpoch(epoch), Offset(epoch_start)));
            log.reset_to(argument, epoch)?;
            Ok(true)
        }
        Kind::Truncate | Kind::Reset => Ok(false),
        // Handled by `indirect_present` before `apply` is called.
        Kind::AppendIndirect => Ok(false),
        Kind::Pass | Kind::Pad | Kind::Checkpoint => Ok(false),
    }
}

/// `Disk::open` of a journaled disk.
pub(crate) fn recover(disk: &Arc<Disk>) -> Result<()> {
    let journal = disk.journal().expect("a journaled disk");
    let medium = disk.cache.medium().clone();
    medium
        .create_dir_all(&journal.dir)
        .map_err(io_error(&journal.dir))?;
    medium
        .sync_dir(&journal.root)
        .map_err(io_error(&journal.root))?;
    let (files, stale) = open_files(disk, journal)?;
    let mut report = JournalReport {
        files: files.len() as u64,
        ..JournalReport::default()
    };
    let chain = scan_chain(&files, &mut report)?;
    let checkpoint = chain
        .metas
        .iter()
        .rev()
        .find(|meta| meta.header.kind == Kind::Checkpoint);
    let replay_from = checkpoint.map_or(0, |meta| meta.header.argument);
    if let (Some(_), Some(oldest)) = (checkpoint, files.first())
        && replay_from < oldest.header.start
    {
        let reason =
            format!("the checkpoint replays from {replay_from}, before the oldest journal file");
        return Err(corrupt(&oldest.path, 0, reason));
    }
    let registry = lock(&journal.registry).clone();
    // A Reset removes every batch of its log: the log's records before its
    // last Reset in the replay cannot change the outcome, and a reset cut
    // short by the crash may have left a log start above their offsets.
    let mut last_reset: HashMap<u32, u64> = HashMap::new();
    // A log's records after a Truncate or Reset were written after it
    // returned, with its segment change synced: only the last record of a
    // log can be a Truncate or Reset the crash cut short. Replaying an
    // earlier one onto segments that hold later bytes would move the log
    // start and high watermark back, so it is skipped.
    let mut last_record: HashMap<u32, u64> = HashMap::new();
    for meta in chain
        .metas
        .iter()
        .filter(|meta| meta.position >= replay_from)
    {
        if meta.header.kind == Kind::Reset {
            last_reset.insert(meta.header.log_id, meta.position);
        }
        last_record.insert(meta.header.log_id, meta.position);
    }
    // For each record, the lowest Truncate of its log later in the replay:
    // an Append at or above it is cut again before the replay ends, and the
    // segment may already hold what was written after that cut (case T).
    let mut later_cut: Vec<Option<u64>> = vec![None; chain.metas.len()];
    let mut lowest: HashMap<u32, u64> = HashMap::new();
    for (index, meta) in chain.metas.iter().enumerate().rev() {
        later_cut[index] = lowest.get(&meta.header.log_id).copied();
        if meta.header.kind == Kind::Truncate && meta.position >= replay_from {
            let cut = lowest.entry(meta.header.log_id).or_insert(u64::MAX);
            *cut = (*cut).min(meta.header.argument);
        }
    }
    let mut logs: HashMap<u32, Option<Log>> = HashMap::new();
    // Logs whose indirect append of the unsynced last pass is missing: the
    // rest of their records in that pass are dropped too.
    let mut dropped: std::collections::HashSet<u32> = std::collections::HashSet::new();
    for (index, meta) in chain.metas.iter().enumerate() {
        if meta.position < replay_from
            || matches!(meta.header.kind, Kind::Pass | Kind::Pad | Kind::Checkpoint)
        {
            continue;
        }
        let id = meta.header.log_id;
        let finished = matches!(meta.header.kind, Kind::Truncate | Kind::Reset)
            && last_record.get(&id) != Some(&meta.position);
        if finished
            || last_reset
                .get(&id)
                .is_some_and(|reset| meta.position < *reset)
        {
            report.records_skipped += 1;
            continue;
        }
        if dropped.contains(&id) {
            report.records_dropped += 1;
            continue;
        }
        let log = match logs.entry(id) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let log = open_log(disk, journal, &registry, id)?;
                report.logs_replayed += u64::from(log.is_some());
                entry.insert(log)
            }
        };
        let Some(log) = log else {
            report.records_of_removed_logs += 1;
            continue;
        };
        let file = &files[meta.file];
        let record = file.read(meta.position, meta.header.len as usize)?;
        if !format::check_crc(file.header.salt, &record) {
            let reason = "a record changed while it was replayed".to_owned();
            return Err(corrupt(
                &file.path,
                meta.position - file.header.start,
                reason,
            ));
        }
        let at = meta.position - file.header.start;
        if meta.header.kind == Kind::AppendIndirect {
            let bad = |reason: String| corrupt(&file.path, at, reason);
            let payload = &record[format::RECORD_HEADER..];
            let argument = meta.header.argument;
            if indirect_present(log, argument, payload, later_cut[index], &bad)? {
                report.records_skipped += 1;
            } else if Some(meta.pass) == chain.seq {
                // The last pass never synced (else its segment would hold
                // the batches): nothing of it was acknowledged.
                dropped.insert(id);
                report.records_dropped += 1;
            } else {
                let reason = "an indirect append is missing from its segment, yet its pass synced";
                return Err(bad(reason.to_owned()));
            }
            continue;
        }
        let applied = apply(
            log,
            (&meta.header, later_cut[index].map(|cut| Offset(cut as i64))),
            &record,
            &file.path,
            at,
        )?;
        if applied {
            report.records_replayed += 1;
        } else {
            report.records_skipped += 1;
        }
    }
    for log in logs.into_values().flatten() {
        // Close syncs the active segment: every replayed byte is durable.
        log.close()?;
    }
    journal.replaying.store(false, Ordering::Release);
    start_writer(disk, journal, &files, &chain)?;
    for path in stale.iter().chain(files.iter().map(|file| &file.path)) {
        medium.remove(path).map_err(io_error(path))?;
    }
    medium
        .sync_dir(&journal.dir)
        .map_err(io_error(&journal.dir))?;
    *lock(&journal.report) = report;
    Ok(())
}

/// Starts a new file after the last one (J1) whose first pass checkpoints
/// everything replayed (JOURNAL.md section 6, step 7).
fn start_writer(
    disk: &Disk,
    journal: &Journal,
    files: &[JournalFile],
    chain: &Chain,
) -> Result<()> {
    let start = files.last().map_or(0, JournalFile::end);
    let (file, header) = create_file(
        &disk.cache,
        &journal.dir,
        start,
        journal.config.file_bytes.0,
    )?;
    let position = start + FILE_HEADER_BYTES;
    let mut writer = Writer {
        file,
        header,
        next: position,
        seq: chain.seq.unwrap_or(0),
        last_end: chain.end.unwrap_or(0),
        failed: false,
        files: [(start, header.size)].into_iter().collect(),
    };
    let generation = lock(&journal.registry).generation;
    let checkpoint = super::Queued {
        kind: Kind::Checkpoint,
        log_id: 0,
        argument: position,
        payload: generation.to_be_bytes().to_vec(),
        publish: None,
        segment: None,
    };
    let end = writer.write_pass(journal, &disk.cache, &[checkpoint])?;
    assert_eq!(writer.header.start, start, "the first pass fits a new file");
    debug_assert!(file_path(&journal.dir, start).ends_with(format!("{start:020}.journal")));
    *lock(&journal.last_checkpoint) = (Instant::now(), position);
    lock(&journal.stats).checkpoints += 1;
    journal.synced_end.store(end, Ordering::Release);
    *lock(&journal.writer) = Some(writer);
    Ok(())
}
