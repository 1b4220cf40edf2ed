//! Catch-up below the leader's log start. When retention on the leader has
//! deleted entries a follower still needs, the engine emits `SendSnapshot`.
//! For a Kafka partition the snapshot is empty: the leader sends a
//! `LogStart` notice (wire tag 9) and the follower restarts its log at the
//! leader's log start (`Log::reset_to`), keeping the epoch in effect just
//! below it, then rebuilds its engine from the reset log as after a restart.
//! The leader's next heartbeat (from its log start) then matches, and
//! replication continues from there. Everything below the leader's log start
//! is committed (retention never passes the high watermark), so the
//! follower drops nothing that a quorum needs; it never resets below its own
//! high watermark.

use fjord_replication::log::EpochStart;
use fjord_replication::{NodeId, Offset, Role};
use fjord_storage::LeaderEpoch;
use tracing::{debug, error, info, warn};

use crate::partition::{Context, Partition};
use crate::wire::{Envelope, LogStart, PeerMessage};

impl Partition {
    /// Leader: tells `to` that the log now starts at `start` (sent again
    /// with every heartbeat while the follower needs entries below it).
    pub(crate) fn send_log_start(&mut self, context: &mut Context<'_>, to: NodeId, start: Offset) {
        let log = self.engine.log();
        let Some(term) = log.term_before(start) else {
            warn!(group = %self.group, %start, "no term below the log start");
            return;
        };
        assert!(
            start > Offset::ZERO,
            "a log start notice covers deleted entries"
        );
        let began = log.epochs.iter().rev().find(|e| e.start < start);
        let epoch = EpochStart {
            term,
            start: began.map_or(start.previous(), |e| e.start),
        };
        let config = log.configs.iter().rev().find(|c| c.offset < start).cloned();
        let notice = LogStart {
            term: self.engine.term(),
            start,
            epoch,
            config,
        };
        if !notice.is_well_formed() {
            warn!(group = %self.group, ?notice, "log start notice not sent");
            return;
        }
        debug!(group = %self.group, peer = %to, %start, "follower below the log start");
        context.metrics.log_starts_sent.inc();
        let envelope = Envelope {
            group: self.group,
            message: PeerMessage::LogStart(notice),
            records: Vec::new(),
        };
        context.transport.send(to, envelope);
    }

    /// Follower: restarts the log at the leader's log start if it lacks the
    /// entries just below it (or holds different ones there).
    pub(crate) fn receive_log_start(
        &mut self,
        context: &mut Context<'_>,
        from: NodeId,
        notice: LogStart,
    ) {
        let engine = &self.engine;
        let follows = matches!(engine.role(), Role::Follower { leader: Some(l) } if *l == from);
        if self.failed || notice.term != engine.term() || !follows {
            debug!(group = %self.group, peer = %from, ?notice, role = ?engine.role(), "log start notice ignored");
            return; // stale, or not from our leader: the next one will do
        }
        let log = engine.log();
        let start = notice.start;
        let lacking = log.end < start || log.term_before(start) != Some(notice.epoch.term);
        if !lacking {
            debug!(group = %self.group, ?notice, end = %log.end, "log start notice not needed");
            return; // a duplicate after a reset, or already caught up
        }
        if engine.high_watermark() > start {
            warn!(group = %self.group, %start, "log start notice below our high watermark");
            return;
        }
        info!(group = %self.group, %start, end = %log.end, "restarting the log at the leader's log start");
        context.metrics.log_resets.inc();
        let epoch = (
            LeaderEpoch(notice.epoch.term.0),
            fjord_storage::Offset(notice.epoch.start.0),
        );
        let start = fjord_storage::Offset(start.0);
        if let Err(error) = self.log.reset_to(start, Some(epoch)) {
            // The log may have no active segment now: take no more input.
            error!(group = %self.group, %error, "log reset failed: partition stopped");
            self.failed = true;
            return;
        }
        // The configuration in effect at the new start is the leader's. A
        // crash before this is written leaves the old history (its latest
        // entry below `start` applies until the leader sends a newer one).
        self.persisted_configs = notice.config.into_iter().collect();
        if let Err(error) = self.membership.store(&self.persisted_configs) {
            error!(group = %self.group, %error, "membership file not written: partition stopped");
            self.failed = true;
            return;
        }
        self.reload(context.now);
        assert!(self.failed || self.engine.log().start.0 == start.0);
    }
}
