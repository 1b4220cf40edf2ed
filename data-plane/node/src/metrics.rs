//! Prometheus metrics of the node layer (`fjord_node_*`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Counters shared by the transport and the partitions of one node.
#[derive(Debug, Default, Clone)]
pub struct NodeMetrics {
    /// Frames written to peers; with `messages_sent` this shows coalescing.
    pub frames_sent: Counter,
    pub messages_sent: Counter,
    pub bytes_sent: Counter,
    pub frames_received: Counter,
    pub messages_received: Counter,
    /// Frames refused by the decoder (the connection is closed).
    pub frames_invalid: Counter,
    /// Queued messages dropped because a peer's queue hit its byte bound.
    pub messages_dropped: Counter,
    pub connects: Counter,
    pub connect_failures: Counter,
    /// Peer host names that did not resolve (hosts file and DNS); the
    /// writer retries with backoff.
    pub resolve_failures: Counter,
    /// Peer TLS handshakes that failed (a certificate outside the trust
    /// bundle, none at all, or a timeout), either side.
    pub handshake_failures: Counter,
    /// Messages for a group this node does not host.
    pub unknown_group: Counter,
    /// Appends whose attached bytes did not match their offsets or epochs.
    pub appends_refused: Counter,
    /// Appends sent shorter than the engine's range (`max_append_bytes`);
    /// the follower's answer makes the leader resend the rest.
    pub appends_shortened: Counter,
    pub flush_passes: Counter,
    pub flush_failures: Counter,
    /// Journal passes written and synced (one `fdatasync` each), from the
    /// driver's passes and the journal's own flusher.
    pub journal_passes: Counter,
    pub journal_bytes: Counter,
    /// Append records written to the journal.
    pub journal_records: Counter,
    /// Checkpoints: segments synced, a checkpoint record written.
    pub journal_checkpoints: Counter,
    /// Journal files deleted below a durable checkpoint.
    pub journal_files_trimmed: Counter,
    pub hard_state_writes: Counter,
    /// Leader: notices sent to a follower that needs entries below the log
    /// start (deleted by retention).
    pub log_starts_sent: Counter,
    /// Follower: logs restarted at the leader's log start.
    pub log_resets: Counter,
    /// A partition whose log disagreed with its engine and was reloaded.
    pub partition_reloads: Counter,
    pub leader_changes: Counter,
    /// Client appends acknowledged (committed on a quorum after fsync).
    pub appends_committed: Counter,
    /// Client appends answered NOT_LEADER or overloaded.
    pub appends_rejected: Counter,
    /// Partitions this node leads.
    pub leaders: Gauge,
}

impl NodeMetrics {
    /// Registers every metric under `fjord_node_`.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("fjord_node");
        let counters: [(&str, &str, &Counter); 28] = [
            ("frames_sent", "peer frames written", &self.frames_sent),
            (
                "messages_sent",
                "engine messages written to peers",
                &self.messages_sent,
            ),
            ("bytes_sent", "bytes written to peers", &self.bytes_sent),
            ("frames_received", "peer frames read", &self.frames_received),
            (
                "messages_received",
                "engine messages read from peers",
                &self.messages_received,
            ),
            (
                "frames_invalid",
                "peer frames refused by the decoder",
                &self.frames_invalid,
            ),
            (
                "messages_dropped",
                "messages dropped at a full peer queue",
                &self.messages_dropped,
            ),
            ("connects", "peer connections established", &self.connects),
            (
                "connect_failures",
                "failed peer connection attempts",
                &self.connect_failures,
            ),
            (
                "resolve_failures",
                "peer host names that did not resolve",
                &self.resolve_failures,
            ),
            (
                "handshake_failures",
                "peer tls handshakes refused or failed, either side",
                &self.handshake_failures,
            ),
            (
                "unknown_group",
                "messages for a group not hosted here",
                &self.unknown_group,
            ),
            (
                "appends_refused",
                "appends whose bytes did not match",
                &self.appends_refused,
            ),
            (
                "appends_shortened",
                "appends cut short of the engine's range by max_append_bytes",
                &self.appends_shortened,
            ),
            ("flush_passes", "group-commit passes", &self.flush_passes),
            (
                "flush_failures",
                "failed group-commit passes",
                &self.flush_failures,
            ),
            (
                "journal_passes",
                "journal passes written and synced",
                &self.journal_passes,
            ),
            (
                "journal_bytes",
                "bytes written to the journal",
                &self.journal_bytes,
            ),
            (
                "journal_records",
                "append records written to the journal",
                &self.journal_records,
            ),
            (
                "journal_checkpoints",
                "journal checkpoints (segments synced)",
                &self.journal_checkpoints,
            ),
            (
                "journal_files_trimmed",
                "journal files deleted below a durable checkpoint",
                &self.journal_files_trimmed,
            ),
            (
                "hard_state_writes",
                "fsynced term and vote writes",
                &self.hard_state_writes,
            ),
            (
                "log_starts_sent",
                "log start notices sent to followers below the log start",
                &self.log_starts_sent,
            ),
            (
                "log_resets",
                "logs restarted at the leader's log start",
                &self.log_resets,
            ),
            (
                "partition_reloads",
                "partitions reloaded from disk",
                &self.partition_reloads,
            ),
            (
                "appends_committed",
                "client appends acknowledged after quorum commit",
                &self.appends_committed,
            ),
            (
                "appends_rejected",
                "client appends answered not-leader or overloaded",
                &self.appends_rejected,
            ),
            (
                "leader_changes",
                "times a partition here became leader",
                &self.leader_changes,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "leaders",
            "partitions led by this node",
            self.leaders.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exported_under_fjord_node() {
        let metrics = NodeMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.frames_sent.inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(text.contains("fjord_node_frames_sent_total 1"), "{text}");
        assert!(text.contains("fjord_node_leaders 0"), "{text}");
    }
}
