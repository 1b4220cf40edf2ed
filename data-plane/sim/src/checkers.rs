//! One checker per Raft invariant, run as the simulation goes. A checker
//! returns the first violation it sees; the simulation adds the seed and the
//! event that caused it, and stops the run.

use std::collections::BTreeMap;
use std::fmt;

use fjord_replication::{Engine, LogState, NodeId, Offset, Term};

/// The invariants the simulation checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    /// At most one leader per term.
    ElectionSafety,
    /// Two logs with an entry of the same offset and term agree on every
    /// entry below it.
    LogMatching,
    /// A leader's log holds every entry committed before it was elected.
    LeaderCompleteness,
    /// No two nodes expose (below their high watermark) different entries
    /// at one offset.
    StateMachineSafety,
    /// Every acknowledged (acks=all) write stays durable on a quorum and is
    /// in the log of every later leader.
    AcknowledgedDurability,
    /// After the faults stop, a leader is elected and writes commit again.
    Liveness,
}

/// A broken invariant, with where the run was when it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
    pub seed: u64,
    /// Index of the first event after which the checker failed, its real time
    /// and the event itself.
    pub event: u64,
    pub at: u64,
    pub event_description: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {:?} violated at event #{} ({} ms): {}; event: {}",
            self.seed, self.invariant, self.event, self.at, self.detail, self.event_description
        )
    }
}

/// A failed check before the simulation adds where it happened.
pub(crate) type Check = Result<(), (Invariant, String)>;

fn fail(invariant: Invariant, detail: String) -> Check {
    Err((invariant, detail))
}

/// What the cluster promised so far.
#[derive(Debug, Default)]
pub(crate) struct Checkers {
    /// The leader seen for each term.
    leaders: BTreeMap<Term, NodeId>,
    /// Term of every offset some node exposed below its high watermark.
    committed: BTreeMap<Offset, Term>,
    /// Per node, the exposed prefix already compared with `committed`.
    observed_up_to: BTreeMap<NodeId, Offset>,
    /// Offsets of acknowledged (acks=all) writes with their term.
    acknowledged: BTreeMap<Offset, Term>,
}

impl Checkers {
    pub(crate) fn acknowledged_count(&self) -> usize {
        self.acknowledged.len()
    }

    /// Election safety, and leader completeness when `node` just took over.
    pub(crate) fn leader(&mut self, node: &Engine, newly_elected: bool) -> Check {
        assert!(node.is_leader());
        let first = *self.leaders.entry(node.term()).or_insert(node.id());
        if first != node.id() {
            let detail = format!(
                "nodes {first} and {} both lead term {}",
                node.id(),
                node.term()
            );
            return fail(Invariant::ElectionSafety, detail);
        }
        if !newly_elected {
            return Ok(());
        }
        for (offset, term) in &self.committed {
            if node.log().term_at(*offset) != Some(*term) {
                let detail = format!(
                    "leader {} of term {} lacks committed entry {offset} of term {term}",
                    node.id(),
                    node.term()
                );
                return fail(Invariant::LeaderCompleteness, detail);
            }
        }
        self.holds_acknowledged(node)
    }

    /// The leader committed `[first, end)` and answered the client.
    pub(crate) fn acknowledged(&mut self, first: Offset, end: Offset, leader: &Engine) -> Check {
        if !(first < end && end <= leader.high_watermark()) {
            let detail = format!("acknowledged [{first}, {end}) above the high watermark");
            return fail(Invariant::AcknowledgedDurability, detail);
        }
        for offset in first.0..end.0 {
            let Some(term) = leader.log().term_at(Offset(offset)) else {
                let detail = format!("acknowledged {offset} is not in the leader's log");
                return fail(Invariant::AcknowledgedDurability, detail);
            };
            self.acknowledged.insert(Offset(offset), term);
        }
        Ok(())
    }

    /// State-machine safety: the newly exposed entries of `node` agree with
    /// what every other node exposed.
    pub(crate) fn exposed(&mut self, node: &Engine) -> Check {
        let log = node.log();
        let observed = self.observed_up_to.entry(node.id()).or_default();
        let low = (*observed).min(node.high_watermark()).max(log.start);
        for offset in low.0..node.high_watermark().0 {
            let Some(term) = log.term_at(Offset(offset)) else {
                let detail = format!("node {} exposes {offset} it does not hold", node.id());
                return fail(Invariant::StateMachineSafety, detail);
            };
            let seen = *self.committed.entry(Offset(offset)).or_insert(term);
            if seen != term {
                let detail = format!(
                    "node {} exposes term {term} at {offset}, another exposed term {seen}",
                    node.id()
                );
                return fail(Invariant::StateMachineSafety, detail);
            }
        }
        *observed = node.high_watermark();
        Ok(())
    }

    /// A restarted node exposes its prefix again from the start.
    pub(crate) fn restarted(&mut self, node: NodeId) {
        self.observed_up_to.insert(node, Offset::ZERO);
    }

