//! The safety properties over a model state.

use fjord_replication::{LogPosition, LogState, NodeId, Offset, Term};

use crate::{State, terms};

pub(crate) fn election_safety(state: &State) -> bool {
    let terms: Vec<Term> = state.ghost.leaders.iter().map(|(term, _)| *term).collect();
    terms.windows(2).all(|pair| pair[0] != pair[1])
}

pub(crate) fn log_matching(state: &State) -> bool {
    let logs: Vec<Vec<Term>> = state.engines.iter().map(|e| terms(e.log())).collect();
    logs.iter().all(|a| {
        logs.iter().all(|b| {
            let shared = a.len().min(b.len());
            (0..shared).all(|o| a[o] != b[o] || a[..=o] == b[..=o])
        })
    })
}

pub(crate) fn leader_completeness(state: &State) -> bool {
    state
        .engines
        .iter()
        .filter(|e| e.is_leader())
        .all(|leader| {
            let log = terms(leader.log());
            state
                .ghost
                .committed
                .iter()
                .enumerate()
                .all(|(offset, (term, committed_in))| {
                    leader.term() <= *committed_in || log.get(offset) == Some(term)
                })
        })
}

/// Every committed entry is held by enough nodes that no node lacking it can
/// be elected (the simulation's checker states the same): a node lacking it
/// is any log it may keep through a crash (its durable prefix at least)
/// without the entry; it campaigns in that log's latest configuration and
/// needs the votes of a majority of it. A voter grants only to a log at
/// least as up to date as its own, which a crash can cut to its durable
/// prefix: a voter whose durable prefix ends later (term, then offset) than
/// the candidate's log never grants, nor one that holds the entry durably.
/// With a fixed configuration this is "durable on a quorum".
pub(crate) fn committed_durable_on_quorum(state: &State) -> bool {
    let floors: Vec<(NodeId, LogPosition)> = state
        .engines
        .iter()
        .map(|e| (e.id(), position(e.log(), e.log().durable)))
        .collect();
    let committed = &state.ghost.committed;
    committed.iter().enumerate().all(|(offset, (term, _))| {
        let at = Offset(offset as i64);
        state.engines.iter().all(|lacking| {
            campaigns_lacking(lacking.log(), at, *term)
                .into_iter()
                .all(|(voters, last)| {
                    let me = lacking.id();
                    let grant = |(voter, floor): &&(NodeId, LogPosition)| {
                        voters.contains(voter) && (*voter == me || *floor <= last)
                    };
                    !voters.contains(&me) || floors.iter().filter(grant).count() <= voters.len() / 2
                })
        })
    })
}

fn position(log: &LogState, end: Offset) -> LogPosition {
    let term = log.term_before(end).expect("a prefix of the log");
    LogPosition { term, end }
}

/// The configurations and last positions `log` may campaign with while
/// lacking the entry `(at, term)`: the longest prefix a crash can leave
/// without it, and the prefixes cut just below each unsynced configuration
/// entry in it; none if it holds the entry durably.
fn campaigns_lacking(log: &LogState, at: Offset, term: Term) -> Vec<(Vec<NodeId>, LogPosition)> {
    let holds = log.term_at(at) == Some(term);
    if at < log.start || (holds && at < log.durable) {
        return Vec::new();
    }
    let longest = if holds { at } else { log.end };
    let cuts = log.configs.iter().map(|c| c.offset);
    let cuts = cuts.filter(|c| log.durable <= *c && *c < longest);
    let voters = |end: Offset| match log.configs.iter().rev().find(|c| c.offset < end) {
        Some(config) => config.voters.clone(),
        None => (0..3).map(NodeId).collect(),
    };
    cuts.chain([longest])
        .map(|end| (voters(end), position(log, end)))
        .collect()
}
