//! Catch-up below the leader's log start (placeholder, filled in below).

use fjord_replication::{NodeId, Offset};
use tracing::warn;

use crate::partition::{Context, Partition};

impl Partition {
    pub(crate) fn send_log_start(&mut self, _context: &mut Context<'_>, to: NodeId, start: Offset) {
        warn!(group = %self.group, peer = %to, %start, "snapshots are not supported yet");
    }
}
