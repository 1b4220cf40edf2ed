//! A membership change racing a leader change: simulation seed 8592 replayed
//! on four engines with a hand-driven network (see docs/replication.md,
//! "Membership change", "A configuration on an abandoned branch").
//!
//! Term 1: node 2 leads {0,1,2}, adds node 3, then appends "remove node 1"
//! ({0,2,3}) while cut off; nobody else gets it. Term 2: node 3 is elected
//! by {0,1,3} in {0,1,2,3}, commits its leader-change entry there, removes
//! node 0 ({1,2,3}) and commits a write with node 1's answer alone. Node 2's
//! configuration {0,2,3} and node 3's {1,2,3} have disjoint majorities, yet
//! node 2 can never win: nodes 0 and 3 hold a term-2 entry durably, so they
//! refuse its term-1 log. That is what the `LeaderNotSettled` rule buys.

use std::collections::VecDeque;

use crate::message::{Command, Input, MembershipChange, MembershipRefusal, Message, ReplyOutcome};
use crate::types::{Millis, NodeId, Offset, RequestId, Term};
use crate::{Config, Engine, HardState, LogState};

fn ids(list: &[u32]) -> Vec<NodeId> {
    list.iter().copied().map(NodeId).collect()
}

/// Four engines (0, 1, 2 the initial voters, 3 a spare) and the messages in
/// flight; every node fsyncs after each delivery.
struct Cluster {
    nodes: Vec<Engine>,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    now: Millis,
}

impl Cluster {
    fn new() -> Cluster {
        let nodes = (0..4u32)
            .map(|id| {
                let config = Config::new(NodeId(id), ids(&[0, 1, 2]), 11 + u64::from(id));
                let hard = HardState::default();
                Engine::new(config, hard, LogState::default(), Millis(0)).expect("valid")
            })
            .collect();
        Cluster {
            nodes,
            queue: VecDeque::new(),
            now: Millis(0),
        }
    }

    fn step(&mut self, index: usize, input: Input) -> Vec<Command> {
        let commands = self.nodes[index].step(self.now, input);
        for command in &commands {
            if let Command::Send { to, message } = command {
                let from = NodeId(index as u32);
                self.queue.push_back((from, *to, message.clone()));
            }
        }
        commands
    }

    fn fsync(&mut self, index: usize) {
        let end = self.nodes[index].log().end;
        self.step(index, Input::Durable { end });
    }

    /// Delivers until the network is quiet, dropping what `link` refuses.
    fn deliver(&mut self, link: impl Fn(usize, usize) -> bool) {
        // Bounded: a few rounds of catch-up and acknowledgements.
        for _ in 0..10_000 {
            let Some((from, to, message)) = self.queue.pop_front() else {
                return;
            };
            if link(from.0 as usize, to.0 as usize) {
                self.step(to.0 as usize, Input::Message { from, message });
                for index in 0..self.nodes.len() {
                    self.fsync(index);
                }
            }
        }
        panic!("the network never went quiet");
    }

    /// Lets `index`'s next timer fire.
    fn timeout(&mut self, index: usize) -> Vec<Command> {
        self.now = self.now.max(self.nodes[index].next_deadline());
        self.step(index, Input::Tick)
    }

    /// Restarts `index` from its hard state and durable log.
    fn crash(&mut self, index: usize) {
        let old = &self.nodes[index];
        let config = Config::new(NodeId(index as u32), ids(&[0, 1, 2]), 99);
        let restarted = Engine::new(config, old.hard_state(), old.log().after_crash(), self.now);
        self.nodes[index] = restarted.expect("restart from durable state");
    }

    fn propose(&mut self, index: usize, request: u64, change: MembershipChange) -> ReplyOutcome {
        let request = RequestId(request);
        let commands = self.step(index, Input::ChangeMembership { request, change });
        let reply = commands.iter().find_map(|c| match c {
            Command::Reply {
                request: r,
                outcome,
            } if *r == request => Some(*outcome),
            _ => None,
        });
        reply.unwrap_or(ReplyOutcome::Committed {
            first: Offset(-1),
            end: Offset(-1),
        })
    }

    fn write(&mut self, index: usize, request: u64) {
        let input = Input::ClientAppend {
            request: RequestId(request),
            records: 2,
        };
        self.step(index, input);
    }

    /// Asks `voter` to vote for `candidate`'s log at `term`, with the
    /// transfer flag so that no leader lease hides the log comparison.
    fn vote_granted(&mut self, voter: usize, candidate: usize, term: Term) -> bool {
        let last = self.nodes[candidate].log().last_position();
        let from = NodeId(candidate as u32);
        let message = Message::Vote {
            term,
            last,
            transfer: true,
        };
        let commands = self.step(voter, Input::Message { from, message });
        self.queue.clear();
        commands.iter().any(|c| {
            matches!(
                c,
                Command::Send {
                    message: Message::VoteResponse { granted: true, .. },
                    ..
                }
            )
        })
    }
}

const ALL: fn(usize, usize) -> bool = |_, _| true;

