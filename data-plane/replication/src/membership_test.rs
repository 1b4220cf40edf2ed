//! Membership change tests: proposals, refusals, removal of the leader,
//! configurations in effect once appended, and nodes outside them.

use crate::engine_test::{A, B, C, engine, leader, log_of, receive, sends};
use crate::log::{ConfigEntry, EpochStart};
use crate::message::{
    AppendResult, AppendSource, Command, Input, MembershipChange, MembershipRefusal, Message,
    ReplyOutcome,
};
use crate::types::{Millis, NodeId, Offset, RequestId, Term};
use crate::{Config, Engine, HardState, LogState};

const D: NodeId = NodeId(4);

fn accept(engine: &mut Engine, from: NodeId, end: i64) -> Vec<Command> {
    let result = AppendResult::Accepted {
        verified: Offset(end),
        durable: Offset(end),
        entries: true,
    };
    let term = engine.term();
    receive(engine, from, Message::AppendResponse { term, result })
}

/// `A` leads term 1 and has committed its leader-change entry (offset 0).
fn settled_leader() -> Engine {
    let (mut a, _) = leader();
    a.step(Millis(1000), Input::Durable { end: Offset(1) });
    accept(&mut a, B, 1);
    assert_eq!(a.high_watermark(), Offset(1));
    a
}

fn propose(engine: &mut Engine, request: u64, change: MembershipChange) -> Vec<Command> {
    let now = engine.now;
    let request = RequestId(request);
    engine.step(now, Input::ChangeMembership { request, change })
}

fn reply(commands: &[Command], request: u64) -> Option<ReplyOutcome> {
    commands.iter().find_map(|c| match c {
        Command::Reply {
            request: r,
            outcome,
        } if *r == RequestId(request) => Some(*outcome),
        _ => None,
    })
}

#[test]
fn an_added_voter_counts_at_once_and_a_second_change_waits_for_the_first_to_commit() {
    let mut a = settled_leader();
    let commands = propose(&mut a, 7, MembershipChange::AddVoter(D));
    let appended = Command::AppendEntries {
        from: Offset(1),
        end: Offset(2),
        epochs: vec![EpochStart {
            term: Term(1),
            start: Offset(1),
        }],
        source: AppendSource::Membership(RequestId(7)),
    };
    assert!(commands.contains(&appended));
    assert_eq!(a.voters(), &[A, B, C, D], "in effect once appended");
    let to_d = sends(&commands)
        .into_iter()
        .filter(|(to, _)| *to == D)
        .count();
    assert_eq!(to_d, 1, "the new voter is probed from the leader's log end");
    let second = propose(&mut a, 8, MembershipChange::RemoveVoter(C));
    let refused = ReplyOutcome::Refused(MembershipRefusal::ChangeInProgress);
    assert_eq!(reply(&second, 8), Some(refused));
    a.step(Millis(1000), Input::Durable { end: Offset(2) });
    let one = accept(&mut a, B, 2);
    assert_eq!(reply(&one, 7), None, "two of four voters are no quorum");
    let two = accept(&mut a, C, 2);
    let committed = ReplyOutcome::Committed {
        first: Offset(1),
        end: Offset(2),
    };
    assert_eq!(reply(&two, 7), Some(committed));
    let third = propose(&mut a, 9, MembershipChange::RemoveVoter(C));
    assert_eq!(reply(&third, 9), None, "accepted once the first committed");
    assert_eq!(a.voters(), &[A, B, D]);
}

#[test]
fn a_change_is_refused_before_the_leader_commits_in_its_term_and_on_bad_targets() {
    let (mut a, _) = leader();
    let early = propose(&mut a, 1, MembershipChange::AddVoter(D));
    let not_settled = ReplyOutcome::Refused(MembershipRefusal::LeaderNotSettled);
    assert_eq!(reply(&early, 1), Some(not_settled));
    let mut a = settled_leader();
    let cases = [
        (
            MembershipChange::AddVoter(B),
            MembershipRefusal::AlreadyVoter(B),
        ),
        (
            MembershipChange::RemoveVoter(D),
            MembershipRefusal::NotAVoter(D),
        ),
    ];
    for (change, refusal) in cases {
        let commands = propose(&mut a, 2, change);
        assert_eq!(reply(&commands, 2), Some(ReplyOutcome::Refused(refusal)));
        assert_eq!(commands.len(), 1, "a refusal appends nothing");
    }
    let mut b = engine(B, 1, LogState::default());
    let commands = propose(&mut b, 3, MembershipChange::AddVoter(D));
    assert!(matches!(
        reply(&commands, 3),
        Some(ReplyOutcome::NotLeader { .. })
    ));
}

