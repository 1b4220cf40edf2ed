//! The runtime API the broker uses, on three real nodes over loopback TCP:
//! groups added and removed while running, two-stage appends (`propose`),
//! the status watch and follower progress, leadership transfer, membership
//! change and maintenance mode (`set_electable`).
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Acked, Cluster, NODES, WAIT, check_contains};
use fjord_node::{Error, GroupId, GroupSpec, MembershipChange, PartitionStatus};
use fjord_replication::NodeId;
use fjord_storage::batch::build_batch;
use fjord_storage::{ByteSize, LogConfig, Preallocate, Timestamp};

fn small_log() -> LogConfig {
    LogConfig {
        segment_bytes: ByteSize::kib(64),
        preallocate: Preallocate::None,
        ..LogConfig::default()
    }
}

fn voters() -> Vec<NodeId> {
    (0..NODES as u32).map(NodeId).collect()
}

/// The leader of `group` once every node follows it in its term. A group
/// added at runtime is added on one node after another: a node that added
/// it late may still campaign after the first leader is elected, and a
/// proposal made in that window would rightly be refused NOT_LEADER.
async fn settled_leader(cluster: &Cluster, group: GroupId) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let leader = cluster.leader(group).await;
        let term = cluster.node(leader).status(group).await.unwrap().term;
        let mut settled = true;
        for index in 0..NODES {
            let status = cluster.node(index).status(group).await.unwrap();
            settled &= status.term == term && status.leader == Some(NodeId(leader as u32));
        }
        if settled {
            return leader;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} never settled on a leader"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits on a status watch until `done` holds for the latest status.
