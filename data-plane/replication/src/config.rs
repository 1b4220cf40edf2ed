//! Engine settings, validated once.

use crate::error::{Error, Result};
use crate::types::NodeId;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    pub id: NodeId,
    /// The initial configuration: every voter, usually this node included. A
    /// node joining an existing group is not in it; it learns its membership
    /// from configuration entries in the log, which override this list.
    pub voters: Vec<NodeId>,
    pub heartbeat_interval_ms: u64,
    /// The election timeout is drawn from `[min, max)`.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Appends outstanding per follower in `Replicate` mode.
    pub max_in_flight: u32,
    /// Offsets per append message.
    pub max_append_records: u32,
    /// Client appends waiting for commit.
    pub max_pending_requests: u32,
    /// Seeds the election jitter so runs are reproducible.
    pub seed: u64,
}

impl Config {
    pub fn new(id: NodeId, voters: Vec<NodeId>, seed: u64) -> Config {
        Config {
            id,
            voters,
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            max_in_flight: 4,
            max_append_records: 1024,
            max_pending_requests: 4096,
            seed,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let fail = |why: &str| Err(Error::InvalidConfig(why.to_owned()));
        if self.voters.is_empty() {
            return fail("the initial configuration has no voters");
        }
        let mut sorted = self.voters.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.voters.len() {
            return fail("voters are listed twice");
        }
        if self.heartbeat_interval_ms == 0
            || self.election_timeout_min_ms <= self.heartbeat_interval_ms
        {
            return fail("the election timeout must exceed the heartbeat interval");
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return fail("the election timeout range is empty");
        }
        if self.max_in_flight == 0 || self.max_append_records == 0 || self.max_pending_requests == 0
        {
            return fail("flow-control bounds must be positive");
        }
        Ok(())
    }
}
