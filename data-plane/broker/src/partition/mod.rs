//! Partitions as the broker sees them: a small replication-layer trait
//! ([`PartitionReplica`]), implemented by a single broker's replica over the
//! storage core ([`LocalReplica`]) and, in a cluster, by the Raft-replicated
//! replica and the placeholder of a partition this broker does not host
//! (`cluster/replica.rs`), so the request handlers never talk to a `Log`
//! directly.

mod local;

use std::fmt::Debug;
use std::time::Duration;

use fjord_storage::{AppendInfo, LeaderEpoch, Offset, Timestamp};
use kafka_protocol::ResponseError;
use tokio::sync::Notify;

use crate::producer::SequenceError;
use crate::topic_config::PartitionSettings;

pub use local::LocalReplica;
pub(crate) use local::{producer_batch, replay_log};

/// Offsets a partition reports to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub log_start: Offset,
    pub high_watermark: Offset,
    pub log_end: Offset,
}

/// Why a partition operation failed, each with its Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("corrupt record batch: {0}")]
    CorruptBatch(String),
    #[error("offset {offset} is out of range")]
    OffsetOutOfRange { offset: i64 },
    #[error("the disk is offline: {0}")]
    DiskOffline(String),
    #[error("storage error: {0}")]
    Storage(String),
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error("record batches of {bytes} bytes exceed the topic's max.message.bytes of {limit}")]
    MessageTooLarge { bytes: usize, limit: usize },
    #[error("invalid log settings: {0}")]
    InvalidSettings(String),
    #[error("this broker does not lead the partition (leader: {leader:?})")]
    NotLeader { leader: Option<u32> },
    /// Too many appends wait for commit on the partition: nothing was
    /// appended and the client should retry after its backoff.
    #[error("too many appends wait for commit; retry")]
    Overloaded,
}

/// What an append came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Where the batches are; for a duplicate, where the original went
    /// (`log_end_offset` is then the original's end, to wait on for acks=all).
    pub info: AppendInfo,
    /// An idempotent producer's retry of a batch already in the log.
    pub duplicate: bool,
}

impl ReplicaError {
    pub fn kafka_error(&self) -> ResponseError {
        match self {
            Self::CorruptBatch(_) => ResponseError::CorruptMessage,
            Self::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            Self::DiskOffline(_) => ResponseError::KafkaStorageError,
            Self::Storage(_) => ResponseError::KafkaStorageError,
            Self::Sequence(SequenceError::OutOfOrder { .. }) => {
                ResponseError::OutOfOrderSequenceNumber
            }
            Self::Sequence(SequenceError::StaleEpoch { .. }) => ResponseError::InvalidProducerEpoch,
            Self::Sequence(SequenceError::Invalid { .. }) => ResponseError::InvalidRecord,
            Self::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
            Self::InvalidSettings(_) => ResponseError::InvalidConfig,
            Self::NotLeader { .. } => ResponseError::NotLeaderOrFollower,
            // A retriable code every client backs off and resends on; not
            // KAFKA_STORAGE_ERROR, which reads as a failed disk.
            Self::Overloaded => ResponseError::RequestTimedOut,
        }
    }
}

/// One partition replica. Every method may block on disk I/O: call them
/// from a blocking thread (`spawn_blocking`), never on an async worker.
pub trait PartitionReplica: Send + Sync + Debug {
    /// Whether this replica serves clients (it leads the partition);
    /// `NotLeader` otherwise. A single broker always does.
    fn serves(&self) -> Result<(), ReplicaError> {
        Ok(())
    }
    /// Appends producer batches as leader; offsets are assigned here. An
    /// idempotent producer's batch is checked against the partition's
    /// producer state atomically with the append: a retried duplicate is
    /// acknowledged with its original offsets and not appended again.
    fn append(&self, batches: &mut [u8]) -> Result<AppendOutcome, ReplicaError>;
    /// Reads whole batches from `start`, below the high watermark, up to
    /// `max_bytes` (at least one batch if any). Returns the next offset.
    fn read(
        &self,
        start: Offset,
        max_bytes: u64,
        out: &mut Vec<u8>,
    ) -> Result<Offset, ReplicaError>;
    fn offsets(&self) -> PartitionOffsets;
    /// Blocks until every offset below `offset` is durable (acks=all).
    fn wait_durable(&self, offset: Offset, timeout: Duration) -> bool;
    /// First batch whose max timestamp is >= `target`, its bytes in `out`.
    fn batch_for_time(
        &self,
        target: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<Option<Offset>, ReplicaError>;
    fn leader_epoch(&self) -> LeaderEpoch;
    /// The end offset of `epoch` (OffsetForLeaderEpoch).
    fn epoch_end_offset(&self, epoch: LeaderEpoch) -> Option<(LeaderEpoch, Offset)>;
    /// Notified after every append, for long-polling fetches.
    fn appended(&self) -> &Notify;
    /// Replaces the log settings (topic configs) and applies retention under
    /// the new ones at once.
    fn configure(&self, settings: &PartitionSettings) -> Result<(), ReplicaError>;
    /// Writes a checkpoint and applies retention.
    fn maintain(&self) -> Result<(), ReplicaError>;
    /// Syncs what is pending and writes a checkpoint (at shutdown).
    fn flush(&self) -> Result<(), ReplicaError>;
}
