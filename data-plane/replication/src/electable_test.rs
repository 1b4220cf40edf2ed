//! Maintenance mode (`Engine::set_electable`): an unelectable node starts no
//! election, but still votes, follows and keeps a leadership it already has.

use crate::engine_test::{A, B, C, engine, leader, log_of, receive, sends};
use crate::log::LogState;
use crate::message::{Command, Input, Message};
use crate::types::{LogPosition, Millis, Offset, Term};

#[test]
fn an_unelectable_node_never_starts_a_pre_vote_until_made_electable_again() {
    let mut a = engine(A, 3, log_of(&[(2, 0)], 5, 5));
    a.set_electable(false);
    for second in 1..=20u64 {
        let commands = a.step(Millis(second * 1000), Input::Tick);
        assert!(commands.is_empty(), "no campaign while unelectable");
    }
    assert_eq!(a.term(), Term(3));
    a.set_electable(true);
    let commands = a.step(Millis(40_000), Input::Tick);
    let pre_votes = sends(&commands)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::PreVote { term: Term(4), .. }))
        .count();
    assert_eq!(pre_votes, 2, "an electable node campaigns again");
}

#[test]
fn an_unelectable_follower_drops_an_expired_lease_and_grants_pre_votes() {
    let mut b = engine(B, 2, log_of(&[(2, 0)], 5, 5));
    b.set_electable(false);
    let heartbeat = Message::Append {
        term: Term(2),
        from: Offset(5),
        prev_term: Term(2),
        end: Offset(5),
        epochs: Vec::new(),
        configs: Vec::new(),
        commit: Offset(5),
    };
    receive(&mut b, A, heartbeat);
    let last = LogPosition {
        term: Term(2),
        end: Offset(5),
    };
    let pre_vote = Message::PreVote {
        term: Term(3),
        last,
    };
    let refused = receive(&mut b, C, pre_vote.clone());
    assert!(
        sends(&refused)
            .iter()
            .any(|(_, m)| matches!(m, Message::PreVoteResponse { granted: false, .. }))
    );
    // The leader goes silent: the lease expires, no campaign starts.
    let commands = b.step(Millis(5_000), Input::Tick);
    assert!(sends(&commands).is_empty(), "no campaign: {commands:?}");
    assert_eq!(b.term(), Term(2));
    let granted = receive(&mut b, C, pre_vote);
    assert!(
        sends(&granted)
            .iter()
            .any(|(to, m)| *to == C && matches!(m, Message::PreVoteResponse { granted: true, .. }))
    );
}

#[test]
fn an_unelectable_node_ignores_a_transfer_but_still_grants_votes() {
    let mut b = engine(B, 2, log_of(&[(2, 0)], 5, 5));
    b.set_electable(false);
    let commands = receive(&mut b, A, Message::TimeoutNow { term: Term(2) });
    assert!(
        commands.is_empty(),
        "no election on TimeoutNow: {commands:?}"
    );
    assert_eq!(b.term(), Term(2));
    let last = LogPosition {
        term: Term(2),
        end: Offset(5),
    };
    let vote = Message::Vote {
        term: Term(3),
        last,
        transfer: false,
    };
    let commands = receive(&mut b, C, vote);
    let granted = sends(&commands).into_iter().any(|(to, m)| {
        to == C
            && m == Message::VoteResponse {
                term: Term(3),
                granted: true,
            }
    });
    assert!(granted, "voting is unaffected: {commands:?}");
}

#[test]
fn a_leader_made_unelectable_keeps_leading_and_heartbeating() {
    let (mut a, _) = leader();
    a.set_electable(false);
    let commands = a.step(Millis(1100), Input::Tick);
    assert!(a.is_leader());
    let heartbeats = sends(&commands)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Append { term: Term(1), .. }))
        .count();
    assert!(heartbeats >= 2, "heartbeats go on: {commands:?}");
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::BecomeFollower { .. }))
    );
    let fresh = engine(C, 0, LogState::default());
    assert!(fresh.is_electable(), "engines start electable");
}

#[test]
fn a_candidate_made_unelectable_does_not_win_with_the_votes_it_gets() {
    let mut a = engine(A, 0, LogState::default());
    a.step(Millis(1000), Input::Tick);
    let pre_granted = Message::PreVoteResponse {
        term: Term(1),
        granted: true,
    };
    receive(&mut a, B, pre_granted);
    assert_eq!(a.term(), Term(1), "the election started");
    a.set_electable(false);
    let granted = Message::VoteResponse {
        term: Term(1),
        granted: true,
    };
    let commands = receive(&mut a, B, granted.clone());
    receive(&mut a, C, granted);
    assert!(!a.is_leader(), "no win while unelectable: {commands:?}");
    let commands = a.step(Millis(5_000), Input::Tick);
    assert!(
        sends(&commands).is_empty(),
        "and no new campaign: {commands:?}"
    );
}
