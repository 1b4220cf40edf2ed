//! Adding and removing groups on a running node (`Node::add_group`,
//! `Node::remove_group`); the groups of `NodeConfig.groups` are added the
//! same way before the driver starts.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use fjord_replication::{Config, NodeId};
use fjord_storage::{ByteSize, Disk, LogConfig};
use tracing::info;

use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::node::GroupSpec;
use crate::partition::{LOG_DIR, Partition};
use crate::wire::GroupId;

/// What the driver needs to open a group's partition.
#[derive(Debug)]
pub(crate) struct GroupSettings {
    pub(crate) node: NodeId,
    pub(crate) data_dir: PathBuf,
    /// Timings and flow control; `id`, `voters` and `seed` are set per group.
    pub(crate) raft: Config,
    pub(crate) max_append_bytes: ByteSize,
    /// Nodes with a peer address (a group's voters must be among them).
    pub(crate) peers: BTreeSet<NodeId>,
    pub(crate) disk: Arc<Disk>,
}

impl GroupSettings {
    pub(crate) fn directory(&self, group: GroupId) -> PathBuf {
        self.data_dir.join(format!("group-{group}"))
    }

    /// Every voter must be this node or a known peer.
    pub(crate) fn check_voters(&self, group: GroupId, voters: &[NodeId]) -> Result<()> {
        let unknown = voters
            .iter()
            .find(|v| **v != self.node && !self.peers.contains(v));
        match unknown {
            Some(voter) => Err(Error::InvalidConfig(format!(
                "group {group} has voter {voter} with no peer address"
            ))),
            None => Ok(()),
        }
    }
}

impl Driver {
    /// Opens (or creates) the group's partition; nothing to do if hosted.
    pub(crate) fn add_group(&mut self, spec: &GroupSpec, log: LogConfig) -> Result<()> {
        if self.partitions.contains_key(&spec.id) {
            return Ok(());
        }
        let settings = &self.settings;
        settings.check_voters(spec.id, &spec.voters)?;
        let mut raft = settings.raft.clone();
        raft.id = settings.node;
        raft.voters = spec.voters.clone();
        raft.seed = seed(settings.node, spec.id, self.partitions.len());
        let directory = settings.directory(spec.id);
        let now = self.now();
        let mut partition = Partition::open(
            spec.id,
            raft,
            &settings.disk,
            &directory,
            log,
            settings.max_append_bytes,
            now,
        )?;
        partition.set_electable(self.electable);
        let previous = self.partitions.insert(spec.id, partition);
        assert!(previous.is_none(), "the group was not hosted");
        info!(group = %spec.id, "group added");
        Ok(())
    }

    /// Stops the group: its waiting requests fail with `GroupRemoved`, its
    /// log is closed and, with `delete_data`, its directory deleted.
    pub(crate) fn remove_group(&mut self, group: GroupId, delete_data: bool) -> Result<()> {
        let partition = self
            .partitions
            .remove(&group)
            .ok_or(Error::UnknownGroup(group))?;
        let directory = partition.close()?;
        if delete_data {
            // Unregistered first, durably: a crash before the directory is
            // gone must not replay the journal into a log being deleted
            // (storage JOURNAL.md, J7).
            self.settings.disk.forget_log(&directory.join(LOG_DIR))?;
            std::fs::remove_dir_all(&directory)?;
        }
        info!(%group, delete_data, "group removed");
        Ok(())
    }
}

/// Election jitter seed: differs per node, group and start.
fn seed(node: NodeId, group: GroupId, index: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mixed = (u64::from(node.0) << 48) ^ group.0.rotate_left(17) ^ (index as u64) ^ nanos;
    mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}
