//! The idempotent producer (KIP-98 without transactions).
//!
//! - [`ProducerIds`]: durable allocation of producer ids for InitProducerId;
//!   an id is never handed out twice, across restarts included.
//! - [`ProducerStates`]: the per-partition, sans-IO state machine that
//!   decides for each producer batch whether to append it, acknowledge it as
//!   a duplicate of one already in the log, or refuse it (sequence gap, stale
//!   epoch). The partition runs it under the same lock as its append.
//! - [`Refusals`]: the batches a replica refused retriably, so that the
//!   next one is not answered as a sequence gap (librdkafka bumps its epoch
//!   on those).
//! - [`snapshot`]: the state written beside the log's checkpoint, so that a
//!   restart rescans only the log's tail.
//!
//! The design and its crash behaviour are in `docs/kafka-protocol.md`.

mod ids;
mod refusals;
pub mod snapshot;
mod state;
#[cfg(test)]
mod state_test;

pub use ids::ProducerIds;
pub use refusals::{REFUSALS_KEPT, REFUSED_PER_PRODUCER, Refusals};
pub use state::{
    BATCHES_KEPT, BatchMetadata, Check, ProducerBatch, ProducerEntry, ProducerStates,
    SequenceError, last_sequence,
};
