//! The log registry `journal/logs` (JOURNAL.md section 2.5): log id ->
//! directory relative to the disk's root, with the settings replay needs.
//!
//! A snapshot, then change records, one per 4096-byte page. Registering or
//! removing a log writes one record at the next page and `fdatasync`s the
//! file: one page and one sync, however many logs exist. Once the records
//! outnumber a quarter of the logs (and 64), the file is compacted: replaced
//! whole by a snapshot (temporary file, `fdatasync`, rename, directory
//! `fsync`). Compaction writes O(logs) bytes once per O(logs) changes, so a
//! change costs O(1) amortised. Ids only grow (J7).

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result, io_error};
use crate::file_cache::FileCache;
use crate::journal::format::{PAGE, u64_at};

const MAGIC: &[u8; 4] = b"FJLR";
const VERSION: u16 = 2;
/// Registry files above this are refused unread (a million logs).
const REGISTRY_BYTES_MAX: u64 = 512 * 1024 * 1024;
/// Snapshot header: magic, version, flags, generation, next id, count.
const SNAPSHOT_HEADER: usize = 24;
/// Record header: length, CRC, generation, kind, reserved, log id.
const RECORD_HEADER: usize = 24;
/// A Put record's fields after the header: segment bytes, index interval,
/// path length.
const PUT_FIELDS: usize = 14;
/// The longest path a record holds: a record never crosses a page, so every
/// page boundary holds either a record header or nothing we wrote.
pub(crate) const PATH_BYTES_MAX: usize = PAGE as usize - RECORD_HEADER - PUT_FIELDS;
/// Compaction waits for at least this many records.
const COMPACT_RECORDS_MIN: u64 = 64;

const KIND_PUT: u8 = 1;
const KIND_REMOVE: u8 = 2;

/// What replay needs to open a log without its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub path: String,
    pub segment_bytes: u64,
    pub index_interval_bytes: u32,
}

/// One change record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Put(u32, Entry),
    Remove(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct Registry {
    /// Counts every change and compaction; the next record carries it + 1.
    pub generation: u64,
    pub next_id: u32,
    pub logs: BTreeMap<u32, Entry>,
    by_path: HashMap<String, u32>,
    /// The page where the next record goes.
    end: u64,
    /// Records after the snapshot.
    records: u64,
    /// Bytes written by changes and compactions so far (for tests).
    pub bytes_written: u64,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            generation: 0,
            next_id: 1,
            logs: BTreeMap::new(),
            by_path: HashMap::new(),
            end: 0,
            records: 0,
            bytes_written: 0,
        }
    }
}

/// A registry path is relative, UTF-8, fits a record and never climbs out of
/// the root.
pub(crate) fn relative_path(root: &Path, directory: &Path) -> Result<String> {
    let relative = directory.strip_prefix(root).map_err(|_| {
        Error::InvalidArgument(format!(
            "log directory {} is not under the journal's root {}",
            directory.display(),
            root.display()
        ))
    })?;
    match relative.to_str() {
        Some(text) if plain(text) => Ok(text.to_owned()),
        _ => Err(Error::InvalidArgument(format!(
            "log directory {} is not a plain path below the root of at most {PATH_BYTES_MAX} bytes",
            directory.display()
        ))),
    }
}

