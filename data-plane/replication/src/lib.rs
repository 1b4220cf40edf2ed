//! Fjord's replication core: one sans-IO Raft engine for every partition and
//! for the controller group. [`Engine::step`] takes an [`Input`] and returns
//! the [`Command`]s the node layer must execute in order; the engine does no
//! I/O. Terms are Kafka leader epochs, entries are record batches indexed by
//! offset, and the commit point is the high watermark. See
//! `docs/replication.md` for the algorithm and its invariants.

mod config;
#[cfg(test)]
mod electable_test;
mod election;
mod engine;
#[cfg(test)]
mod engine_test;
mod error;
mod follower;
mod leader;
#[cfg(test)]
mod leader_test;
mod leader_timers;
pub mod log;
mod membership;
#[cfg(test)]
mod membership_race_test;
#[cfg(test)]
mod membership_test;
pub mod message;
mod progress;
pub mod types;

pub use config::Config;
pub use engine::{Engine, FollowerProgress, HardState, LeaderStateView, Role};
pub use error::{Error, Result};
pub use log::{ConfigEntry, EpochStart, LogState};
pub use message::{
    AppendResult, AppendSource, Command, Input, MembershipChange, MembershipRefusal, Message,
    RejectHint, ReplyOutcome,
};
pub use types::{LogPosition, Millis, NodeId, Offset, RequestId, Term};