#[test]
fn a_removed_leader_replicates_the_change_steps_down_once_committed_and_stops_sending() {
    let mut a = settled_leader();
    propose(&mut a, 5, MembershipChange::RemoveVoter(A));
    assert_eq!(a.voters(), &[B, C]);
    assert!(a.is_leader(), "it leads until the change commits");
    a.step(Millis(1000), Input::Durable { end: Offset(2) });
    let one = accept(&mut a, B, 2);
    assert!(
        a.is_leader(),
        "its own copy does not count: one of two voters"
    );
    assert_eq!(reply(&one, 5), None);
    let two = accept(&mut a, C, 2);
    assert!(!a.is_leader());
    assert!(matches!(
        reply(&two, 5),
        Some(ReplyOutcome::Committed { .. })
    ));
    assert!(two.contains(&Command::BecomeFollower {
        term: Term(1),
        leader: None
    }));
    for now in [2_000, 5_000, 60_000] {
        let commands = a.step(Millis(now), Input::Tick);
        assert!(
            sends(&commands).is_empty(),
            "a removed node never campaigns"
        );
    }
}

fn append_with_config(from: i64, voters: Vec<NodeId>) -> Message {
    Message::Append {
        term: Term(1),
        from: Offset(from),
        prev_term: if from == 0 { Term(0) } else { Term(1) },
        end: Offset(from + 1),
        epochs: vec![EpochStart {
            term: Term(1),
            start: Offset(from),
        }],
        configs: vec![ConfigEntry {
            offset: Offset(from),
            voters,
        }],
        commit: Offset(0),
    }
}

#[test]
fn a_follower_applies_a_configuration_when_appended_and_reverts_it_on_truncation() {
    let mut c = engine(C, 1, log_of(&[(1, 0)], 1, 1));
    receive(&mut c, A, append_with_config(1, vec![A, B]));
    assert_eq!(c.voters(), &[A, B]);
    let quiet = c.step(Millis(60_000), Input::Tick);
    assert!(sends(&quiet).is_empty(), "not in its latest configuration");
    let conflict = Message::Append {
        term: Term(2),
        from: Offset(1),
        prev_term: Term(1),
        end: Offset(2),
        epochs: vec![EpochStart {
            term: Term(2),
            start: Offset(1),
        }],
        configs: Vec::new(),
        commit: Offset(0),
    };
    let commands = receive(&mut c, B, conflict);
    assert!(commands.contains(&Command::TruncateLog { end: Offset(1) }));
    assert_eq!(c.voters(), &[A, B, C], "the truncated change is undone");
    let campaign = c.step(Millis(120_000), Input::Tick);
    assert_eq!(sends(&campaign).len(), 2, "a voter again: it campaigns");
}

#[test]
fn a_joining_node_waits_outside_the_configuration_until_its_entry_arrives() {
    let config = Config::new(D, vec![A, B, C], 4);
    let mut d = Engine::new(config, HardState::default(), LogState::default(), Millis(0))
        .expect("a node may start outside the initial configuration");
    assert!(!d.is_voter());
    assert!(sends(&d.step(Millis(60_000), Input::Tick)).is_empty());
    receive(&mut d, A, append_with_config(0, vec![A, B, C, D]));
    assert!(d.is_voter());
    let restored = Engine::new(
        Config::new(D, vec![A, B, C], 4),
        d.hard_state(),
        d.log().clone(),
        Millis(0),
    )
    .expect("restart");
    assert!(
        restored.is_voter(),
        "the membership history is restored with the log"
    );
}

#[test]
fn an_initial_configuration_listed_out_of_order_still_elects_and_changes() {
    let config = Config::new(A, vec![C, A, B], 1);
    let mut a = Engine::new(config, HardState::default(), LogState::default(), Millis(0))
        .expect("valid engine");
    a.step(Millis(1000), Input::Tick);
    let term = Term(1);
    receive(
        &mut a,
        C,
        Message::PreVoteResponse {
            term,
            granted: true,
        },
    );
    receive(
        &mut a,
        C,
        Message::VoteResponse {
            term,
            granted: true,
        },
    );
    assert!(a.is_leader());
    a.step(Millis(1000), Input::Durable { end: Offset(1) });
    accept(&mut a, C, 1);
    let commands = propose(&mut a, 1, MembershipChange::AddVoter(D));
    assert_eq!(reply(&commands, 1), None);
    assert_eq!(
        a.voters(),
        &[A, B, C, D],
        "configuration entries list voters sorted"
    );
}

#[test]
fn an_idle_leader_resends_an_append_whose_slot_a_duplicated_answer_freed() {
    let mut a = settled_leader();
    for request in [1, 2] {
        let now = a.now;
        a.step(
            now,
            Input::ClientAppend {
                request: RequestId(request),
                records: 1,
            },
        );
    }
    accept(&mut a, B, 2);
    accept(&mut a, B, 2); // a duplicate frees the slot of the lost [2, 3)
    let mut resent = false;
    for _ in 0..2 {
        let at = a.heartbeat_deadline;
        let commands = a.step(at, Input::Tick);
        resent |= sends(&commands).iter().any(|(to, m)| {
            *to == B && matches!(m, Message::Append { from, end, .. } if *from == Offset(2) && *end == Offset(3))
        });
    }
    assert!(
        resent,
        "no later write would expose the gap: the heartbeat must"
    );
}
