//! Replication unit tests: appends, commit, truncation, flow control, transfer.

use crate::engine_test::{A, B, C, engine, leader, log_of, receive, sends};
use crate::log::EpochStart;
use crate::message::{
    AppendResult, AppendSource, Command, Input, Message, RejectHint, ReplyOutcome,
};
use crate::types::{Millis, Offset, RequestId, Term};

#[test]
fn a_new_leader_appends_a_leader_change_batch_and_replicates_it() {
    let (_, commands) = leader();
    assert_eq!(commands[0], Command::BecomeLeader { term: Term(1) });
    let epochs = vec![EpochStart {
        term: Term(1),
        start: Offset(0),
    }];
    let source = AppendSource::LeaderChange;
    let append = Command::AppendEntries {
        from: Offset(0),
        end: Offset(1),
        epochs: epochs.clone(),
        source,
    };
    assert_eq!(commands[1], append);
    let message = Message::Append {
        term: Term(1),
        from: Offset(0),
        prev_term: Term(0),
        end: Offset(1),
        epochs,
        configs: Vec::new(),
        commit: Offset(0),
    };
    assert_eq!(sends(&commands), vec![(B, message.clone()), (C, message)]);
}

#[test]
fn a_write_commits_only_once_a_quorum_reports_it_durable() {
    let (mut a, _) = leader();
    let request = RequestId(7);
    a.step(
        Millis(1000),
        Input::ClientAppend {
            request,
            records: 3,
        },
    );
    assert_eq!(a.log().end, Offset(4));
    let verified_only = AppendResult::Accepted {
        verified: Offset(4),
        durable: Offset(0),
        entries: true,
    };
    let commands = receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(1),
            result: verified_only,
        },
    );
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::SetHighWatermark { .. }))
    );
    let durable = AppendResult::Accepted {
        verified: Offset(4),
        durable: Offset(4),
        entries: true,
    };
    let commands = receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(1),
            result: durable,
        },
    );
    assert!(commands.is_empty() || !commands.iter().any(|c| matches!(c, Command::Reply { .. })));
    let commands = a.step(Millis(1000), Input::Durable { end: Offset(4) });
    let outcome = ReplyOutcome::Committed {
        first: Offset(1),
        end: Offset(4),
    };
    let expected = vec![
        Command::SetHighWatermark { end: Offset(4) },
        Command::Reply { request, outcome },
    ];
    assert_eq!(commands, expected);
}

#[test]
fn a_leader_does_not_commit_an_earlier_term_entry_by_counting() {
    let mut a = engine(A, 2, log_of(&[(1, 0)], 2, 2));
    a.step(Millis(1000), Input::Tick);
    receive(
        &mut a,
        B,
        Message::PreVoteResponse {
            term: Term(3),
            granted: true,
        },
    );
    receive(
        &mut a,
        B,
        Message::VoteResponse {
            term: Term(3),
            granted: true,
        },
    );
    let only_old = AppendResult::Accepted {
        verified: Offset(2),
        durable: Offset(2),
        entries: true,
    };
    let commands = receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(3),
            result: only_old,
        },
    );
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::SetHighWatermark { .. }))
    );
    assert_eq!(a.high_watermark(), Offset(0));
}

#[test]
fn a_follower_truncates_a_conflicting_suffix_before_appending() {
    let mut b = engine(B, 2, log_of(&[(1, 0), (2, 3)], 5, 5));
    let epochs = vec![EpochStart {
        term: Term(3),
        start: Offset(3),
    }];
    let append = Message::Append {
        term: Term(3),
        from: Offset(3),
        prev_term: Term(1),
        end: Offset(4),
        epochs: epochs.clone(),
        configs: Vec::new(),
        commit: Offset(2),
    };
    let commands = receive(&mut b, A, append);
    let truncate = Command::TruncateLog { end: Offset(3) };
    let position = commands
        .iter()
        .position(|c| *c == truncate)
        .expect("truncated");
    let source = AppendSource::Replicated;
    let appended = Command::AppendEntries {
        from: Offset(3),
        end: Offset(4),
        epochs,
        source,
    };
    assert_eq!(commands.get(position + 1), Some(&appended));
    let accepted = AppendResult::Accepted {
        verified: Offset(4),
        durable: Offset(3),
        entries: true,
    };
    let reply = Message::AppendResponse {
        term: Term(3),
        result: accepted,
    };
    assert_eq!(sends(&commands), vec![(A, reply)]);
    assert_eq!(b.high_watermark(), Offset(2));
}

#[test]
fn a_follower_rejects_a_gap_and_a_term_mismatch_with_a_hint() {
    let mut b = engine(B, 2, log_of(&[(1, 0), (2, 3)], 5, 5));
    let append = |from: i64, prev_term: i32| Message::Append {
        term: Term(3),
        from: Offset(from),
        prev_term: Term(prev_term),
        end: Offset(from),
        epochs: Vec::new(),
        configs: Vec::new(),
        commit: Offset(0),
    };
    let gap = sends(&receive(&mut b, A, append(9, 3)));
    let hint = RejectHint::LogEnd(Offset(5));
    let rejected = AppendResult::Rejected {
        from: Offset(9),
        hint,
    };
    assert_eq!(
        gap,
        vec![(
            A,
            Message::AppendResponse {
                term: Term(3),
                result: rejected
            }
        )]
    );
    let mismatch = sends(&receive(&mut b, A, append(5, 3)));
    let hint = RejectHint::Conflict {
        term: Term(2),
        start: Offset(3),
    };
    let rejected = AppendResult::Rejected {
        from: Offset(5),
        hint,
    };
    assert_eq!(
        mismatch,
        vec![(
            A,
            Message::AppendResponse {
                term: Term(3),
                result: rejected
            }
        )]
    );
}

