//! The log registry `journal/logs` (JOURNAL.md section 2.5): log id ->
//! directory relative to the disk's root, with the settings replay needs.
//! Replaced whole: temporary file, `fdatasync`, rename, directory `fsync`.
//! Ids only grow (J7).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result, io_error};
use crate::file_cache::FileCache;
use crate::journal::format::u64_at;

const MAGIC: &[u8; 4] = b"FJLR";
const VERSION: u16 = 1;
/// Registry files above this are refused unread (a million logs).
const REGISTRY_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// What replay needs to open a log without its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub path: String,
    pub segment_bytes: u64,
    pub index_interval_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registry {
    pub generation: u64,
    pub next_id: u32,
    pub logs: BTreeMap<u32, Entry>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            generation: 0,
            next_id: 1,
            logs: BTreeMap::new(),
        }
    }
}

/// A registry path is relative, UTF-8 and never climbs out of the root.
pub(crate) fn relative_path(root: &Path, directory: &Path) -> Result<String> {
    let relative = directory.strip_prefix(root).map_err(|_| {
        Error::InvalidArgument(format!(
            "log directory {} is not under the journal's root {}",
            directory.display(),
            root.display()
        ))
    })?;
    let normal = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    match relative.to_str() {
        Some(text) if normal && !text.is_empty() && text.len() <= usize::from(u16::MAX) => {
            Ok(text.to_owned())
        }
        _ => Err(Error::InvalidArgument(format!(
            "log directory {} is not a plain path below the root",
            directory.display()
        ))),
    }
}

impl Registry {
    pub(crate) fn find(&self, path: &str) -> Option<u32> {
        self.logs
            .iter()
            .find_map(|(id, entry)| (entry.path == path).then_some(*id))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
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
            out.extend_from_slice(&entry.segment_bytes.to_be_bytes());
            out.extend_from_slice(&entry.index_interval_bytes.to_be_bytes());
            let len = u16::try_from(entry.path.len()).expect("checked by relative_path");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(entry.path.as_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Registry, String> {
        if bytes.len() < 28 || &bytes[0..4] != MAGIC {
            return Err("not a log registry".to_owned());
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err("log registry CRC mismatch".to_owned());
        }
        let version = u16::from_be_bytes([body[4], body[5]]);
        if version != VERSION {
            return Err(format!("unknown log registry version {version}"));
        }
        let u32_at =
            |at: usize| u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
        let mut registry = Registry {
            generation: u64_at(body, 8),
            next_id: u32_at(16),
            logs: BTreeMap::new(),
        };
        let count = u32_at(20);
        let mut at = 24usize;
        for _ in 0..count {
            if at + 18 > body.len() {
                return Err("log registry entry cut short".to_owned());
            }
            let id = u32_at(at);
            let segment_bytes = u64_at(body, at + 4);
            let index_interval_bytes = u32_at(at + 12);
            let len = usize::from(u16::from_be_bytes([body[at + 16], body[at + 17]]));
            at += 18;
            let path = body
                .get(at..at + len)
                .and_then(|raw| std::str::from_utf8(raw).ok())
                .ok_or("log registry path cut short or not UTF-8")?;
            at += len;
            let plain = Path::new(path)
                .components()
                .all(|component| matches!(component, Component::Normal(_)));
            if id == 0 || id >= registry.next_id || !plain || path.is_empty() {
                return Err(format!("log registry entry {id} ({path}) is invalid"));
            }
            let entry = Entry {
                path: path.to_owned(),
                segment_bytes,
                index_interval_bytes,
            };
            if registry.logs.insert(id, entry).is_some() {
                return Err(format!("log id {id} registered twice"));
            }
        }
        if at != body.len() {
            return Err("trailing bytes in the log registry".to_owned());
        }
        Ok(registry)
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

    /// Replaces the file durably with the next generation of this registry.
    pub(crate) fn store(&mut self, cache: &FileCache, path: &Path) -> Result<()> {
        self.generation += 1;
        let temporary: PathBuf = path.with_extension("tmp");
        let medium = cache.medium();
        medium.remove(&temporary).map_err(io_error(&temporary))?;
        let file = medium
            .open(&temporary, true)
            .map_err(io_error(&temporary))?;
        file.write_at(&self.encode(), 0)
            .map_err(io_error(&temporary))?;
        file.sync_data().map_err(io_error(&temporary))?;
        drop(file);
        cache.forget(path);
        medium.rename(&temporary, path).map_err(io_error(path))?;
        let directory = crate::medium::parent_of(path);
        medium.sync_dir(&directory).map_err(io_error(&directory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_round_trips_and_refuses_climbing_paths() {
        let mut registry = Registry::default();
        registry.logs.insert(
            1,
            Entry {
                path: "group-1/t-0".to_owned(),
                segment_bytes: 1 << 30,
                index_interval_bytes: 4096,
            },
        );
        registry.next_id = 2;
        assert_eq!(Registry::decode(&registry.encode()), Ok(registry.clone()));
        let root = Path::new("/data");
        assert!(relative_path(root, Path::new("/data/../etc")).is_err());
        assert!(relative_path(root, Path::new("/other/x")).is_err());
        assert_eq!(
            relative_path(root, Path::new("/data/a/b")).ok(),
            Some("a/b".to_owned())
        );
    }
}
