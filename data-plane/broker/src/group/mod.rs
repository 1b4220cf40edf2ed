//! The classic consumer-group coordinator, as a sans-IO state machine.
//!
//! Kafka clients coordinate partition ownership through the broker that
//! coordinates their group: members join, one of them (the leader) computes
//! an assignment, every member fetches its share, and heartbeats keep each
//! member's session alive. This module holds all of that state and logic and
//! performs no I/O: each call takes the current time and returns [`Effect`]s
//! (replies to send, records to persist). The broker executes them, calls
//! [`Coordinator::tick`] at [`Coordinator::next_deadline`], and replays the
//! persisted records through [`Coordinator::replay`] after a restart.
//!
//! # States of a group
//!
//! ```text
//!            join                 all known members rejoined,         leader's SyncGroup
//!  Empty ───────────> Preparing ── or rebalance timeout ──> Completing ─────────────> Stable
//!    ^                Rebalance  ─────────────────────────> Rebalance                   │
//!    │                 ^   │ no member left                   │ join / leave / expiry   │
//!    └─────────────────│───┘                                  v                         │
//!                      └──────────────── join / leave / session expiry ─────────────────┘
//! ```
//!
//! # Invariants (asserted)
//! - `Stable` and `CompletingRebalance` groups have members and a leader that
//!   is one of them; `Empty` groups have no members.
//! - The generation only grows; a rebalance completes exactly once per
//!   generation, and every member that joined it gets exactly one reply.
//! - Every pending request (join or sync) is answered exactly once: by the
//!   rebalance completing, by an error, or by its member being removed.
//! - Sizes are bounded: members per group by `members_max`, pending
//!   (id-assigned, not yet rejoined) members likewise, metadata per offset by
//!   `offset_metadata_bytes_max`.

mod coordinator;
mod offsets;
pub mod placement;
mod serde_bytes;
mod state;
mod types;

#[cfg(test)]
mod coordinator_test;

pub use coordinator::Coordinator;
pub use offsets::CommitResults;
pub use types::*;
