//! A broker's duties toward the groups it leads (see `reconcile`): Raft
//! membership following the partition's replicas (reassignment), handing
//! leaderships away in maintenance, and back to the preferred replica
//! otherwise (leader balancing).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_metadata::{BrokerId, MetadataImage};
use fjord_node::{GroupId, PartitionStatus};
use fjord_replication::{MembershipChange, NodeId};
use tracing::{debug, info, warn};

use super::CONTROLLER_GROUP;
use super::reconcile::Reconciler;

/// A leader hands leadership back to the preferred replica only after
/// leading its term this long, so a recovering broker is not handed
/// leaderships while it is still catching up on others.
pub(super) const PREFERRED_AFTER: Duration = Duration::from_secs(10);

impl Reconciler {
    pub(super) async fn maintenance_loop(self: Arc<Self>) {
        let mut electable = true;
        // When this broker started leading each group's current term.
        let mut led_since: BTreeMap<(GroupId, i32), Instant> = BTreeMap::new();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let image = self.image();
            let on = image
                .broker(self.me)
                .is_some_and(|broker| broker.maintenance);
            if on == electable {
                if let Err(error) = self.node.set_electable(!on).await {
                    warn!(%error, "cannot change whether this node may lead");
                    continue;
                }
                electable = !on;
                info!(maintenance = on, "maintenance mode changed");
            }
            let Ok(statuses) = self.node.statuses().await else {
                return;
            };
            for (group, status) in statuses {
                if group == CONTROLLER_GROUP || !status.is_leader {
                    continue;
                }
                if self.reconcile_membership(&image, group, &status).await {
                    continue;
                }
                let target = if on {
                    self.successor(&image, group)
                } else {
                    self.preferred(&image, group, status.term, &mut led_since)
                };
                let Some(target) = target else {
                    continue;
                };
                if let Err(error) = self.node.transfer_leadership(group, NodeId(target.0)).await {
                    debug!(%group, %error, "leadership transfer refused");
                }
            }
        }
    }

    /// Leader balancing: the partition's preferred leader (its first
    /// replica), once this broker has led the term for [`PREFERRED_AFTER`]
    /// and the preferred one is in sync and may lead. Placement spreads
    /// preferred leaders evenly, so handing leadership back to them keeps
    /// leaders balanced after failures (Kafka's preferred-leader election).
    fn preferred(
        &self,
        image: &MetadataImage,
        group: GroupId,
        term: i32,
        led_since: &mut BTreeMap<(GroupId, i32), Instant>,
    ) -> Option<BrokerId> {
        let since = *led_since.entry((group, term)).or_insert_with(Instant::now);
        led_since.retain(|(g, t), _| *g != group || *t == term);
        if since.elapsed() < PREFERRED_AFTER {
            return None;
        }
        let (topic, index) = self
            .hosted()
            .get(&group)
            .map(|hosted| (hosted.topic.clone(), hosted.index))?;
        let partition = image.topic(&topic)?.partitions.get(index as usize)?;
        let preferred = *partition.replicas.first()?;
        let eligible = preferred != self.me
            && partition.isr.contains(&preferred)
            && image.broker(preferred).is_some_and(|b| b.can_lead());
        eligible.then_some(preferred)
    }

    /// On a group's leader: makes the Raft voters the partition's replicas,
    /// one change at a time, adding before removing (a reassignment adds the
    /// new replicas; once they are in sync the controller drops the old ones
    /// from the replicas, and they are removed here). True if a change was
    /// proposed or is still needed.
    async fn reconcile_membership(
        &self,
        image: &MetadataImage,
        group: GroupId,
        status: &PartitionStatus,
    ) -> bool {
        let Some(partition) = self.partition_of(image, group) else {
            return false;
        };
        let voters: BTreeSet<u32> = status.voters.iter().map(|voter| voter.0).collect();
        let change = if let Some(new) = partition.replicas.iter().find(|b| !voters.contains(&b.0)) {
            MembershipChange::AddVoter(NodeId(new.0))
        } else if let Some(old) = voters
            .iter()
            .find(|voter| !partition.replicas.contains(&BrokerId(**voter)))
        {
            MembershipChange::RemoveVoter(NodeId(*old))
        } else {
            return false;
        };
        match self.node.change_membership(group, change).await {
            Ok(_) => info!(%group, ?change, "partition membership change proposed"),
            // One change at a time: the next round tries again.
            Err(error) => debug!(%group, ?change, %error, "membership change not proposed"),
        }
        true
    }

    fn partition_of(
        &self,
        image: &MetadataImage,
        group: GroupId,
    ) -> Option<fjord_metadata::Partition> {
        let (topic, index) = self
            .hosted()
            .get(&group)
            .map(|hosted| (hosted.topic.clone(), hosted.index))?;
        image.topic(&topic)?.partitions.get(index as usize).cloned()
    }

    /// Another in-sync replica of the partition that may lead.
    fn successor(&self, image: &MetadataImage, group: GroupId) -> Option<BrokerId> {
        let (topic, index) = self
            .hosted()
            .get(&group)
            .map(|hosted| (hosted.topic.clone(), hosted.index))?;
        let partition = image.topic(&topic)?.partitions.get(index as usize)?;
        partition
            .isr
            .iter()
            .copied()
            .filter(|broker| *broker != self.me)
            .find(|broker| image.broker(*broker).is_some_and(|b| b.can_lead()))
    }
}
