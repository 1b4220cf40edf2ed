//! Reading the journal back (JOURNAL.md section 6, steps 1-3): the file
//! headers, then the pass chain across files, keeping the records of
//! complete passes only; a torn tail is cut, damage to a synced pass is
//! `Error::Corrupt`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::durability::Disk;
use crate::error::{Error, Result, io_error};
use crate::journal::format::{self, FILE_HEADER_BYTES, FileHeader, Kind, PAGE, RecordHeader};
use crate::journal::registry::Registry;
use crate::journal::{Journal, JournalReport};
use crate::medium::MediumFile;
use crate::sim::lock;

pub(crate) struct JournalFile {
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<dyn MediumFile>,
    pub(crate) header: FileHeader,
}

/// A valid record of a complete pass.
pub(crate) struct Meta {
    pub(crate) file: usize,
    pub(crate) position: u64,
    pub(crate) header: RecordHeader,
    /// Sequence of the pass that carried it.
    pub(crate) pass: u64,
}

#[derive(Default)]
pub(crate) struct Chain {
    pub(crate) seq: Option<u64>,
    pub(crate) end: Option<u64>,
    pub(crate) metas: Vec<Meta>,
}

pub(crate) fn corrupt(path: &std::path::Path, position: u64, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        position,
        reason,
    }
}

impl JournalFile {
    pub(crate) fn read(&self, position: u64, len: usize) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; len];
        self.file
            .read_exact_at(&mut bytes, position - self.header.start)
            .map_err(io_error(&self.path))?;
        Ok(bytes)
    }

    pub(crate) fn end(&self) -> u64 {
        self.header.start + self.header.size
    }

    /// The valid record at `position`: `Ok(None)` for zeros or anything
    /// that fails a check.
    fn record_at(&self, position: u64) -> Result<Option<(RecordHeader, Vec<u8>)>> {
        if position + format::RECORD_HEADER as u64 > self.end() {
            return Ok(None);
        }
        let head = self.read(position, format::RECORD_HEADER)?;
        let Ok(Some(header)) = format::decode_header(&head, position, self.end() - position) else {
            return Ok(None);
        };
        let record = self.read(position, header.len as usize)?;
        Ok(format::check_crc(self.header.salt, &record).then_some((header, record)))
    }

    /// `(sequence, previous pass end)` of the file's first pass, if valid.
    fn first_pass(&self) -> Result<Option<(u64, u64)>> {
        let position = self.header.start + FILE_HEADER_BYTES;
        Ok(match self.record_at(position)? {
            Some((header, record)) if header.kind == Kind::Pass && header.len >= 40 => {
                Some((header.argument, format::u64_at(&record, 32)))
            }
            _ => None,
        })
    }

    /// Scans complete passes into `chain` until `stop` (the position the
    /// next file says this one ended at) or the first record that fails.
    /// Returns where the scan stopped and whether that was a failure or an
    /// unfinished pass (a torn tail, if this is the last file).
    fn scan(&self, index: usize, stop: Option<u64>, chain: &mut Chain) -> Result<(u64, bool)> {
        let mut position = self.header.start + FILE_HEADER_BYTES;
        let mut pending = Vec::new();
        let mut pass: Option<u64> = None;
        // Bounded: each round moves past one record of at least 32 bytes.
        loop {
            if stop == Some(position) {
                return Ok((position, pass.is_some()));
            }
            if stop.is_some_and(|stop| position > stop) {
                return Ok((position, true));
            }
            let Some((header, record)) = self.record_at(position)? else {
                let zeros = self.read_zero_or_bad(position)?;
                return Ok((position, !zeros || pass.is_some()));
            };
            match header.kind {
                Kind::Pass => {
                    let previous_end = if header.len >= 40 {
                        format::u64_at(&record, 32)
                    } else {
                        u64::MAX
                    };
                    let follows = chain.seq.is_none_or(|seq| header.argument == seq + 1)
                        && chain.end.is_none_or(|end| previous_end == end);
                    if pass.is_some() || !position.is_multiple_of(PAGE) || !follows {
                        return Ok((position, true));
                    }
                    pass = Some(header.argument);
                }
                Kind::Pad => {
                    let end = position + u64::from(header.len);
                    let Some(seq) = pass.take() else {
                        return Ok((position, true));
                    };
                    if !end.is_multiple_of(PAGE) {
                        return Ok((position, true));
                    }
                    chain.metas.append(&mut pending);
                    chain.seq = Some(seq);
                    chain.end = Some(end);
                }
                _ if pass.is_none() => return Ok((position, true)),
                _ => {}
            }
            match (header.kind, pass) {
                (Kind::Pass | Kind::Pad, _) | (_, None) => {}
                (_, Some(seq)) => pending.push(Meta {
                    file: index,
                    position,
                    header,
                    pass: seq,
                }),
            }
            position += u64::from(header.len);
        }
    }

    /// Whether the bytes at `position` read as the end of data (a zero length).
    fn read_zero_or_bad(&self, position: u64) -> Result<bool> {
        if position + 4 > self.end() {
            return Ok(true);
        }
        Ok(self.read(position, 4)? == [0u8; 4])
    }

    /// Whether a valid Pass later than sequence `seq` sits on a page after
    /// `from`: then the pass that failed at `from` had synced (J6).
    fn later_pass_exists(&self, from: u64, seq: Option<u64>) -> Result<bool> {
        let mut page = (from + 1).next_multiple_of(PAGE);
        // Bounded by the file size.
        while page + format::RECORD_HEADER as u64 <= self.end() {
            if let Some((header, _)) = self.record_at(page)?
                && header.kind == Kind::Pass
                && seq.is_none_or(|seq| header.argument > seq)
            {
                return Ok(true);
            }
            page += PAGE;
        }
        Ok(false)
    }
}

