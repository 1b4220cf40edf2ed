//! The producer-state snapshot of a partition: `producer-state.json` in the
//! partition directory, written atomically with each log checkpoint. It
//! holds the state as of `log_end_offset`; at open the partition loads it
//! and replays the batch headers from that offset to the log end. A
//! snapshot that is missing, unreadable, or ahead of the recovered log (its
//! tail was lost in a crash) is ignored and the whole log is rescanned.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ProducerEntry, ProducerStates};

pub const FILE: &str = "producer-state.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    format_version: u32,
    log_end_offset: i64,
    producers: Vec<(i64, ProducerEntry)>,
}

/// Writes the state as of `log_end_offset` into `directory`.
pub fn write(
    directory: &Path,
    log_end_offset: i64,
    states: &ProducerStates,
) -> std::io::Result<()> {
    let snapshot = Snapshot {
        format_version: FORMAT_VERSION,
        log_end_offset,
        producers: states
            .entries()
            .map(|(id, entry)| (id, entry.clone()))
            .collect(),
    };
    let text = serde_json::to_vec(&snapshot).map_err(std::io::Error::other)?;
    fjord_storage::replace_file(&directory.join(FILE), &text)
}

/// The snapshot in `directory` and the offset it covers, if there is a
/// readable one.
pub fn read(directory: &Path) -> Option<(i64, ProducerStates)> {
    let path = directory.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read the producer snapshot, rescanning the log");
            return None;
        }
    };
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(snapshot) if snapshot.format_version == FORMAT_VERSION => Some((
            snapshot.log_end_offset,
            ProducerStates::from_entries(snapshot.producers),
        )),
        Ok(snapshot) => {
            tracing::warn!(path = %path.display(), version = snapshot.format_version, "unknown producer snapshot format, rescanning the log");
            None
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "unreadable producer snapshot, rescanning the log");
            None
        }
    }
}