async fn wait_for(
    watch: &mut tokio::sync::watch::Receiver<PartitionStatus>,
    done: impl Fn(&PartitionStatus) -> bool,
) -> PartitionStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = watch.borrow_and_update().clone();
        if done(&status) {
            return status;
        }
        let changed = tokio::time::timeout_at(deadline, watch.changed()).await;
        assert!(
            matches!(changed, Ok(Ok(()))),
            "the watch never showed the state waited for; last: {status:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_added_at_runtime_commit_proposals_in_order_and_can_be_removed() {
    let mut cluster = Cluster::start(0, 64 << 20, false).await;
    let group = GroupId(7);
    for index in 0..NODES {
        let spec = GroupSpec {
            id: group,
            voters: voters(),
        };
        let node = cluster.node(index);
        node.add_group(spec.clone(), small_log()).await.unwrap();
        node.add_group(spec, small_log()).await.unwrap(); // idempotent
    }
    cluster.groups.push(group);
    let leader = settled_leader(&cluster, group).await;
    let follower = (leader + 1) % NODES;
    let mut follower_watch = cluster.node(follower).watch(group).await.unwrap();
    let leader_node = cluster.node(leader);
    let term = leader_node.status(group).await.unwrap().term;

    // Proposals queued one after another land in call order, contiguously,
    // before anything is committed.
    let pending: Vec<_> = (0..40u8)
        .map(|i| {
            let batch = build_batch(i32::from(i % 3) + 1, Timestamp(0), 16, i);
            leader_node.propose(group, batch)
        })
        .collect();
    let mut proposals = Vec::new();
    for proposal in pending {
        proposals.push(proposal.await.unwrap());
    }
    for (i, pair) in proposals.windows(2).enumerate() {
        assert_eq!(pair[0].end_offset, pair[1].base_offset, "proposal {i}");
    }
    // A proposal bound to a term is taken in that term only: another term
    // (one the caller checked its state against) is refused, not appended.
    // (As proposal 40 of the series: 40 % 3 + 1 records, filled with 40.)
    let in_term = leader_node
        .propose_in_term(group, term, build_batch(2, Timestamp(0), 16, 40))
        .await
        .unwrap();
    assert_eq!(in_term.term, term);
    let end_before = leader_node.status(group).await.unwrap().log_end;
    for other in [term - 1, term + 1] {
        let refused = leader_node
            .propose_in_term(group, other, build_batch(1, Timestamp(0), 16, 0))
            .await;
        assert!(
            matches!(refused, Err(fjord_node::Error::NotLeader { .. })),
            "term {other}: {refused:?}"
        );
    }
    assert_eq!(leader_node.status(group).await.unwrap().log_end, end_before);
    let refused = cluster
        .node(follower)
        .propose_in_term(group, term, build_batch(1, Timestamp(0), 16, 0))
        .await;
    assert!(matches!(refused, Err(fjord_node::Error::NotLeader { .. })));
    proposals.push(in_term);
    let mut acked = Vec::new();
    for (i, proposal) in proposals.into_iter().enumerate() {
        assert_eq!(proposal.term, term);
        let records = proposal.end_offset - proposal.base_offset;
        assert_eq!(records, (i % 3 + 1) as i64);
        let base = proposal.base_offset;
        assert_eq!(proposal.committed.await.unwrap(), base);
        acked.push(Acked {
            group,
            offset: base,
            records: records as i32,
            fill: i as u8,
        });
    }
    let end = acked
        .last()
        .map(|a| a.offset + i64::from(a.records))
        .unwrap();
    let status = leader_node.status(group).await.unwrap();
    assert!(status.high_watermark >= end, "committed: {status:?}");

    // The follower's watch sees the high watermark reach the last commit.
    let seen = wait_for(&mut follower_watch, |s| s.high_watermark >= end).await;
    assert_eq!(seen.leader, Some(NodeId(leader as u32)));
    assert_eq!(seen.voters, voters());
    cluster.check_identical(&acked).await;
    let (_, log) = cluster.committed(follower, group).await;
    check_contains(&log, acked.iter(), group);

    // The leader reports both followers caught up: the in-sync set is everyone.
    let deadline = Instant::now() + WAIT;
    loop {
        let statuses = leader_node.statuses().await.unwrap();
        let (id, status) = &statuses[0];
        assert_eq!((*id, statuses.len()), (group, 1));
        assert_eq!(status.followers.len(), NODES - 1);
        if status.in_sync_replicas(Duration::from_secs(10)) == voters() {
            assert!(status.followers.iter().all(|f| f.match_end >= end));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "followers never matched: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let follower_status = cluster.node(follower).status(group).await.unwrap();
    assert!(follower_status.followers.is_empty() && !follower_status.is_leader);

    // Log access on the driver thread.
    let log_end = leader_node
        .with_log(group, |log| log.log_end_offset().0)
        .await
        .unwrap();
    assert!(log_end >= end);
    let panicked = leader_node
        .with_log(group, |_| panic!("a bad callback"))
        .await;
    assert!(matches!(panicked, Err(Error::CallbackPanicked)));
    assert!(
        leader_node.status(group).await.is_ok(),
        "the driver survived"
    );

    // Removing the group fails its watch, forgets it and deletes its files.
    let directory = cluster.data_dir(follower).join(format!("group-{group}"));
    assert!(directory.exists());
    let node = cluster.node(follower);
    node.remove_group(group, true).await.unwrap();
    assert!(!directory.exists(), "the group's files were deleted");
    assert!(matches!(
        node.status(group).await,
        Err(Error::UnknownGroup(_))
    ));
    // A status sent just before the removal may still be unseen: the watch
    // hands that over first, then ends.
    let ended = tokio::time::timeout(WAIT, async {
        while follower_watch.changed().await.is_ok() {}
    })
    .await;
    assert!(ended.is_ok(), "the watch ended");
    assert!(matches!(
        node.remove_group(group, true).await,
        Err(Error::UnknownGroup(_))
    ));
    // The two others still commit (a quorum of three), whichever of them
    // leads by now: the removed replica's vote is gone, and on a loaded
    // machine a starved timer may have moved leadership (this append used
    // to go to the first leader only and failed NOT_LEADER then).
    let committed = cluster.append(group, 1).await;
    assert!(committed.offset >= end);
    for index in [leader, (leader + 2) % NODES] {
        cluster
            .node(index)
            .remove_group(group, false)
            .await
            .unwrap();
    }
    let kept = cluster.data_dir(leader).join(format!("group-{group}"));
    assert!(kept.exists(), "data kept unless asked to delete it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_proposals_commit_or_fail_when_the_leader_stops() {
    let mut cluster = Cluster::start(1, 64 << 20, false).await;
    let group = cluster.groups[0];
    let leader = cluster.leader(group).await;
    let node = cluster.node(leader);
    let mut proposals = Vec::new();
    for i in 0..300u32 {
        let fill = (i % 251) as u8;
        let batch = build_batch(1, Timestamp(0), 64, fill);
        match node.propose(group, batch).await {
            Ok(proposal) => proposals.push((proposal, fill)),
            Err(Error::NotLeader { .. } | Error::Overloaded(_)) => {}
            Err(Error::Stopped) if i > 150 => {}
            Err(error) => panic!("propose failed: {error}"),
        }
        if i == 150 {
            node.stop();
        }
    }
    drop(node);
    let mut acked = Vec::new();
    let mut failed = 0;
    for (proposal, fill) in proposals {
        match proposal.committed.await {
            Ok(offset) => {
                assert_eq!(offset, proposal.base_offset);
                acked.push(Acked {
                    group,
                    offset,
                    records: 1,
                    fill,
                });
            }
            Err(Error::Stopped | Error::NotLeader { .. }) => failed += 1,
            Err(error) => panic!("unexpected commit error: {error}"),
        }
    }
    eprintln!("{} proposals committed, {failed} failed", acked.len());
    assert!(failed > 0, "the stop caught proposals in flight");
    cluster.stop(leader).await;
    // Every proposal that resolved Ok is in the survivors' committed log.
    cluster.check_identical(&acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_moves_the_leader_and_an_unelectable_node_never_leads() {
    let mut cluster = Cluster::start(1, 64 << 20, false).await;
    let group = cluster.groups[0];
    let leader = cluster.leader(group).await;
    let target = (leader + 1) % NODES;
    let follower = cluster.node((leader + 2) % NODES);
    let refused = follower
        .transfer_leadership(group, NodeId(target as u32))
        .await;
    assert!(
        matches!(refused, Err(Error::NotLeader { .. })),
        "{refused:?}"
    );
    let not_voter = cluster
        .node(leader)
        .transfer_leadership(group, NodeId(9))
        .await;
    assert!(
        matches!(not_voter, Err(Error::Refused { .. })),
        "{not_voter:?}"
    );
    let mut watch = cluster.node(target).watch(group).await.unwrap();
    let before = watch.borrow().term;
    let to = NodeId(target as u32);
    cluster
        .node(leader)
        .transfer_leadership(group, to)
        .await
        .unwrap();
    let status = wait_for(&mut watch, |s| s.is_leader).await;
    assert!(status.term > before);
    assert_eq!(cluster.leader(group).await, target);

    // Maintenance: a follower made unelectable never leads, however often
    // the leader fails.
    let unelectable = (target + 1) % NODES;
    cluster
        .node(unelectable)
        .set_electable(false)
        .await
        .unwrap();
    let led_before = cluster.metrics[unelectable].leader_changes.get();
    for round in 0..2 {
        let leader = cluster.leader(group).await;
        assert_ne!(leader, unelectable, "round {round}");
        cluster.stop(leader).await;
        let next = cluster.leader(group).await;
        assert_ne!(next, unelectable, "round {round}: the unelectable node won");
        cluster.append(group, round).await;
        cluster.restart(leader).await;
        // Once the restarted node caught up, it can win the next round (the
        // unelectable node may hold the only up-to-date log until then).
        cluster.check_identical(&cluster.acked_so_far()).await;
    }
    assert_eq!(
        cluster.metrics[unelectable].leader_changes.get(),
        led_before
    );
    // A transfer to it is not taken up either; once electable it can lead.
    cluster.node(unelectable).set_electable(true).await.unwrap();
    let leader = cluster.leader(group).await;
    let to = NodeId(unelectable as u32);
    let mut watch = cluster.node(unelectable).watch(group).await.unwrap();
    cluster
        .node(leader)
        .transfer_leadership(group, to)
        .await
        .unwrap();
    wait_for(&mut watch, |s| s.is_leader).await;
}

/// Restarts node `index` and returns its status as restored from disk,
/// before it has heard from anyone.
async fn restarted_status(cluster: &mut Cluster, index: usize, group: GroupId) -> PartitionStatus {
    cluster.stop(index).await;
    cluster.restart(index).await;
    cluster.node(index).status(group).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voter_is_removed_and_added_back_and_restarts_keep_the_configuration() {
    let mut cluster = Cluster::start(1, 64 << 20, false).await;
    let group = cluster.groups[0];
    cluster.append(group, 1).await; // the leader committed in its term
    let leader = cluster.leader(group).await;
    let node = cluster.node(leader);
    let other = NodeId(((leader + 1) % NODES) as u32);
    let third = (leader + 2) % NODES;
    let removed = node
        .change_membership(group, MembershipChange::RemoveVoter(other))
        .await
        .unwrap();
    let removal_end = removed.end_offset;
    removed.committed.await.unwrap();
    let status = node.status(group).await.unwrap();
    assert!(!status.voters.contains(&other), "{status:?}");
    let twice = node
        .change_membership(group, MembershipChange::RemoveVoter(other))
        .await;
    assert!(
        matches!(twice, Err(Error::MembershipRefused { .. })),
        "{twice:?}"
    );
    let unknown = node
        .change_membership(group, MembershipChange::AddVoter(NodeId(9)))
        .await;
    assert!(
        matches!(unknown, Err(Error::InvalidConfig(_))),
        "{unknown:?}"
    );

    // A restarted voter knows the configuration from its disk, not from the
    // group's initial voters.
    let mut watch = cluster.node(third).watch(group).await.unwrap();
    wait_for(&mut watch, |s| s.log_end >= removal_end).await;
    drop(watch);
    let restored = restarted_status(&mut cluster, third, group).await;
    let remaining: Vec<NodeId> = voters().into_iter().filter(|v| *v != other).collect();
    assert_eq!(restored.voters, remaining, "restored: {restored:?}");
    cluster.append(group, 2).await;

    let leader = cluster.leader(group).await;
    let added = cluster
        .node(leader)
        .change_membership(group, MembershipChange::AddVoter(other))
        .await
        .unwrap();
    let added_end = added.end_offset;
    added.committed.await.unwrap();
    let other_index = other.0 as usize;
    let mut watch = cluster.node(other_index).watch(group).await.unwrap();
    wait_for(&mut watch, |s| s.log_end >= added_end).await;
    drop(watch);
    let restored = restarted_status(&mut cluster, other_index, group).await;
    assert_eq!(restored.voters, voters(), "restored: {restored:?}");
    cluster.append(group, 3).await;
}
