//! Replacing a small file so that a crash leaves either the old contents or
//! the new ones, never a mix: the one copy of the sequence every metadata
//! file of the node and the broker uses (term and vote, membership, topic
//! registry, producer snapshots and ids, users, the data directory's
//! identity).
//!
//! Steps, and what a crash after each leaves:
//! 1. write `<name>.tmp` beside the file: the old file, and a stray
//!    temporary the next replace truncates;
//! 2. `fsync` the temporary: the same;
//! 3. rename it over `<name>`: old or new, whichever the directory entry
//!    reached the disk with;
//! 4. `fsync` the directory: the new file, durably.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary beside `path` that [`replace_file`] writes first.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` atomically and durably (module comment).
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = temporary_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_is_left() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("registry.json");
        replace_file(&path, b"first").unwrap();
        replace_file(&path, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        // A temporary left by a crash is overwritten, not appended to.
        std::fs::write(temporary_path(&path), b"stale bytes from before a crash").unwrap();
        replace_file(&path, b"third").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        let names: Vec<_> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["registry.json"]);
        assert_eq!(
            temporary_path(Path::new("a/raft-state")),
            Path::new("a/raft-state.tmp")
        );
    }
}
