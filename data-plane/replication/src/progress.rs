//! The leader's view of one follower.

use crate::types::{Millis, Offset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Mode {
    /// Finding the match point: one append at a time.
    Probe,
    /// Streaming: up to `max_in_flight` appends.
    Replicate,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Progress {
    /// Next offset to send.
    pub(crate) next: Offset,
    /// End of the prefix known to match the leader's log.
    pub(crate) verified: Offset,
    /// Durable end the follower confirmed; counts toward commit.
    pub(crate) matched: Offset,
    pub(crate) in_flight: u32,
    pub(crate) mode: Mode,
    /// Last time the follower answered (check-quorum).
    pub(crate) last_heard: Millis,
    /// `verified` at the previous heartbeat: no movement with appends in
    /// flight means they (or their answers) were lost.
    pub(crate) verified_at_heartbeat: Offset,
}

impl Progress {
    pub(crate) fn new(leader_end: Offset, now: Millis) -> Progress {
        Progress {
            next: leader_end,
            verified: Offset::ZERO,
            matched: Offset::ZERO,
            in_flight: 0,
            mode: Mode::Probe,
            last_heard: now,
            verified_at_heartbeat: Offset::ZERO,
        }
    }

    /// Whether another append may be sent now.
    pub(crate) fn can_send(&self, max_in_flight: u32) -> bool {
        assert!(self.in_flight <= max_in_flight);
        match self.mode {
            Mode::Probe => self.in_flight == 0,
            Mode::Replicate => self.in_flight < max_in_flight,
        }
    }

    /// Records an accepted append; `entries` says it answered one that carried
    /// entries, which is what frees an in-flight slot.
    pub(crate) fn accept(&mut self, verified: Offset, durable: Offset, entries: bool, now: Millis) {
        assert!(durable <= verified);
        self.verified = self.verified.max(verified);
        self.matched = self.matched.max(durable);
        self.next = self.next.max(self.verified);
        if entries {
            self.in_flight = self.in_flight.saturating_sub(1);
            // Every append sent has been answered, yet the follower holds
            // less than was sent: the transport delivered a shortened append
            // (the node bounds appends by bytes). Nothing else would ever
            // resend the rest, so continue from the verified prefix.
            if self.in_flight == 0 && self.next > self.verified {
                self.next = self.verified;
            }
        }
        self.mode = Mode::Replicate;
        self.hear(now);
        assert!(self.matched <= self.verified && self.verified <= self.next);
    }

    /// Restarts from `next` in probe mode (rejection or lost messages).
    pub(crate) fn restart(&mut self, next: Offset) {
        assert!(
            next >= self.verified,
            "never re-send below the verified prefix"
        );
        self.next = next;
        self.in_flight = 0;
        self.mode = Mode::Probe;
    }

    /// Called at each heartbeat: appends that made no progress since the last
    /// one are presumed lost and resent from the verified prefix.
    /// Nothing in flight yet `next` ahead of `verified` also counts: a
    /// duplicated answer can free the slot of an append that was lost, and
    /// an idle leader (a removed one takes no writes) sends nothing later
    /// that would be rejected and expose the gap.
    pub(crate) fn on_heartbeat(&mut self) {
        let outstanding = self.in_flight > 0 || self.next > self.verified;
        if outstanding && self.verified == self.verified_at_heartbeat {
            let verified = self.verified;
            self.restart(verified);
        }
        self.verified_at_heartbeat = self.verified;
        assert!(self.verified <= self.next);
    }

    /// The follower's log ends at `end`, below what it verified: a crash lost
    /// its unflushed tail. Only the durable (`matched`) part is certain.
    pub(crate) fn forget_beyond(&mut self, end: Offset) {
        assert!(end < self.verified);
        self.verified = end.max(self.matched);
        self.verified_at_heartbeat = self.verified_at_heartbeat.min(self.verified);
        assert!(self.matched <= self.verified);
    }

    pub(crate) fn hear(&mut self, now: Millis) {
        self.last_heard = self.last_heard.max(now);
    }
}

#[cfg(test)]
mod tests {
    use crate::engine_test::{B, leader, receive, sends};
    use crate::message::{AppendResult, Input, Message};
    use crate::types::{Millis, Offset, RequestId, Term};

    fn accepted(verified: i64) -> Message {
        Message::AppendResponse {
            term: Term(1),
            result: AppendResult::Accepted {
                verified: Offset(verified),
                durable: Offset(verified),
                entries: true,
            },
        }
    }

    /// The node layer bounds appends by bytes, so a follower may verify less
    /// than the engine's range. Once nothing is in flight, the leader must
    /// resend the rest: no heartbeat would ever notice it missing.
    #[test]
    fn a_shortened_append_is_resent_from_the_verified_prefix() {
        let (mut a, _) = leader();
        receive(&mut a, B, accepted(1));
        let request = RequestId(1);
        let commands = a.step(
            Millis(1000),
            Input::ClientAppend {
                request,
                records: 10,
            },
        );
        let to_b: Vec<_> = sends(&commands)
            .into_iter()
            .filter(|(to, _)| *to == B)
            .collect();
        assert!(
            matches!(
                &to_b[..],
                [(
                    _,
                    Message::Append {
                        from: Offset(1),
                        end: Offset(11),
                        ..
                    }
                )]
            ),
            "{to_b:?}"
        );
        // Only [1, 4) arrived.
        let commands = receive(&mut a, B, accepted(4));
        let to_b: Vec<_> = sends(&commands)
            .into_iter()
            .filter(|(to, _)| *to == B)
            .collect();
        assert!(
            matches!(
                &to_b[..],
                [(
                    _,
                    Message::Append {
                        from: Offset(4),
                        end: Offset(11),
                        ..
                    }
                )]
            ),
            "{to_b:?}"
        );
    }
}