#[test]
fn a_voter_left_with_a_configuration_of_an_abandoned_term_can_never_win_against_a_settled_change() {
    let mut cluster = Cluster::new();
    // Term 1: node 2 leads, commits, adds the spare node 3 and a write.
    cluster.timeout(2);
    cluster.deliver(ALL);
    assert!(cluster.nodes[2].is_leader());
    let added = cluster.propose(2, 1, MembershipChange::AddVoter(NodeId(3)));
    assert!(!matches!(added, ReplyOutcome::Refused(_)));
    cluster.write(2, 2);
    cluster.deliver(ALL);
    let committed = cluster.nodes[2].high_watermark();
    assert_eq!(committed, cluster.nodes[2].log().end, "all committed");
    assert!(cluster.nodes.iter().all(|n| n.log().end == committed));

    // Node 2, cut off, appends "remove node 1": only it ever holds {0,2,3}.
    let removed = cluster.propose(2, 3, MembershipChange::RemoveVoter(NodeId(1)));
    assert!(!matches!(removed, ReplyOutcome::Refused(_)));
    cluster.queue.clear();
    cluster.fsync(2);
    assert_eq!(cluster.nodes[2].voters(), ids(&[0, 2, 3]).as_slice());
    // Bounded: check-quorum deposes the isolated leader within a few timers.
    for _ in 0..100 {
        if !cluster.nodes[2].is_leader() {
            break;
        }
        cluster.timeout(2);
        cluster.queue.clear();
    }
    assert!(!cluster.nodes[2].is_leader(), "check-quorum");

    // Term 2: node 3 is elected by {0,1,3} of {0,1,2,3}; node 2 hears nothing.
    let cut_2 = |from: usize, to: usize| from != 2 && to != 2;
    cluster.crash(0); // as in the seed: no leader lease left on 0 and 1
    cluster.crash(1);
    cluster.timeout(3);
    cluster.deliver(cut_2);
    assert!(cluster.nodes[3].is_leader());
    assert_eq!(cluster.nodes[3].term(), Term(2));
    assert_eq!(cluster.nodes[3].voters(), ids(&[0, 1, 2, 3]).as_slice());
    let settled = cluster.nodes[3].high_watermark();
    assert_eq!(cluster.nodes[3].log().term_before(settled), Some(Term(2)));
    assert!(cluster.nodes[0].log().durable >= settled, "0 holds term 2");

    // Node 3 removes node 0 and commits a write with node 1's answer alone.
    let change = cluster.propose(3, 4, MembershipChange::RemoveVoter(NodeId(0)));
    assert!(!matches!(change, ReplyOutcome::Refused(_)));
    assert_eq!(cluster.nodes[3].voters(), ids(&[1, 2, 3]).as_slice());
    cluster.write(3, 5);
    let write_end = cluster.nodes[3].log().end;
    let only_1 = |from: usize, to: usize| [1, 3].contains(&from) && [1, 3].contains(&to);
    cluster.deliver(only_1);
    assert_eq!(cluster.nodes[3].high_watermark(), write_end);
    assert!(cluster.nodes[0].log().end < write_end && cluster.nodes[2].log().end < write_end);

    // The two configurations have disjoint majorities ({1,3} and {0,2})...
    assert_eq!(cluster.nodes[2].voters(), ids(&[0, 2, 3]).as_slice());
    // ...but node 2's log (last term 1) is behind the term-2 entry that 0
    // and 3 hold durably: after any crash, neither votes for it.
    cluster.crash(0);
    cluster.crash(3);
    let candidate = cluster.nodes[2].log().last_position();
    assert_eq!(candidate.term, Term(1));
    assert!(cluster.nodes[0].log().last_position() > candidate);
    cluster.timeout(2);
    cluster.deliver(ALL);
    assert!(!cluster.nodes[2].is_leader(), "node 2 lost its election");
    for term in [Term(5), Term(6)] {
        assert!(!cluster.vote_granted(0, 2, term), "0 refuses at {term}");
        assert!(!cluster.vote_granted(3, 2, term), "3 refuses at {term}");
    }
}

#[test]
fn the_new_leader_of_that_race_may_not_change_membership_before_it_commits_in_its_term() {
    let mut cluster = Cluster::new();
    cluster.timeout(2);
    cluster.deliver(ALL);
    cluster.propose(2, 1, MembershipChange::AddVoter(NodeId(3)));
    cluster.deliver(ALL);
    cluster.crash(0);
    cluster.crash(1);
    cluster.crash(2);
    cluster.timeout(3);
    // Votes only: the leader-change entry of term 2 is not yet on a majority.
    let votes = |from: usize, to: usize| from != 2 && to != 2;
    // Bounded: pre-votes, votes, then the first append goes out.
    for _ in 0..100 {
        if cluster.nodes[3].is_leader() {
            break;
        }
        let Some((from, to, message)) = cluster.queue.pop_front() else {
            break;
        };
        if votes(from.0 as usize, to.0 as usize) {
            cluster.step(to.0 as usize, Input::Message { from, message });
        }
    }
    assert!(cluster.nodes[3].is_leader());
    let early = cluster.propose(3, 2, MembershipChange::RemoveVoter(NodeId(0)));
    let refused = ReplyOutcome::Refused(MembershipRefusal::LeaderNotSettled);
    assert_eq!(early, refused, "a change waits for an entry of the term");
}
