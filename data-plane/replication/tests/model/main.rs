//! A `stateright` model of three replication engines.
//!
//! The network is a set of in-flight messages: any may be delivered (reorder),
//! delivered and kept (duplicate) or dropped (loss). A crash restarts a node
//! from its persisted term and vote and its durable log prefix only. Timers
//! fire nondeterministically. The ghost state records every leader and the
//! committed prefix, so the properties can speak about history.
//! `properties.rs` holds the safety properties, `openings.rs` the scripted
//! starts (a warm cluster, seed 8592's race), `membership.rs` the
//! membership-change checks.
//!
//! The bounds of each check are in its test and tabled in
//! `docs/replication.md` ("Model checking bounds"); the default run stays
//! under a minute in debug. Deeper: `FJORD_MODEL_DEPTH=10`, more walks:
//! `FJORD_MODEL_WALK_STATES=5000000`, the soak:
//! `cargo test --release -p fjord-replication --test model -- --ignored`.

use std::collections::BTreeSet;

use fjord_replication::{
    Command, Config, Engine, HardState, Input, LogState, MembershipChange, Message, Millis, NodeId,
    Offset, RequestId, Term,
};
use stateright::{Checker, Model, Property};

use crate::properties::{
    committed_durable_on_quorum, election_safety, leader_completeness, log_matching,
};