fn plain(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= PATH_BYTES_MAX
        && Path::new(path)
            .components()
            .all(|component| matches!(component, Component::Normal(_)))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn page_up(len: u64) -> u64 {
    len.div_ceil(PAGE) * PAGE
}

impl Registry {
    pub(crate) fn find(&self, path: &str) -> Option<u32> {
        self.by_path.get(path).copied()
    }

    /// The snapshot: header, entries, CRC-32C of all before, zeros to a page.
    fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(&self.next_id.to_be_bytes());
        let count = u32::try_from(self.logs.len()).expect("fewer than 4 billion logs");
        out.extend_from_slice(&count.to_be_bytes());
        for (id, entry) in &self.logs {
            out.extend_from_slice(&id.to_be_bytes());
            encode_entry(&mut out, entry);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out.resize(
            usize::try_from(page_up(out.len() as u64)).expect("small"),
            0,
        );
        out
    }

    /// Decodes a whole registry file: the snapshot, then every record up to
    /// the first that fails. A failed record with a valid one at a later page
    /// is damage to a synced record (records are written one at a time, each
    /// synced before the next): `Err`. Otherwise it was the torn last one,
    /// never acknowledged, and is ignored.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Registry, String> {
        let mut registry = decode_snapshot(bytes)?;
        let mut at = registry.end;
        // Bounded: each round moves one page on.
        while at < bytes.len() as u64 {
            let Some((generation, change)) = decode_record(bytes, at) else {
                let later = (at / PAGE + 1..)
                    .map(|page| page * PAGE)
                    .take_while(|position| *position < bytes.len() as u64)
                    .find(|position| decode_record(bytes, *position).is_some());
                if let Some(position) = later {
                    return Err(format!(
                        "registry record at byte {at} is damaged but the one at {position} is valid"
                    ));
                }
                break;
            };
            if generation != registry.generation + 1 {
                return Err(format!(
                    "registry record at byte {at} has generation {generation}, expected {}",
                    registry.generation + 1
                ));
            }
            registry
                .apply(change)
                .map_err(|why| format!("{why} (byte {at})"))?;
            registry.generation = generation;
            registry.records += 1;
            at += PAGE;
        }
        registry.end = at;
        Ok(registry)
    }

    /// Applies a change in memory, refusing one that breaks J7.
    fn apply(&mut self, change: Change) -> Result<(), String> {
        match change {
            Change::Put(id, entry) => {
                let known = self.logs.get(&id).map(|old| old.path.as_str());
                if known.is_some_and(|path| path != entry.path) {
                    return Err(format!("log id {id} moved to another directory"));
                }
                if known.is_none() && id < self.next_id {
                    return Err(format!("log id {id} reused"));
                }
                if self
                    .by_path
                    .get(&entry.path)
                    .is_some_and(|other| *other != id)
                {
                    return Err(format!("{} registered twice", entry.path));
                }
                self.next_id = self
                    .next_id
                    .max(id.checked_add(1).ok_or("log id overflow")?);
                self.by_path.insert(entry.path.clone(), id);
                self.logs.insert(id, entry);
            }
            Change::Remove(id) => {
                let entry = self
                    .logs
                    .remove(&id)
                    .ok_or_else(|| format!("unknown log id {id} removed"))?;
                self.by_path.remove(&entry.path);
            }
        }
        Ok(())
    }

    /// Reads `path`: `Ok(None)` if missing, `Error::Corrupt` if invalid.
    pub(crate) fn load(cache: &FileCache, path: &Path) -> Result<Option<Registry>> {
        let file = match cache.medium().open(path, false) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(path)(error)),
        };
        let len = file.len().map_err(io_error(path))?;
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_owned(),
            position: 0,
            reason,
        };
        if len > REGISTRY_BYTES_MAX {
            return Err(corrupt(format!("log registry of {len} bytes")));
        }
        let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(0)];
        file.read_exact_at(&mut bytes, 0).map_err(io_error(path))?;
        Registry::decode(&bytes).map(Some).map_err(corrupt)
    }

    /// Registers or updates log `id` durably.
    pub(crate) fn put(
        &mut self,
        cache: &FileCache,
        path: &Path,
        id: u32,
        entry: Entry,
    ) -> Result<()> {
        assert!(plain(&entry.path), "checked by relative_path");
        assert!(id != 0 && (self.logs.contains_key(&id) || id >= self.next_id));
        self.append(cache, path, Change::Put(id, entry))
    }

    /// Unregisters log `id` durably.
    pub(crate) fn remove(&mut self, cache: &FileCache, path: &Path, id: u32) -> Result<()> {
        assert!(
            self.logs.contains_key(&id),
            "only a registered log is removed"
        );
        self.append(cache, path, Change::Remove(id))
    }

    /// Writes `change` as one record at the next page and syncs it; changes
    /// memory only once that returned; compacts when the records are due.
    fn append(&mut self, cache: &FileCache, path: &Path, change: Change) -> Result<()> {
        assert!(
            self.end.is_multiple_of(PAGE) && self.end > 0,
            "a stored registry"
        );
        let generation = self.generation + 1;
        let record = encode_record(generation, &change);
        assert!(record.len() as u64 <= PAGE, "a record never crosses a page");
        let file = cache.medium().open(path, false).map_err(io_error(path))?;
        file.write_at(&record, self.end).map_err(io_error(path))?;
        file.sync_data().map_err(io_error(path))?;
        self.apply(change)
            .expect("a change that passed the asserts applies");
        self.generation = generation;
        self.end += PAGE;
        self.records += 1;
        self.bytes_written += record.len() as u64;
        if self.records > COMPACT_RECORDS_MIN.max(self.logs.len() as u64 / 4) {
            self.compact(cache, path)?;
        }
        Ok(())
    }

    /// Replaces the file durably with a snapshot of this registry.
    pub(crate) fn compact(&mut self, cache: &FileCache, path: &Path) -> Result<()> {
        self.generation += 1;
        let snapshot = self.encode_snapshot();
        let temporary: PathBuf = path.with_extension("tmp");
        let medium = cache.medium();
        medium.remove(&temporary).map_err(io_error(&temporary))?;
        let file = medium
            .open(&temporary, true)
            .map_err(io_error(&temporary))?;
        file.write_at(&snapshot, 0).map_err(io_error(&temporary))?;
        file.sync_data().map_err(io_error(&temporary))?;
        drop(file);
        cache.forget(path);
        medium.rename(&temporary, path).map_err(io_error(path))?;
        let directory = crate::medium::parent_of(path);
        medium.sync_dir(&directory).map_err(io_error(&directory))?;
        self.end = snapshot.len() as u64;
        self.records = 0;
        self.bytes_written += snapshot.len() as u64;
        Ok(())
    }
}

