//! One checker per Raft invariant, run as the simulation goes. A checker
//! returns the first violation it sees; the simulation adds the seed and the
//! event that caused it, and stops the run.

use std::collections::BTreeMap;
use std::fmt;

use fjord_replication::{Engine, LogPosition, LogState, NodeId, Offset, Term};

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

    /// Every acknowledged write from `from` on is held by enough nodes that
    /// no node lacking it can win an election (checked again at every
    /// election by `holds_acknowledged`; this check names the event that made
    /// the loss possible). A node lacking it is any log it may have after a
    /// crash (a live node keeps at least its durable prefix) without the
    /// entry; it campaigns in the latest configuration of that log and wins
    /// with the votes of a majority of it. A voter grants only to a log at
    /// least as up to date as its own (Raft §5.4.1), and its own log can
    /// shrink to its durable prefix at worst: so a voter that holds the entry
    /// durably, or whose durable prefix ends later in term order than the
    /// candidate's log, never grants. With a fixed configuration this is
    /// "durable on a quorum". See docs/replication.md, "Membership change",
    /// for why the up-to-date rule matters (simulation seed 8592).
    pub(crate) fn durable_on_quorum(&self, logs: &[(NodeId, &LogState)], from: Offset) -> Check {
        let floors: Vec<(NodeId, LogPosition)> =
            logs.iter().map(|(id, log)| (*id, floor(log))).collect();
        for (offset, term) in self.acknowledged.range(from..) {
            for (id, log) in logs {
                for (voters, last) in campaigns_lacking(log, *offset, *term) {
                    if !voters.contains(id) {
                        continue; // outside its configuration it never campaigns
                    }
                    let grant = |(voter, floor): &&(NodeId, LogPosition)| {
                        voters.contains(voter) && (voter == id || *floor <= last)
                    };
                    let electors = floors.iter().filter(grant).count();
                    if electors > voters.len() / 2 {
                        let detail = format!(
                            "acknowledged {offset} of term {term}: node {id} lacks it with \
                             log {last:?} and could be elected by {electors} of voters \
                             {voters:?}"
                        );
                        return fail(Invariant::AcknowledgedDurability, detail);
                    }
                }
            }
        }
        Ok(())
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

/// The last position of `log` after the worst crash: its durable prefix.
fn floor(log: &LogState) -> LogPosition {
    position(log, log.durable)
}

/// The last position of the prefix of `log` that ends at `end`.
fn position(log: &LogState, end: Offset) -> LogPosition {
    let term = log.term_before(end).expect("a prefix of the log");
    LogPosition { term, end }
}

/// The configurations and last positions `log` may campaign with while
/// lacking the entry `(offset, term)`: none if it holds it durably; else the
/// longest prefix without it (the whole log, or the part below the entry if
/// it holds it unsynced), and, for each configuration entry in the unsynced
/// part of that prefix, the prefix a crash could cut just below it (the
/// longest one with the configuration before it).
fn campaigns_lacking(
    log: &LogState,
    offset: Offset,
    term: Term,
) -> Vec<(Vec<NodeId>, LogPosition)> {
    let holds = log.term_at(offset) == Some(term);
    // Below the log start an entry is committed and held (retention).
    if offset < log.start || (holds && offset < log.durable) {
        return Vec::new();
    }
    let longest = if holds { offset } else { log.end };
    let cuts = log.configs.iter().map(|c| c.offset);
    let cuts = cuts.filter(|c| log.durable <= *c && *c < longest);
    let ends = cuts.chain([longest]);
    ends.map(|end| (voters_below(log, end), position(log, end)))
        .collect()
}

/// The voters of the latest configuration entry below `end` in `log`, or
/// the simulation's initial configuration.
fn voters_below(log: &LogState, end: Offset) -> Vec<NodeId> {
    match log.configs.iter().rev().find(|c| c.offset < end) {
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
    use fjord_replication::{ConfigEntry, EpochStart};

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

    fn ids(list: &[u32]) -> Vec<NodeId> {
        list.iter().copied().map(NodeId).collect()
    }

    /// A log with a durable end and configuration entries `(offset, voters)`.
    fn full(epochs: &[(i32, i64)], end: i64, durable: i64, configs: &[(i64, &[u32])]) -> LogState {
        let configs = configs.iter().map(|(offset, voters)| ConfigEntry {
            offset: Offset(*offset),
            voters: ids(voters),
        });
        LogState {
            durable: Offset(durable),
            configs: configs.collect(),
            ..log(epochs, end)
        }
    }

    /// Simulation seed 8592 in small: node 2 holds {0,2,3} from an abandoned
    /// term-1 change; node 3 leads term 2 with {1,2,3} and acknowledged 12
    /// with node 1. Node 0 holds `durable_0` of it, the term-2 entry at 8 on.
    fn seed_8592(durable_0: i64) -> (Checkers, Vec<LogState>) {
        let all: &[u32] = &[0, 1, 2, 3];
        let leader = full(&[(1, 0), (2, 8)], 14, 14, &[(2, all), (10, &[1, 2, 3])]);
        let logs = vec![
            full(&[(1, 0), (2, 8)], 10, durable_0, &[(2, all)]),
            leader.clone(),
            full(&[(1, 0)], 10, 10, &[(2, all), (8, &[0, 2, 3])]),
            leader,
        ];
        let mut checkers = Checkers::default();
        checkers.acknowledged.insert(Offset(12), Term(2));
        (checkers, logs)
    }

    fn check(checkers: &Checkers, logs: &[LogState]) -> Check {
        let logs: Vec<(NodeId, &LogState)> = (0..).map(NodeId).zip(logs).collect();
        checkers.durable_on_quorum(&logs, Offset::ZERO)
    }

    #[test]
    fn a_disjoint_majority_that_holds_a_later_term_durably_cannot_elect_the_stale_node() {
        let (checkers, logs) = seed_8592(10);
        assert_eq!(check(&checkers, &logs), Ok(()));
    }

    #[test]
    fn a_majority_that_could_lose_the_later_term_in_a_crash_could_elect_the_stale_node() {
        let (checkers, logs) = seed_8592(8);
        let result = check(&checkers, &logs);
        let detail = "node 2 lacks it with log LogPosition { term: Term(1), end: Offset(10) } \
                      and could be elected by 2 of voters [NodeId(0), NodeId(2), NodeId(3)]";
        assert!(
            matches!(&result, Err((Invariant::AcknowledgedDurability, d)) if d.contains(detail)),
            "{result:?}"
        );
    }

    #[test]
    fn with_a_fixed_configuration_an_entry_durable_on_one_of_three_is_reported() {
        let mut checkers = Checkers::default();
        checkers.acknowledged.insert(Offset(3), Term(1));
        let holder = full(&[(1, 0)], 5, 5, &[]);
        let unsynced = full(&[(1, 0)], 5, 3, &[]);
        let short = full(&[(1, 0)], 3, 3, &[]);
        let logs = [holder.clone(), unsynced, short];
        let result = check(&checkers, &logs);
        assert!(matches!(
            result,
            Err((Invariant::AcknowledgedDurability, _))
        ));
        let logs = [holder.clone(), holder, full(&[(1, 0)], 3, 3, &[])];
        assert_eq!(check(&checkers, &logs), Ok(()));
    }
}