mod membership;
mod openings;
mod properties;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Envelope {
    from: NodeId,
    to: NodeId,
    message: Message,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
struct Ghost {
    /// Every (term, node) that was ever leader.
    leaders: BTreeSet<(Term, NodeId)>,
    /// Term of each committed offset, and the term in which it was committed.
    committed: Vec<(Term, Term)>,
    /// A node exposed an entry below its high watermark that differs.
    diverged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    engines: Vec<Engine>,
    network: BTreeSet<Envelope>,
    writes: u8,
    crashes: u8,
    drops: u8,
    duplicates: u8,
    transfers: u8,
    changes: u8,
    ghost: Ghost,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    Timeout(usize),
    Fsync(usize),
    Crash(usize),
    Write(usize),
    Deliver(Envelope),
    Duplicate(Envelope),
    Drop(Envelope),
    Transfer(usize, NodeId),
    ChangeMembership(usize, MembershipChange),
}

#[derive(Clone)]
struct ReplicationModel {
    max_term: Term,
    max_writes: u8,
    max_crashes: u8,
    max_drops: u8,
    max_duplicates: u8,
    max_network: usize,
    /// Whether a leader's timers fire (heartbeats, check-quorum).
    leader_timers: bool,
    /// Start from a cluster that already elected node 0 and committed its
    /// leader-change entry, so a shallow search explores failover.
    warm: bool,
    max_transfers: u8,
    /// Engines: the first three form the initial configuration, a fourth is
    /// a spare outside it that a membership change may add.
    nodes: usize,
    max_changes: u8,
    /// After the warm start, script the opening of a membership change
    /// racing a leader change (see `race_up`); requires `warm` and 4 nodes.
    race: bool,
}

fn config(index: usize) -> Config {
    let voters = (0..3).map(NodeId).collect();
    Config::new(NodeId(index as u32), voters, 7 + index as u64)
}

fn terms(log: &LogState) -> Vec<Term> {
    (log.start.0..log.end.0)
        .map(|o| log.term_at(Offset(o)).expect("inside the log"))
        .collect()
}

impl ReplicationModel {
    fn apply(&self, state: &mut State, index: usize, input: Input) {
        let engine = &mut state.engines[index];
        let now = match input {
            Input::Tick => engine.next_deadline(),
            _ => Millis(0),
        };
        for command in engine.step(now, input) {
            if let Command::Send { to, message } = command {
                let from = NodeId(index as u32);
                if state.network.len() < self.max_network {
                    state.network.insert(Envelope { from, to, message });
                }
            }
        }
        observe(&mut state.ghost, &state.engines[index]);
    }
}

/// Records leaders and the committed prefix as the node now sees them.
fn observe(ghost: &mut Ghost, engine: &Engine) {
    if engine.is_leader() {
        ghost.leaders.insert((engine.term(), engine.id()));
    }
    let log = terms(engine.log());
    let high_watermark = engine.high_watermark().0 as usize;
    for (offset, term) in log.iter().enumerate().take(high_watermark) {
        match ghost.committed.get(offset) {
            Some((committed, _)) => ghost.diverged |= committed != term,
            None => ghost.committed.push((*term, engine.term())),
        }
    }
}

impl Model for ReplicationModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let engines = (0..self.nodes)
            .map(|i| {
                let engine = Engine::new(
                    config(i),
                    HardState::default(),
                    LogState::default(),
                    Millis(0),
                );
                engine.expect("valid config")
            })
            .collect();
        let mut state = State {
            engines,
            network: BTreeSet::new(),
            writes: 0,
            crashes: 0,
            drops: 0,
            duplicates: 0,
            transfers: 0,
            changes: 0,
            ghost: Ghost::default(),
        };
        if self.warm {
            self.warm_up(&mut state);
        }
        if self.race {
            self.race_up(&mut state);
        }
        vec![state]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        for (i, engine) in state.engines.iter().enumerate() {
            let leader_timer = self.leader_timers && engine.is_leader();
            // A non-voter's timer only re-arms: skipping it prunes no behaviour.
            if (engine.term() < self.max_term && engine.is_voter()) || leader_timer {
                actions.push(Action::Timeout(i));
            }
            if engine.log().durable < engine.log().end {
                actions.push(Action::Fsync(i));
            }
            if state.crashes < self.max_crashes {
                actions.push(Action::Crash(i));
            }
            if engine.is_leader() && state.writes < self.max_writes {
                actions.push(Action::Write(i));
            }
            if engine.is_leader() && state.transfers < self.max_transfers {
                let others = (0..3).filter(|j| *j != i).map(|j| NodeId(j as u32));
                actions.extend(others.map(|to| Action::Transfer(i, to)));
            }
            if engine.is_leader() && state.changes < self.max_changes {
                for j in (0..self.nodes).map(|j| NodeId(j as u32)) {
                    let change = match engine.voters().contains(&j) {
                        true => MembershipChange::RemoveVoter(j),
                        false => MembershipChange::AddVoter(j),
                    };
                    actions.push(Action::ChangeMembership(i, change));
                }
            }
        }
        for envelope in &state.network {
            actions.push(Action::Deliver(envelope.clone()));
            if state.duplicates < self.max_duplicates {
                actions.push(Action::Duplicate(envelope.clone()));
            }
            if state.drops < self.max_drops {
                actions.push(Action::Drop(envelope.clone()));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Timeout(i) => self.apply(&mut state, i, Input::Tick),
            Action::Fsync(i) => {
                let end = state.engines[i].log().end;
                self.apply(&mut state, i, Input::Durable { end });
            }
            Action::Crash(i) => {
                let old = &state.engines[i];
                let log = old.log().after_crash();
                let restarted = Engine::new(config(i), old.hard_state(), log, Millis(0));
                state.engines[i] = restarted.expect("restart from durable state");
                state.crashes += 1;
            }
            Action::Write(i) => {
                state.writes += 1;
                let request = RequestId(u64::from(state.writes));
                self.apply(
                    &mut state,
                    i,
                    Input::ClientAppend {
                        request,
                        records: 1,
                    },
                );
            }
            Action::Deliver(envelope) => {
                state.network.remove(&envelope);
                self.deliver(&mut state, envelope);
            }
            Action::Duplicate(envelope) => {
                state.duplicates += 1;
                self.deliver(&mut state, envelope);
            }
            Action::ChangeMembership(i, change) => {
                state.changes += 1;
                let request = RequestId(100 + u64::from(state.changes));
                self.apply(&mut state, i, Input::ChangeMembership { request, change });
            }
            Action::Transfer(i, to) => {
                state.transfers += 1;
                self.apply(&mut state, i, Input::TransferLeadership { to });
            }
            Action::Drop(envelope) => {
                state.network.remove(&envelope);
                state.drops += 1;
            }
        }
        Some(state)
    }