fn encode_entry(out: &mut Vec<u8>, entry: &Entry) {
    out.extend_from_slice(&entry.segment_bytes.to_be_bytes());
    out.extend_from_slice(&entry.index_interval_bytes.to_be_bytes());
    let len = u16::try_from(entry.path.len()).expect("checked by relative_path");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry.path.as_bytes());
}

/// Decodes segment bytes, index interval, path length and path at `at`;
/// returns the entry and where it ends.
fn decode_entry(body: &[u8], at: usize) -> Result<(Entry, usize), String> {
    if at + PUT_FIELDS > body.len() {
        return Err("log registry entry cut short".to_owned());
    }
    let segment_bytes = u64_at(body, at);
    let index_interval_bytes = u32_at(body, at + 8);
    let len = usize::from(u16::from_be_bytes([body[at + 12], body[at + 13]]));
    let start = at + PUT_FIELDS;
    let path = body
        .get(start..start + len)
        .and_then(|raw| std::str::from_utf8(raw).ok())
        .ok_or("log registry path cut short or not UTF-8")?;
    if !plain(path) {
        return Err(format!("log registry path {path:?} is not plain"));
    }
    let entry = Entry {
        path: path.to_owned(),
        segment_bytes,
        index_interval_bytes,
    };
    Ok((entry, start + len))
}

fn decode_snapshot(bytes: &[u8]) -> Result<Registry, String> {
    if bytes.len() < SNAPSHOT_HEADER + 4 || &bytes[0..4] != MAGIC {
        return Err("not a log registry".to_owned());
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(format!("unknown log registry version {version}"));
    }
    let mut registry = Registry {
        generation: u64_at(bytes, 8),
        next_id: u32_at(bytes, 16),
        ..Registry::default()
    };
    if registry.next_id == 0 {
        return Err("log registry's next id is 0".to_owned());
    }
    let count = u32_at(bytes, 20);
    let mut at = SNAPSHOT_HEADER;
    for _ in 0..count {
        if at + 4 > bytes.len() {
            return Err("log registry entry cut short".to_owned());
        }
        let id = u32_at(bytes, at);
        let (entry, end) = decode_entry(bytes, at + 4)?;
        at = end;
        if id == 0 || id >= registry.next_id {
            return Err(format!(
                "log registry entry {id} ({}) is invalid",
                entry.path
            ));
        }
        if registry.by_path.insert(entry.path.clone(), id).is_some()
            || registry.logs.insert(id, entry).is_some()
        {
            return Err(format!("log id {id} or its path registered twice"));
        }
    }
    let crc = bytes.get(at..at + 4).ok_or("log registry CRC cut short")?;
    if crc32c::crc32c(&bytes[..at]) != u32_at(crc, 0) {
        return Err("log registry CRC mismatch".to_owned());
    }
    registry.end = page_up(at as u64 + 4);
    Ok(registry)
}

/// A record: length u32 (header and body, 0 = none), CRC-32C u32 of bytes
/// 8..length, generation u64, kind u8, three zero bytes, log id u32, then
/// for Put the entry's fields.
fn encode_record(generation: u64, change: &Change) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    out.extend_from_slice(&generation.to_be_bytes());
    let (kind, id) = match change {
        Change::Put(id, _) => (KIND_PUT, *id),
        Change::Remove(id) => (KIND_REMOVE, *id),
    };
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&id.to_be_bytes());
    if let Change::Put(_, entry) = change {
        encode_entry(&mut out, entry);
    }
    let len = u32::try_from(out.len()).expect("a record fits a page");
    out[0..4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&out[8..]);
    out[4..8].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The record at `at` with its generation, or `None` if there is no valid one.
fn decode_record(bytes: &[u8], at: u64) -> Option<(u64, Change)> {
    let at = usize::try_from(at).ok()?;
    let page = bytes.get(at..bytes.len().min(at + PAGE as usize))?;
    if page.len() < RECORD_HEADER {
        return None;
    }
    let len = usize::try_from(u32_at(page, 0)).ok()?;
    if len < RECORD_HEADER || len > page.len() {
        return None;
    }
    let record = &page[..len];
    if crc32c::crc32c(&record[8..]) != u32_at(record, 4) || record[17..20] != [0, 0, 0] {
        return None;
    }
    let generation = u64_at(record, 8);
    let id = u32_at(record, 20);
    let change = match record[16] {
        KIND_PUT => {
            let (entry, end) = decode_entry(record, RECORD_HEADER).ok()?;
            (end == len).then_some(Change::Put(id, entry))?
        }
        KIND_REMOVE if len == RECORD_HEADER => Change::Remove(id),
        _ => return None,
    };
    (id != 0).then_some((generation, change))
}

#[cfg(test)]
mod tests;
