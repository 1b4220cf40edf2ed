//! The broker's data directory: exclusive ownership and identity.
//!
//! `DATA_DIR/.lock` is locked (advisory, whole file) for the life of the
//! process, so a second broker pointed at the same directory fails at start
//! instead of corrupting it. `DATA_DIR/broker.json` records the cluster id and
//! node id the directory belongs to; it is written once, atomically (write a
//! temporary file, fsync, rename, fsync the directory), and a broker started
//! with a different node id refuses the directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const METADATA_FILE: &str = "broker.json";
const LOCK_FILE: &str = ".lock";
const FORMAT_VERSION: u32 = 1;

/// Identity recorded in `broker.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryIdentity {
    pub format_version: u32,
    pub cluster_id: String,
    pub node_id: i32,
}

/// An open, locked data directory. The lock is released on drop.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    identity: DirectoryIdentity,
    _lock: File,
}

impl DataDir {
    /// Opens (creating if needed) and locks `path` for broker `node_id`.
    pub fn open(path: &Path, node_id: i32) -> Result<Self> {
        let io_error = |source| Error::DataDir {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io_error)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join(LOCK_FILE))
            .map_err(io_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::DataDirLocked {
                    path: path.to_owned(),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
        let identity = match read_identity(path)? {
            Some(identity) => identity,
            None => {
                let identity = DirectoryIdentity {
                    format_version: FORMAT_VERSION,
                    cluster_id: uuid::Uuid::new_v4().simple().to_string(),
                    node_id,
                };
                write_identity(path, &identity).map_err(io_error)?;
                identity
            }
        };
        if identity.node_id != node_id {
            return Err(Error::DataDirMetadata {
                path: path.to_owned(),
                reason: format!(
                    "it belongs to node {} but this broker is node {node_id}",
                    identity.node_id
                ),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            identity,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn cluster_id(&self) -> &str {
        &self.identity.cluster_id
    }
}

fn read_identity(path: &Path) -> Result<Option<DirectoryIdentity>> {
    let file = path.join(METADATA_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::DataDir { path: file, source }),
    };
    let identity: DirectoryIdentity =
        serde_json::from_str(&text).map_err(|error| Error::DataDirMetadata {
            path: path.to_owned(),
            reason: format!("{METADATA_FILE}: {error}"),
        })?;
    if identity.format_version != FORMAT_VERSION {
        return Err(Error::DataDirMetadata {
            path: path.to_owned(),
            reason: format!("unsupported format_version {}", identity.format_version),
        });
    }
    Ok(Some(identity))
}

fn write_identity(path: &Path, identity: &DirectoryIdentity) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(identity).map_err(std::io::Error::other)?;
    fjord_storage::replace_file(&path.join(METADATA_FILE), &text)
}

/// Bytes of the regular files under `path` (symbolic links not followed):
/// what the broker keeps on disk. Files and directories that vanish during
/// the walk (a segment deleted by retention) count as gone.
pub fn used_bytes(path: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut pending = vec![path.to_owned()];
    while let Some(directory) = pending.pop() {
        let entries = match std::fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            let metadata = match std::fs::symlink_metadata(entry.path()) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else if metadata.is_file() {
                total = total.saturating_add(metadata.len());
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_bytes_counts_the_files_below() {
        let directory = tempfile::tempdir().unwrap();
        assert_eq!(used_bytes(directory.path()).unwrap(), 0);
        std::fs::write(directory.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir_all(directory.path().join("topic-0/x")).unwrap();
        std::fs::write(directory.path().join("topic-0/x/segment"), [0u8; 1000]).unwrap();
        assert_eq!(used_bytes(directory.path()).unwrap(), 1100);
        assert!(used_bytes(&directory.path().join("missing")).is_ok());
    }

    #[test]
    fn identity_survives_reopen_and_second_opener_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let first = DataDir::open(directory.path(), 1).unwrap();
        let cluster_id = first.cluster_id().to_owned();
        assert_eq!(cluster_id.len(), 32);
        let error = DataDir::open(directory.path(), 1).unwrap_err();
        assert!(matches!(error, Error::DataDirLocked { .. }), "{error}");
        drop(first);
        let reopened = DataDir::open(directory.path(), 1).unwrap();
        assert_eq!(reopened.cluster_id(), cluster_id);
    }

    #[test]
    fn directory_of_another_node_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        drop(DataDir::open(directory.path(), 1).unwrap());
        let error = DataDir::open(directory.path(), 2).unwrap_err();
        assert!(error.to_string().contains("belongs to node 1"), "{error}");
    }

    #[test]
    fn corrupt_metadata_is_reported_not_overwritten() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join(METADATA_FILE), b"{not json").unwrap();
        let error = DataDir::open(directory.path(), 0).unwrap_err();
        assert!(error.to_string().contains(METADATA_FILE), "{error}");
        let kept = std::fs::read(directory.path().join(METADATA_FILE)).unwrap();
        assert_eq!(kept, b"{not json");
    }
}