#[test]
fn a_leader_backs_up_by_term_after_a_rejection() {
    let mut a = engine(A, 2, log_of(&[(1, 0)], 3, 3));
    a.step(Millis(1000), Input::Tick);
    receive(
        &mut a,
        B,
        Message::PreVoteResponse {
            term: Term(3),
            granted: true,
        },
    );
    receive(
        &mut a,
        B,
        Message::VoteResponse {
            term: Term(3),
            granted: true,
        },
    );
    let hint = RejectHint::Conflict {
        term: Term(2),
        start: Offset(2),
    };
    let result = AppendResult::Rejected {
        from: Offset(3),
        hint,
    };
    let commands = receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(3),
            result,
        },
    );
    // The leader has no term 2: retry from the follower's first term-2 offset.
    let retry = sends(&commands);
    assert!(
        matches!(&retry[..], [(to, Message::Append { from, prev_term, .. })]
        if *to == B && *from == Offset(2) && *prev_term == Term(1))
    );
}

#[test]
fn pipelining_stops_at_the_in_flight_bound() {
    let (mut a, _) = leader();
    let accepted = AppendResult::Accepted {
        verified: Offset(1),
        durable: Offset(0),
        entries: true,
    };
    receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(1),
            result: accepted,
        },
    );
    let mut appends_to_b = 0;
    for request in 0..10 {
        let commands = a.step(
            Millis(1000),
            Input::ClientAppend {
                request: RequestId(request),
                records: 1,
            },
        );
        appends_to_b += sends(&commands).iter().filter(|(to, _)| *to == B).count();
    }
    assert_eq!(appends_to_b, a.config.max_in_flight as usize);
}

#[test]
fn a_leader_that_hears_from_no_quorum_steps_down() {
    let (mut a, _) = leader();
    let commands = a.step(Millis(10_000), Input::Tick);
    assert!(commands.contains(&Command::BecomeFollower {
        term: Term(1),
        leader: None
    }));
    assert!(!a.is_leader());
}

#[test]
fn leadership_transfer_sends_timeout_now_once_the_target_caught_up() {
    let (mut a, _) = leader();
    let commands = a.step(Millis(1000), Input::TransferLeadership { to: B });
    assert!(
        sends(&commands)
            .iter()
            .all(|(_, m)| !matches!(m, Message::TimeoutNow { .. }))
    );
    let accepted = AppendResult::Accepted {
        verified: Offset(1),
        durable: Offset(1),
        entries: true,
    };
    let commands = receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(1),
            result: accepted,
        },
    );
    assert!(sends(&commands).contains(&(B, Message::TimeoutNow { term: Term(1) })));
    let refused = a.step(
        Millis(1000),
        Input::ClientAppend {
            request: RequestId(1),
            records: 1,
        },
    );
    let outcome = ReplyOutcome::NotLeader { leader: None };
    assert_eq!(
        refused,
        vec![Command::Reply {
            request: RequestId(1),
            outcome
        }]
    );
}

#[test]
fn a_leader_resends_what_a_crashed_follower_lost_from_its_unflushed_tail() {
    let (mut a, _) = leader();
    a.step(
        Millis(1000),
        Input::ClientAppend {
            request: RequestId(1),
            records: 4,
        },
    );
    let verified = AppendResult::Accepted {
        verified: Offset(5),
        durable: Offset(1),
        entries: true,
    };
    receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(1),
            result: verified,
        },
    );
    // B crashed and kept only its durable prefix [0, 1).
    let hint = RejectHint::LogEnd(Offset(1));
    let result = AppendResult::Rejected {
        from: Offset(5),
        hint,
    };
    let commands = receive(
        &mut a,
        B,
        Message::AppendResponse {
            term: Term(1),
            result,
        },
    );
    let retry = sends(&commands);
    assert!(
        matches!(&retry[..], [(to, Message::Append { from, end, .. })]
        if *to == B && *from == Offset(1) && *end == Offset(5))
    );
}

#[test]
fn heartbeat_answers_do_not_free_in_flight_slots() {
    let (mut a, _) = leader();
    let answer = |verified: i64, entries: bool| Message::AppendResponse {
        term: Term(1),
        result: AppendResult::Accepted {
            verified: Offset(verified),
            durable: Offset(verified),
            entries,
        },
    };
    receive(&mut a, B, answer(1, true));
    let mut appends_to_b = 0;
    for request in 0..a.config.max_in_flight {
        let commands = a.step(
            Millis(1000),
            Input::ClientAppend {
                request: RequestId(u64::from(request)),
                records: 1,
            },
        );
        appends_to_b += sends(&commands).iter().filter(|(to, _)| *to == B).count();
    }
    assert_eq!(appends_to_b, a.config.max_in_flight as usize);
    // B answers heartbeats (and reports durability) while every append is
    // still in flight: none of those answers frees a slot.
    for _ in 0..3 {
        receive(&mut a, B, answer(1, false));
    }
    let commands = a.step(
        Millis(1000),
        Input::ClientAppend {
            request: RequestId(100),
            records: 1,
        },
    );
    let to_b: Vec<_> = sends(&commands)
        .into_iter()
        .filter(|(to, _)| *to == B)
        .collect();
    assert!(to_b.is_empty(), "the pipeline bound was exceeded: {to_b:?}");
    // The answer to a real append frees exactly one slot.
    receive(&mut a, B, answer(2, true));
    let commands = a.step(
        Millis(1000),
        Input::ClientAppend {
            request: RequestId(101),
            records: 1,
        },
    );
    let to_b = sends(&commands)
        .into_iter()
        .filter(|(to, _)| *to == B)
        .count();
    assert!(to_b <= 1);
}