/// Reads the registry and the file headers; returns the journal's files in
/// position order (files before a gap in positions are stale and returned
/// separately for deletion).
pub(crate) fn open_files(
    disk: &Disk,
    journal: &Journal,
) -> Result<(Vec<JournalFile>, Vec<PathBuf>)> {
    let medium = disk.cache.medium();
    for name in medium.list(&journal.dir).map_err(io_error(&journal.dir))? {
        if name.ends_with(".tmp") {
            let path = journal.dir.join(name);
            medium.remove(&path).map_err(io_error(&path))?;
        }
    }
    let named = disk.journal_files()?;
    let registry_path = journal.registry_path();
    let registry = match Registry::load(&disk.cache, &registry_path)? {
        Some(registry) => registry,
        None if named.is_empty() => {
            let mut registry = Registry::default();
            registry.compact(&disk.cache, &registry_path)?;
            registry
        }
        None => {
            let reason = "journal files but no log registry".to_owned();
            return Err(corrupt(&registry_path, 0, reason));
        }
    };
    *lock(&journal.registry) = registry;
    let mut files: Vec<JournalFile> = Vec::new();
    let count = named.len();
    for (index, (start, name)) in named.into_iter().enumerate() {
        let path = journal.dir.join(name);
        let file = medium.open(&path, false).map_err(io_error(&path))?;
        let len = file.len().map_err(io_error(&path))?;
        let mut head = vec![0u8; FILE_HEADER_BYTES as usize];
        let read = file.read_exact_at(&mut head, 0);
        let decoded = read
            .map_err(|error| error.to_string())
            .and_then(|()| FileHeader::decode(&head, start, len));
        match decoded {
            Ok(header) => files.push(JournalFile { path, file, header }),
            Err(_) if index + 1 == count => {
                // Being created by a rotation when the crash came: unused.
                medium.remove(&path).map_err(io_error(&path))?;
                medium
                    .sync_dir(&journal.dir)
                    .map_err(io_error(&journal.dir))?;
            }
            Err(reason) => return Err(corrupt(&path, 0, reason)),
        }
    }
    let mut first = 0;
    for index in 1..files.len() {
        let previous_end = files[index - 1].end();
        if files[index].header.start < previous_end {
            let reason = "journal files overlap".to_owned();
            return Err(corrupt(&files[index].path, 0, reason));
        }
        if files[index].header.start != previous_end {
            first = index;
        }
    }
    let stale = files.drain(..first).map(|file| file.path).collect();
    Ok((files, stale))
}

/// Scans the pass chain across files (JOURNAL.md section 6, steps 2-3).
pub(crate) fn scan_chain(files: &[JournalFile], report: &mut JournalReport) -> Result<Chain> {
    let mut chain = Chain::default();
    let mut index = 0;
    // Bounded: `index` grows every round.
    while index < files.len() {
        let file = &files[index];
        let mut next = None;
        for (later, candidate) in files.iter().enumerate().skip(index + 1) {
            if let Some((_, previous_end)) = candidate.first_pass()? {
                next = Some((later, previous_end));
                break;
            }
        }
        let stop = next.map(|(_, previous_end)| previous_end);
        if stop == Some(0) {
            // The next file holds the first pass ever written: nothing here.
            index = next.map_or(files.len(), |(later, _)| later);
            continue;
        }
        let (ended, failed) = file.scan(index, stop, &mut chain)?;
        report.bytes_scanned += ended - file.header.start;
        match stop {
            Some(stop) if failed || ended != stop => {
                let reason =
                    format!("the journal is damaged before {stop}, where the next file continues");
                return Err(corrupt(&file.path, ended - file.header.start, reason));
            }
            Some(_) => {}
            None => {
                if file.later_pass_exists(ended, chain.seq)? {
                    let reason = "a record of a synced pass fails its checks".to_owned();
                    return Err(corrupt(&file.path, ended - file.header.start, reason));
                }
                report.torn_tail = failed;
            }
        }
        index = next.map_or(files.len(), |(later, _)| later);
    }
    Ok(chain)
}
