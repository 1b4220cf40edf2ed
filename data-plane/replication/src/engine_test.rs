//! Engine unit tests: feed inputs, assert on the emitted commands.

use crate::Config;
use crate::engine::{Engine, HardState, Role};
use crate::log::{EpochStart, LogState};
use crate::message::{Command, Input, Message};
use crate::types::{LogPosition, Millis, NodeId, Offset, Term};

pub(super) const A: NodeId = NodeId(1);
pub(super) const B: NodeId = NodeId(2);
pub(super) const C: NodeId = NodeId(3);

pub(super) fn engine(id: NodeId, term: i32, log: LogState) -> Engine {
    let config = Config::new(id, vec![A, B, C], u64::from(id.0));
    let hard = HardState {
        term: Term(term),
        voted_for: None,
    };
    Engine::new(config, hard, log, Millis(0)).expect("valid engine")
}

pub(super) fn log_of(epochs: &[(i32, i64)], end: i64, durable: i64) -> LogState {
    let epochs = epochs
        .iter()
        .map(|&(term, start)| EpochStart {
            term: Term(term),
            start: Offset(start),
        })
        .collect();
    LogState {
        epochs,
        end: Offset(end),
        durable: Offset(durable),
        ..LogState::default()
    }
}

pub(super) fn receive(engine: &mut Engine, from: NodeId, message: Message) -> Vec<Command> {
    let now = engine.now;
    engine.step(now, Input::Message { from, message })
}

pub(super) fn sends(commands: &[Command]) -> Vec<(NodeId, Message)> {
    let pick = |c: &Command| match c {
        Command::Send { to, message } => Some((*to, message.clone())),
        _ => None,
    };
    commands.iter().filter_map(pick).collect()
}

/// Elects `A` leader at term 1 on an empty log; returns it with its commands.
pub(super) fn leader() -> (Engine, Vec<Command>) {
    let mut a = engine(A, 0, LogState::default());
    a.step(Millis(1000), Input::Tick);
    let granted = Message::PreVoteResponse {
        term: Term(1),
        granted: true,
    };
    receive(&mut a, B, granted);
    let commands = receive(
        &mut a,
        B,
        Message::VoteResponse {
            term: Term(1),
            granted: true,
        },
    );
    assert!(a.is_leader());
    (a, commands)
}

#[test]
fn election_timeout_starts_a_pre_vote_without_bumping_the_term() {
    let mut a = engine(A, 3, log_of(&[(2, 0)], 5, 5));
    let commands = a.step(Millis(1000), Input::Tick);
    let last = LogPosition {
        term: Term(2),
        end: Offset(5),
    };
    let expected = vec![
        Command::Send {
            to: B,
            message: Message::PreVote {
                term: Term(4),
                last,
            },
        },
        Command::Send {
            to: C,
            message: Message::PreVote {
                term: Term(4),
                last,
            },
        },
    ];
    assert_eq!(commands, expected);
    assert_eq!(a.term(), Term(3), "a pre-vote changes no persistent state");
}

#[test]
fn a_pre_vote_quorum_persists_the_self_vote_before_asking_for_votes() {
    let mut a = engine(A, 3, LogState::default());
    a.step(Millis(1000), Input::Tick);
    let commands = receive(
        &mut a,
        C,
        Message::PreVoteResponse {
            term: Term(4),
            granted: true,
        },
    );
    let persist = Command::PersistHardState {
        term: Term(4),
        voted_for: Some(A),
    };
    assert_eq!(
        commands[0], persist,
        "the vote is durable before any message leaves"
    );
    let last = LogPosition::default();
    let vote = Message::Vote {
        term: Term(4),
        last,
        transfer: false,
    };
    assert_eq!(sends(&commands), vec![(B, vote.clone()), (C, vote)]);
}

#[test]
fn a_voter_persists_its_vote_before_granting_it() {
    let mut b = engine(B, 1, LogState::default());
    let last = LogPosition::default();
    let commands = receive(
        &mut b,
        A,
        Message::Vote {
            term: Term(2),
            last,
            transfer: false,
        },
    );
    let persist_vote = Command::PersistHardState {
        term: Term(2),
        voted_for: Some(A),
    };
    let position = commands
        .iter()
        .position(|c| *c == persist_vote)
        .expect("vote persisted");
    let reply = Command::Send {
        to: A,
        message: Message::VoteResponse {
            term: Term(2),
            granted: true,
        },
    };
    assert_eq!(commands.last(), Some(&reply));
    assert!(position < commands.len() - 1);
    let again = receive(
        &mut b,
        C,
        Message::Vote {
            term: Term(2),
            last,
            transfer: false,
        },
    );
    let refused = Message::VoteResponse {
        term: Term(2),
        granted: false,
    };
    assert_eq!(sends(&again), vec![(C, refused)], "one vote per term");
}

#[test]
fn a_follower_of_a_live_leader_refuses_pre_votes_and_ignores_votes() {
    let (mut a, _) = leader();
    let mut b = engine(B, 0, LogState::default());
    let append = sends(&a.step(Millis(1000), Input::Tick));
    for (to, message) in append.into_iter().filter(|(to, _)| *to == B) {
        receive(&mut b, A, message);
        assert_eq!(to, B);
    }
    assert_eq!(b.role(), &Role::Follower { leader: Some(A) });
    let last = LogPosition {
        term: Term(9),
        end: Offset(9),
    };
    let pre_vote = receive(
        &mut b,
        C,
        Message::PreVote {
            term: Term(2),
            last,
        },
    );
    let refused = Message::PreVoteResponse {
        term: Term(1),
        granted: false,
    };
    assert_eq!(sends(&pre_vote), vec![(C, refused)]);
    let vote = receive(
        &mut b,
        C,
        Message::Vote {
            term: Term(2),
            last,
            transfer: false,
        },
    );
    assert!(vote.is_empty(), "a disruptive candidate is ignored");
    assert_eq!(b.term(), Term(1));
}

#[test]
fn a_malformed_append_is_dropped_without_touching_the_log() {
    let mut b = engine(B, 1, log_of(&[(1, 0)], 2, 2));
    let append = Message::Append {
        term: Term(1),
        from: Offset(2),
        prev_term: Term(1),
        end: Offset(4),
        epochs: Vec::new(),
        configs: Vec::new(),
        commit: Offset(0),
    };
    let commands = receive(&mut b, A, append);
    assert!(
        commands
            .iter()
            .all(|c| !matches!(c, Command::AppendEntries { .. } | Command::Send { .. }))
    );
    assert_eq!(b.log().end, Offset(2));
}
