//! Fjord's storage core: per-partition logs of Kafka RecordBatch v2 segments
//! with sparse indexes, CRC-checked appends and recovery, retention, suffix
//! truncation and group-committed durability. Synchronous `std` I/O; see
//! `DESIGN.md` beside this crate for the on-disk format and the invariants.
//!
//! Use: create one [`Disk`] per data directory (it owns the open-file cache
//! and the flush queue), open a [`Log`] per partition on it, and, with
//! [`FlushPolicy::GroupCommit`], start the disk's flusher. Acknowledge
//! `acks=all` once [`Log::durability`] reports the offset durable.
//!
//! With [`FlushPolicy::Journal`] open the disk with [`Disk::open`] on the
//! root every log lives under: appends of all its logs are group-committed to
//! one journal file (one write and one `fdatasync` per pass), segments are
//! synced behind it by [`Disk::checkpoint`], and opening the disk replays the
//! journal (`JOURNAL.md`).

pub mod batch;
mod checkpoint;
pub mod durability;
mod epochs;
mod error;
pub mod file_cache;
mod index;
mod journal;
mod log;
mod maintenance;
pub mod medium;
mod recovery;
mod replace;
mod scan;
mod segment;
pub mod sim;
#[cfg(feature = "testsuite")]
pub mod testsuite;
pub mod types;

pub use durability::{Clock, Disk, DurableOffset, FlushPolicy, FlushReport, Flusher, SystemClock};
pub use error::{Error, Result};
pub use journal::{JournalConfig, JournalReport, JournalStats};
pub use log::{AppendInfo, Fetched, Log, LogConfig, RecoveryReport, SEGMENT_BYTES_MAX};
pub use medium::{Medium, MediumFile, Preallocate, StdMedium};
pub use replace::{replace_file, temporary_path};
pub use sim::SimMedium;
pub use types::{ByteSize, LeaderEpoch, Offset, Timestamp};
