//! Consumer groups in a cluster: the group log is the internal topic
//! [`GROUP_LOG_TOPIC`], replicated like any topic, with
//! `--group-log-partitions` partitions (fixed at creation). A group lives on
//! the partition its id hashes to (`group::placement`), and that
//! partition's leader coordinates it, so coordination load and failover are
//! shared by the brokers.
//!
//! Per partition, on this broker (`docs/replication.md`, "Consumer groups"):
//!
//! ```text
//!  Standby ── leads the partition ──> Loading ── high watermark reaches the ──> Serving
//!     ^        (answers               │           log end: replay the log         │
//!     │      COORDINATOR_LOAD_        │                                           │
//!     │      IN_PROGRESS)             v                                           │
//!     └──────────── leadership lost (answers NOT_COORDINATOR) ────────────────────┘
//! ```
//!
//! A new term while serving (this broker re-elected) goes through Loading
//! again: the in-memory state is rebuilt from the committed log.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::{MetadataImage, TopicName};
use tracing::{debug, info, warn};

use super::GROUP_LOG_TOPIC;
use super::reconcile::Reconciler;
use super::requests::{ControllerReply, ControllerRequest};
use crate::handler::Groups;
use crate::partition::PartitionReplica;

/// How often leadership of the group log's partitions is looked at.
const POLL: Duration = Duration::from_millis(200);

/// What this broker does for one group-log partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Duty {
    /// Leads it in this term; waiting for the log to commit.
    Loading { term: i32 },
    /// Serves its groups, rebuilt in this term.
    Serving { term: i32 },
}

impl Reconciler {
    /// Follows leadership of every group-log partition (see the module
    /// documentation); creates the topic first if this broker leads the
    /// controller.
    pub(super) async fn group_log_loop(self: Arc<Self>, groups: Groups, partitions: NonZeroU32) {
        let mut duties: BTreeMap<u32, Duty> = BTreeMap::new();
        let mut warned = false;
        let Ok(name) = TopicName::new(GROUP_LOG_TOPIC) else {
            return;
        };
        loop {
            tokio::time::sleep(POLL).await;
            let image = self.image();
            let Some(topic) = image.topic(&name) else {
                self.create_group_log(&image, partitions).await;
                continue;
            };
            let Some(count) = u32::try_from(topic.partitions.len())
                .ok()
                .and_then(NonZeroU32::new)
            else {
                continue;
            };
            if !groups.set_partitions(count) && !warned {
                warned = true;
                warn!(
                    partitions = count,
                    "the group log's partition count changed; groups keep the first count"
                );
            }
            for index in 0..count.get() {
                let duty = duties.get(&index).copied();
                let next = self
                    .follow_partition(&groups, super::group_of(topic.id.0, index), index, duty)
                    .await;
                match next {
                    Some(next) => duties.insert(index, next),
                    None => duties.remove(&index),
                };
            }
        }
    }

    /// One partition's step of the state machine; the duty after it.
    async fn follow_partition(
        &self,
        groups: &Groups,
        raft_group: fjord_node::GroupId,
        index: u32,
        duty: Option<Duty>,
    ) -> Option<Duty> {
        let replica = self.replica_of(raft_group);
        let status = replica.as_ref().map(|replica| replica.status());
        let (Some(replica), Some(status)) = (replica, status) else {
            return stand_by(groups, index, duty);
        };
        if !status.is_leader {
            return stand_by(groups, index, duty);
        }
        let term = status.term;
        if duty == Some(Duty::Serving { term }) {
            return duty;
        }
        if status.high_watermark < status.log_end {
            // The previous terms' entries commit first.
            if duty != Some(Duty::Loading { term }) {
                groups.load(index);
                debug!(partition = index, term, "loading consumer groups");
            }
            return Some(Duty::Loading { term });
        }
        if duty != Some(Duty::Loading { term }) {
            // Requests during the replay hear COORDINATOR_LOAD_IN_PROGRESS.
            groups.load(index);
        }
        let (activating, log) = (groups.clone(), replica as Arc<dyn PartitionReplica>);
        let activated = tokio::task::spawn_blocking(move || activating.activate(index, log)).await;
        match activated {
            Ok(Ok(replayed)) => {
                info!(
                    partition = index,
                    term, replayed, "coordinating consumer groups"
                );
                Some(Duty::Serving { term })
            }
            Ok(Err(error)) => {
                warn!(partition = index, %error, "cannot load the group log");
                groups.load(index);
                Some(Duty::Loading { term })
            }
            Err(error) => {
                warn!(partition = index, %error, "group log load panicked");
                groups.load(index);
                Some(Duty::Loading { term })
            }
        }
    }

    /// On the controller leader: creates the group log's topic once
    /// min(3, controller voters) brokers are up, so it is replicated from
    /// the start. It keeps every record (no retention) until compaction
    /// exists.
    async fn create_group_log(&self, image: &MetadataImage, partitions: NonZeroU32) {
        let controller = self.client().controller();
        if !controller.is_leader() {
            return;
        }
        let live = image.brokers().filter(|broker| broker.can_host()).count();
        let replication_factor = controller.voters().clamp(1, 3);
        if live < replication_factor {
            return;
        }
        let request = ControllerRequest::CreateTopic {
            name: GROUP_LOG_TOPIC.to_owned(),
            partitions: partitions.get(),
            replication_factor: u32::try_from(replication_factor).unwrap_or(1),
            configs: [("retention.ms".to_owned(), "-1".to_owned())].into(),
            validate_only: false,
        };
        match self.client().call(&request).await {
            ControllerReply::Done { .. } => {
                info!(
                    replication_factor,
                    partitions = partitions.get(),
                    "group log topic created"
                );
            }
            other => debug!(?other, "group log topic not created yet"),
        }
    }
}

/// Leadership of partition `index` is elsewhere (or nowhere).
fn stand_by(groups: &Groups, index: u32, duty: Option<Duty>) -> Option<Duty> {
    if duty.is_some() {
        groups.deactivate(index);
        info!(partition = index, "no longer coordinating consumer groups");
    }
    None
}
