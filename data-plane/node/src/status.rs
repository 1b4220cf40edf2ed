//! What a replica reports about its partition (`Node::status`, `statuses`,
//! `watch`). The driver publishes a fresh status on the group's watch channel
//! whenever its headline changes: role, leader, term, high watermark, log
//! start, log end or voters. Follower progress alone does not trigger one
//! (it moves on every answer); it is a snapshot taken with the headline.

use std::time::Duration;

use fjord_replication::{Millis, NodeId, Role};

use crate::partition::Partition;

/// A replica's view of its partition, for clients and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStatus {
    pub is_leader: bool,
    /// The leader this replica follows (itself when it leads).
    pub leader: Option<NodeId>,
    /// The current term (Kafka leader epoch) this replica has seen.
    pub term: i32,
    pub high_watermark: i64,
    /// First offset still in the log (retention moves it up).
    pub log_start: i64,
    pub log_end: i64,
    /// The voters of the latest configuration in this replica's log
    /// (appended, not necessarily committed), sorted as the log has them.
    pub voters: Vec<NodeId>,
    /// On the leader, every other voter's progress; empty elsewhere.
    pub followers: Vec<FollowerStatus>,
}

/// The leader's view of one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerStatus {
    pub id: NodeId,
    /// End of the follower's log that it confirmed durable and matching the
    /// leader's (what counts toward the high watermark).
    pub match_end: i64,
    /// Milliseconds since the follower last answered the leader.
    pub last_ack_age_ms: u64,
}

impl PartitionStatus {
    /// Kafka's in-sync replica set as seen by the leader: itself and every
    /// follower caught up to the high watermark that answered within
    /// `ack_age_max`. Empty on a replica that does not lead.
    pub fn in_sync_replicas(&self, ack_age_max: Duration) -> Vec<NodeId> {
        let Some(leader) = self.leader.filter(|_| self.is_leader) else {
            return Vec::new();
        };
        let age_max = u64::try_from(ack_age_max.as_millis()).unwrap_or(u64::MAX);
        let mut replicas = vec![leader];
        let caught_up = self
            .followers
            .iter()
            .filter(|f| f.match_end >= self.high_watermark && f.last_ack_age_ms <= age_max);
        replicas.extend(caught_up.map(|f| f.id));
        replicas.sort_unstable();
        replicas
    }
}

impl Partition {
    fn leader_id(&self) -> Option<NodeId> {
        match self.engine.role() {
            Role::Leader(_) => Some(self.engine.id()),
            Role::Follower { leader } => *leader,
            _ => None,
        }
    }

    pub(crate) fn status(&self, now: Millis) -> PartitionStatus {
        let followers = self.engine.followers().into_iter().map(|f| FollowerStatus {
            id: f.id,
            match_end: f.matched.0,
            last_ack_age_ms: now.0.saturating_sub(f.last_heard.0),
        });
        PartitionStatus {
            is_leader: self.is_leader(),
            leader: self.leader_id(),
            term: self.engine.term().0,
            high_watermark: self.engine.high_watermark().0,
            log_start: self.engine.log().start.0,
            log_end: self.engine.log().end.0,
            voters: self.engine.voters().to_vec(),
            followers: followers.collect(),
        }
    }

    /// Publishes a fresh status if its headline changed (cheap otherwise:
    /// a comparison under the watch's read lock, no allocation).
    pub(crate) fn publish_status(&self, now: Millis) {
        let unchanged = {
            let current = self.status_tx.borrow();
            current.is_leader == self.is_leader()
                && current.leader == self.leader_id()
                && current.term == self.engine.term().0
                && current.high_watermark == self.engine.high_watermark().0
                && current.log_start == self.engine.log().start.0
                && current.log_end == self.engine.log().end.0
                && current.voters.as_slice() == self.engine.voters()
        };
        if !unchanged {
            self.status_tx.send_replace(self.status(now));
        }
    }
}
