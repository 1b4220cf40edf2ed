//! The leader side: client appends, sending appends, progress, commit.

use crate::engine::{Engine, LeaderState, Pending, Role};
use crate::log::EpochStart;
use crate::message::{AppendResult, AppendSource, Command, Message, RejectHint, ReplyOutcome};
use crate::progress::Progress;
use crate::types::{NodeId, Offset, RequestId};

impl Engine {
    pub(crate) fn leader_state(&mut self) -> Option<&mut LeaderState> {
        match &mut self.role {
            Role::Leader(state) => Some(&mut state.0),
            _ => None,
        }
    }

    fn known_leader(&self) -> Option<NodeId> {
        match self.role {
            Role::Follower { leader } => leader,
            _ => None,
        }
    }

    pub(crate) fn client_append(&mut self, request: RequestId, records: u32) {
        assert!(records > 0, "a batch holds at least one record");
        let bound = self.config.max_pending_requests as usize;
        let leader = self.known_leader();
        let voter = self.is_voter();
        let busy = match self.leader_state() {
            Some(_) if !voter => Some(ReplyOutcome::NotLeader { leader: None }),
            None => Some(ReplyOutcome::NotLeader { leader }),
            Some(state) if state.transfer.is_some() => {
                Some(ReplyOutcome::NotLeader { leader: None })
            }
            Some(state) if state.pending.len() >= bound => Some(ReplyOutcome::Overloaded),
            Some(_) => None,
        };
        if let Some(outcome) = busy {
            self.output.push(Command::Reply { request, outcome });
            return;
        }
        let first = self.log.end;
        let end = first.plus(i64::from(records));
        let epochs = vec![EpochStart {
            term: self.hard.term,
            start: first,
        }];
        self.log.append(end, &epochs);
        self.verified = end;
        let source = AppendSource::Client(request);
        self.output.push(Command::AppendEntries {
            from: first,
            end,
            epochs,
            source,
        });
        if let Some(state) = self.leader_state() {
            state.pending.push_back(Pending {
                request,
                first,
                end,
            });
        }
        self.broadcast_append();
        self.advance_commit();
    }

    pub(crate) fn broadcast_append(&mut self) {
        for peer in self.peers() {
            self.send_appends(peer);
        }
    }

    /// Sends as many appends to `peer` as flow control allows.
    pub(crate) fn send_appends(&mut self, peer: NodeId) {
        let max_in_flight = self.config.max_in_flight;
        for _ in 0..max_in_flight {
            let Some(progress) = self.progress(peer) else {
                return;
            };
            if progress.next >= self.log.end || !progress.can_send(max_in_flight) {
                return;
            }
            let from = progress.next;
            if from < self.log.start {
                self.output.push(Command::SendSnapshot {
                    to: peer,
                    start: self.log.start,
                });
                return;
            }
            let end = self
                .log
                .end
                .min(from.plus(i64::from(self.config.max_append_records)));
            self.send_range(peer, from, end);
            let progress = self.progress_mut(peer).expect("peer has progress");
            progress.next = end;
            progress.in_flight += 1;
        }
    }

    /// An append of `[from, end)`; `from == end` is a heartbeat.
    fn send_range(&mut self, peer: NodeId, from: Offset, end: Offset) {
        assert!(from <= end && end <= self.log.end);
        let prev_term = self.log.term_before(from).expect("from is inside the log");
        let epochs = self.log.epochs_in(from, end);
        let configs = self.log.configs_in(from, end);
        let message = Message::Append {
            term: self.hard.term,
            from,
            prev_term,
            end,
            epochs,
            configs,
            commit: self.commit,
        };
        self.send(peer, message);
    }

    pub(crate) fn progress(&self, peer: NodeId) -> Option<&Progress> {
        match &self.role {
            Role::Leader(state) => state.0.progress.get(&peer),
            _ => None,
        }
    }

    pub(crate) fn progress_mut(&mut self, peer: NodeId) -> Option<&mut Progress> {
        self.leader_state()?.progress.get_mut(&peer)
    }

    pub(crate) fn on_append_response(
        &mut self,
        from: NodeId,
        term: crate::types::Term,
        result: AppendResult,
    ) {
        if term != self.hard.term || !self.is_leader() {
            return;
        }
        let now = self.now;
        let log_end = self.log.end;
        let Some(progress) = self.progress_mut(from) else {
            return;
        };
        match result {
            AppendResult::Accepted {
                verified,
                durable,
                entries,
            } => {
                assert!(
                    verified <= log_end,
                    "follower verified beyond the leader's log"
                );
                progress.accept(verified, durable, entries, now);
                self.advance_commit();
                self.maybe_send_timeout_now(from);
            }
            AppendResult::Rejected {
                from: rejected,
                hint,
            } => {
                progress.hear(now);
                if let RejectHint::LogEnd(end) = hint
                    && end < progress.verified
                {
                    progress.forget_beyond(end); // it crashed and lost its tail
                } else if rejected <= progress.verified {
                    return; // stale: that prefix is known to match
                }
                let next = self.backup_target(hint).min(rejected.previous());
                let progress = self.progress_mut(from).expect("peer has progress");
                let next = next.max(progress.verified);
                progress.restart(next);
            }
        }
        self.send_appends(from);
    }

    /// Where to retry after a rejection (fast backup by term).
    fn backup_target(&self, hint: RejectHint) -> Offset {
        match hint {
            RejectHint::LogEnd(end) => end,
            RejectHint::Conflict { term, start } => match self.log.epoch_end(term) {
                Some((ours, end)) if ours == term => end,
                _ => start,
            },
        }
    }

    /// Raises the high watermark to what a quorum holds durably, if it is
    /// in the current term.
    pub(crate) fn advance_commit(&mut self) {
        let Role::Leader(state) = &self.role else {
            return;
        };
        let mut matched: Vec<Offset> = state.0.progress.values().map(|p| p.matched).collect();
        if self.is_voter() {
            matched.push(self.log.durable); // a leader being removed does not count
        }
        assert!(matched.len() == self.voters().len());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.quorum() - 1];
        if candidate <= self.commit {
            return;
        }
        let term = self.log.term_before(candidate).expect("a quorum holds it");
        if term != self.hard.term {
            return; // Raft §5.4.2: earlier terms commit only indirectly
        }
        assert!(candidate <= self.log.end);
        self.commit = candidate;
        self.output
            .push(Command::SetHighWatermark { end: candidate });
        self.reply_committed();
        self.step_down_if_removed();
    }

    fn reply_committed(&mut self) {
        let commit = self.commit;
        let Some(state) = self.leader_state() else {
            return;
        };
        let mut done = Vec::new();
        while state.pending.front().is_some_and(|p| p.end <= commit) {
            done.extend(state.pending.pop_front());
        }
        for pending in done {
            let outcome = ReplyOutcome::Committed {
                first: pending.first,
                end: pending.end,
            };
            self.output.push(Command::Reply {
                request: pending.request,
                outcome,
            });
        }
    }
}