    fn within_boundary(&self, state: &State) -> bool {
        state.engines.iter().all(|e| e.term() <= self.max_term)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("election safety", |_, s| election_safety(s)),
            Property::always("log matching", |_, s| log_matching(s)),
            Property::always("leader completeness", |_, s| leader_completeness(s)),
            Property::always("state machine safety", |_, s: &State| !s.ghost.diverged),
            Property::always("committed entries are durable on a quorum", |_, s| {
                committed_durable_on_quorum(s)
            }),
            Property::sometimes("a leader is elected", |_, s: &State| {
                !s.ghost.leaders.is_empty()
            }),
            Property::sometimes("a client write commits", |_, s: &State| {
                s.ghost.committed.len() >= 2
            }),
            Property::sometimes("a membership change commits", |_, s: &State| {
                let committed = |e: &Engine| {
                    let latest = e.log().latest_config();
                    latest.is_some_and(|c| c.offset < e.high_watermark())
                };
                s.engines.iter().any(committed)
            }),
        ]
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SAFETY: [&str; 5] = [
    "election safety",
    "log matching",
    "leader completeness",
    "state machine safety",
    "committed entries are durable on a quorum",
];

fn faulty(max_term: i32, faults: u8) -> ReplicationModel {
    ReplicationModel {
        max_term: Term(max_term),
        max_writes: faults.max(1),
        max_crashes: faults,
        max_drops: faults,
        max_duplicates: faults,
        max_network: 4,
        leader_timers: true,
        warm: false,
        max_transfers: 0,
        nodes: 3,
        max_changes: 0,
        race: false,
    }
}

fn report(what: &str, checker: &impl Checker<ReplicationModel>) {
    let (total, unique) = (checker.state_count(), checker.unique_state_count());
    eprintln!("model {what}: {total} states ({unique} unique)");
    for name in SAFETY {
        checker.assert_no_discovery(name);
    }
}

/// Every interleaving to a depth, with one crash, drop and duplicate.
#[test]
fn every_interleaving_with_faults_is_safe() {
    let depth = env_number("FJORD_MODEL_DEPTH", 8);
    let model = faulty(env_number("FJORD_MODEL_TERMS", 2) as i32, 1);
    let checker = model
        .checker()
        .threads(2)
        .target_max_depth(depth)
        .spawn_bfs()
        .join();
    report(&format!("bfs faults depth {depth}"), &checker);
}

/// Without faults a leader is elected and a write commits: reachability,
/// found by random walks (BFS needs depth 13+, too slow for `cargo test`).
#[test]
fn a_fault_free_cluster_elects_a_leader_and_commits() {
    let states = env_number("FJORD_MODEL_WALK_STATES", 100_000);
    let model = ReplicationModel {
        leader_timers: false,
        max_network: 8,
        ..faulty(2, 0)
    };
    let checker = model
        .checker()
        .threads(2)
        .target_max_depth(40)
        .target_state_count(states)
        .spawn_simulation(3, stateright::UniformChooser)
        .join();
    report("walks progress", &checker);
    checker.assert_any_discovery("a leader is elected");
    checker.assert_any_discovery("a client write commits");
}

/// From a committed entry: every interleaving of failover, to a depth.
#[test]
fn every_failover_after_a_commit_is_safe() {
    let depth = env_number("FJORD_MODEL_WARM_DEPTH", 7);
    let model = ReplicationModel {
        warm: true,
        ..faulty(3, 1)
    };
    let checker = model
        .checker()
        .threads(2)
        .target_max_depth(depth)
        .spawn_bfs()
        .join();
    report(&format!("bfs failover depth {depth}"), &checker);
}

/// Long random walks with more faults and terms than BFS can afford.
#[test]
fn random_walks_with_faults_are_safe() {
    let states = env_number("FJORD_MODEL_WALK_STATES", 200_000);
    let seed = env_number("FJORD_MODEL_SEED", 1) as u64;
    let model = ReplicationModel {
        max_network: 6,
        ..faulty(4, 3)
    };
    let checker = model
        .checker()
        .threads(2)
        .target_max_depth(60)
        .target_state_count(states)
        .spawn_simulation(seed, stateright::UniformChooser)
        .join();
    report(&format!("walks seed {seed}"), &checker);
}

#[test]
#[ignore = "soak: minutes in release; run explicitly"]
fn every_interleaving_with_faults_is_safe_deeper() {
    let depth = env_number("FJORD_MODEL_DEPTH", 11);
    let model = faulty(env_number("FJORD_MODEL_TERMS", 3) as i32, 1);
    let checker = model
        .checker()
        .threads(2)
        .target_max_depth(depth)
        .spawn_bfs()
        .join();
    report(&format!("bfs faults depth {depth}"), &checker);
}