    /// Every acknowledged write from `from` on is durable on enough nodes
    /// that no node lacking it can win an election: for every node whose
    /// disk lacks it and that is a voter of its own latest configuration `C`
    /// (the one it would campaign in), every majority of `C` includes a node
    /// holding it durably. Crashed nodes count with what their disk kept.
    /// A node whose latest configuration is older than the latest committed
    /// one lacks a committed entry, which this same check protects, so it is
    /// skipped. With a fixed configuration this is "durable on a quorum".
    pub(crate) fn durable_on_quorum(&self, logs: &[(NodeId, &LogState)], from: Offset) -> Check {
        let committed_config = self.latest_committed_config(logs);
        for (offset, term) in self.acknowledged.range(from..) {
            let holds =
                |log: &LogState| *offset < log.durable && log.term_at(*offset) == Some(*term);
            for (id, log) in logs.iter().filter(|(_, log)| !holds(log)) {
                let voters = voters_of(log);
                let latest = log.latest_config().map(|c| c.offset);
                if !voters.contains(id) || latest < committed_config {
                    continue; // it never campaigns, or cannot win
                }
                let quorum = voters.len() / 2 + 1;
                let holding = logs
                    .iter()
                    .filter(|(holder, log)| voters.contains(holder) && holds(log))
                    .count();
                if holding + quorum <= voters.len() {
                    let detail = format!(
                        "acknowledged {offset} of term {term} is durable on {holding} of \
                         voters {voters:?}, which node {id} could be elected by"
                    );
                    return fail(Invariant::AcknowledgedDurability, detail);
                }
            }
        }
        Ok(())
    }

    /// Offset of the latest configuration entry known committed (exposed below
    /// some high watermark), if any.
    fn latest_committed_config(&self, logs: &[(NodeId, &LogState)]) -> Option<Offset> {
        let configs = logs.iter().flat_map(|(_, log)| {
            log.configs
                .iter()
                .filter(|c| self.committed.get(&c.offset) == log.term_at(c.offset).as_ref())
                .map(|c| c.offset)
        });
        configs.max()
    }

    /// `leader` holds every acknowledged write.
    pub(crate) fn holds_acknowledged(&self, leader: &Engine) -> Check {
        for (offset, term) in &self.acknowledged {
            if leader.log().term_at(*offset) != Some(*term) {
                let detail = format!("leader {} lacks acknowledged {offset}", leader.id());
                return fail(Invariant::AcknowledgedDurability, detail);
            }
        }
        Ok(())
    }
}

/// The voters a node with `log` campaigns in: its latest configuration entry,
/// or the simulation's initial configuration.
fn voters_of(log: &LogState) -> Vec<NodeId> {
    match log.latest_config() {
        Some(config) => config.voters.clone(),
        None => (0..crate::cluster::INITIAL_VOTERS as u32)
            .map(NodeId)
            .collect(),
    }
}

/// Log matching between every pair of `logs`, compared epoch by epoch: the
/// term of a log is constant between two epoch starts, so the check is linear
/// in the number of epochs, not entries.
pub(crate) fn log_matching(logs: &[(NodeId, &LogState)]) -> Check {
    for (index, (a_id, a)) in logs.iter().enumerate() {
        for (b_id, b) in &logs[index + 1..] {
            if let Some(detail) = first_mismatch_below_a_match(a, b) {
                let detail = format!("nodes {a_id} and {b_id}: {detail}");
                return fail(Invariant::LogMatching, detail);
            }
        }
    }
    Ok(())
}

/// Segments `[low, high)` of the common range where both logs' terms are constant.
fn segments(a: &LogState, b: &LogState) -> Vec<(Offset, Offset)> {
    let low = a.start.max(b.start);
    let high = a.end.min(b.end);
    if low >= high {
        return Vec::new();
    }
    let mut points: Vec<Offset> = a.epochs.iter().chain(&b.epochs).map(|e| e.start).collect();
    points.retain(|p| *p > low && *p < high);
    points.extend([low, high]);
    points.sort();
    points.dedup();
    points.windows(2).map(|w| (w[0], w[1])).collect()
}

fn first_mismatch_below_a_match(a: &LogState, b: &LogState) -> Option<String> {
    let segments = segments(a, b);
    let same = |offset: Offset| a.term_at(offset) == b.term_at(offset);
    let highest_match = segments.iter().rposition(|(low, _)| same(*low))?;
    let (low, _) = segments[..highest_match]
        .iter()
        .find(|(low, _)| !same(*low))?;
    let top = segments[highest_match].1.previous();
    Some(format!(
        "agree at {top} (term {:?}) but differ at {low} ({:?} vs {:?})",
        a.term_at(top),
        a.term_at(*low),
        b.term_at(*low)
    ))
}

#[cfg(test)]
mod tests {
    use fjord_replication::EpochStart;

    use super::*;

    fn log(epochs: &[(i32, i64)], end: i64) -> LogState {
        let epochs = epochs
            .iter()
            .map(|&(t, s)| EpochStart {
                term: Term(t),
                start: Offset(s),
            })
            .collect();
        LogState {
            epochs,
            end: Offset(end),
            ..LogState::default()
        }
    }

    #[test]
    fn logs_that_diverge_after_a_common_prefix_match() {
        let a = log(&[(1, 0), (2, 4)], 8);
        let b = log(&[(1, 0), (3, 5)], 9);
        assert_eq!(log_matching(&[(NodeId(0), &a), (NodeId(1), &b)]), Ok(()));
    }

    #[test]
    fn an_equal_entry_above_a_difference_breaks_log_matching() {
        let a = log(&[(1, 0), (3, 4)], 8);
        let b = log(&[(2, 0), (3, 4)], 8);
        let result = log_matching(&[(NodeId(0), &a), (NodeId(1), &b)]);
        assert!(
            matches!(result, Err((Invariant::LogMatching, _))),
            "{result:?}"
        );
    }
}
