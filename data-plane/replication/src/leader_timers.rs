//! Leader timers: heartbeats, check-quorum and leadership transfer.

use crate::engine::Engine;
use crate::message::Message;
use crate::types::NodeId;

impl Engine {
    pub(crate) fn leader_tick(&mut self) {
        assert!(self.is_leader());
        if self.now >= self.heartbeat_deadline {
            self.heartbeat();
        }
        if self.now >= self.election_deadline {
            self.check_quorum();
        }
    }

    /// Heartbeats every follower; appends that made no progress since the
    /// last heartbeat are resent from the verified prefix (they were lost).
    fn heartbeat(&mut self) {
        self.heartbeat_deadline = self.now.after(self.config.heartbeat_interval_ms);
        for peer in self.peers() {
            let progress = self.progress_mut(peer).expect("leader tracks every peer");
            progress.on_heartbeat();
            let verified = progress.verified;
            self.send_heartbeat(peer, verified);
            self.send_appends(peer);
        }
    }

    fn send_heartbeat(&mut self, peer: NodeId, verified: crate::types::Offset) {
        let verified = verified.max(self.log.start);
        let prev_term = self
            .log
            .term_before(verified)
            .expect("verified is inside the log");
        let message = Message::Append {
            term: self.hard.term,
            from: verified,
            prev_term,
            end: verified,
            epochs: Vec::new(),
            configs: Vec::new(),
            commit: self.commit,
        };
        self.send(peer, message);
    }

    /// Steps down unless a quorum answered within the last election timeout.
    fn check_quorum(&mut self) {
        let window = self.config.election_timeout_min_ms;
        let since = crate::types::Millis(self.now.0.saturating_sub(window));
        let now = self.now;
        let quorum = self.quorum();
        let me = usize::from(self.is_voter());
        let state = self.leader_state().expect("leader");
        let heard = state
            .progress
            .values()
            .filter(|p| p.last_heard >= since)
            .count()
            + me;
        let transfer_expired = state.transfer.is_some_and(|(_, deadline)| now >= deadline);
        if transfer_expired {
            state.transfer = None;
        }
        if heard < quorum {
            let term = self.hard.term;
            self.become_follower(term, None);
            return;
        }
        self.election_deadline = self.now.after(window);
        assert!(self.is_leader());
    }

    pub(crate) fn transfer_leadership(&mut self, to: NodeId) {
        let deadline = self.now.after(self.config.election_timeout_min_ms);
        let is_peer = to != self.config.id && self.voters().contains(&to);
        let Some(state) = self.leader_state() else {
            return;
        };
        if !is_peer {
            return;
        }
        state.transfer = Some((to, deadline));
        self.maybe_send_timeout_now(to);
        self.send_appends(to);
    }

    /// Sends `TimeoutNow` once the transfer target holds the whole log.
    pub(crate) fn maybe_send_timeout_now(&mut self, peer: NodeId) {
        let end = self.log.end;
        let term = self.hard.term;
        let Some(state) = self.leader_state() else {
            return;
        };
        if state.transfer.map(|(to, _)| to) != Some(peer) {
            return;
        }
        let caught_up = state.progress.get(&peer).is_some_and(|p| p.verified == end);
        if caught_up {
            self.send(peer, Message::TimeoutNow { term });
        }
    }
}
