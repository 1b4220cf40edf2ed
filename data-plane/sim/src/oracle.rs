//! What the cluster promised: acknowledged writes and committed entries.

use std::collections::BTreeMap;

use fjord_replication::{Engine, LogState, Offset, Term};

/// Checks "no acknowledged write lost" and state-machine safety as the run goes.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Term of every offset some node exposed below its high watermark.
    committed: BTreeMap<Offset, Term>,
    /// Offsets of acknowledged (acks=all) writes with their term.
    acknowledged: BTreeMap<Offset, Term>,
}

impl Oracle {
    pub fn acknowledged(&mut self, first: Offset, end: Offset, leader: &Engine) {
        assert!(
            first < end && end <= leader.high_watermark(),
            "acked above the high watermark"
        );
        for offset in first.0..end.0 {
            let term = leader
                .log()
                .term_at(Offset(offset))
                .expect("acked entry is in the log");
            self.acknowledged.insert(Offset(offset), term);
        }
    }

    pub fn acknowledged_count(&self) -> usize {
        self.acknowledged.len()
    }

    /// Every node's exposed prefix agrees with every other's.
    pub fn observe(&mut self, node: &Engine) {
        let log = node.log();
        let low = log.start.0.max(node.high_watermark().0.saturating_sub(64));
        for offset in low..node.high_watermark().0 {
            let term = log
                .term_at(Offset(offset))
                .expect("committed entry is in the log");
            let seen = *self.committed.entry(Offset(offset)).or_insert(term);
            assert_eq!(
                seen,
                term,
                "node {} exposes a different entry at {offset}",
                node.id()
            );
        }
    }

    /// Every acknowledged write is durable on a quorum of the given nodes.
    pub fn check_durable_on_quorum(&self, logs: &[&LogState], quorum: usize) {
        for (offset, term) in &self.acknowledged {
            let holders = logs
                .iter()
                .filter(|log| *offset < log.durable && log.term_at(*offset) == Some(*term));
            assert!(
                holders.count() >= quorum,
                "acknowledged write at {offset} lost its quorum"
            );
        }
    }

    /// A leader holds every acknowledged write (leader completeness).
    pub fn check_leader(&self, leader: &Engine) {
        for (offset, term) in &self.acknowledged {
            let held = leader.log().term_at(*offset) == Some(*term);
            assert!(
                held,
                "leader {} lacks acknowledged write at {offset}",
                leader.id()
            );
        }
    }
}
