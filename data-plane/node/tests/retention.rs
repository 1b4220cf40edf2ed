//! Retention on a replicated log: the leader deletes old segments (never at
//! or above its high watermark) and a follower that was down, needing
//! entries below the leader's new log start, restarts its log there and
//! catches up.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, NODES, WAIT};
use fjord_node::{GroupId, Node};
use fjord_storage::{ByteSize, LogConfig, Preallocate};

fn retained_log() -> LogConfig {
    LogConfig {
        segment_bytes: ByteSize::kib(4),
        retention_bytes: Some(ByteSize::kib(12)),
        preallocate: Preallocate::None,
        ..LogConfig::default()
    }
}

/// Committed bytes of `group` on `node` from `from` to its high watermark.
async fn committed_from(node: &Node, group: GroupId, from: i64) -> (i64, Vec<u8>) {
    let high_watermark = node.status(group).await.unwrap().high_watermark;
    let mut bytes = Vec::new();
    let mut next = from;
    while next < high_watermark {
        let fetched = node.read(group, next, ByteSize::mib(1)).await.unwrap();
        assert!(fetched.next_offset.0 > next, "reads make progress");
        bytes.extend_from_slice(&fetched.bytes);
        next = fetched.next_offset.0;
    }
    (high_watermark, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_below_the_leaders_log_start_restarts_its_log_there_and_catches_up() {
    // Small peer queues and appends (32 KiB, 8 KiB): what the leader queued
    // for the stopped node before retention (probes from its log end) covers
    // only the start of the gap, so the rest must come by a log reset.
    let mut cluster = Cluster::start(1, 32 << 10, false).await;
    let group = cluster.groups[0];
    let leader = cluster.leader(group).await;
    let behind = (leader + 1) % NODES;
    let other = (leader + 2) % NODES;
    cluster.stop(behind).await;
    for index in [leader, other] {
        cluster
            .node(index)
            .configure(group, retained_log())
            .await
            .unwrap();
    }
    let mut acked = Vec::new();
    for sequence in 0..300 {
        acked.push(cluster.append(group, sequence).await);
    }
    // Applying the settings again runs retention now (it also runs every
    // `retention_interval`).
    for index in [leader, other] {
        cluster
            .node(index)
            .configure(group, retained_log())
            .await
            .unwrap();
    }
    let leader = cluster.leader(group).await;
    let status = cluster.node(leader).status(group).await.unwrap();
    assert!(
        status.log_start > 0,
        "retention deleted old segments: {status:?}"
    );
    assert!(status.log_start <= status.high_watermark);
    let oldest = cluster
        .node(leader)
        .with_log(group, |log| log.log_start_offset().0)
        .await
        .unwrap();
    assert_eq!(
        oldest, status.log_start,
        "the engine was told the new start"
    );

    cluster.restart(behind).await;
    let deadline = Instant::now() + WAIT;
    let leader_node = cluster.node(leader);
    let behind_node = cluster.node(behind);
    loop {
        let ours = behind_node.status(group).await.unwrap();
        let theirs = leader_node.status(group).await.unwrap();
        if ours.high_watermark == theirs.high_watermark && ours.log_start > 0 {
            let from = ours.log_start.max(theirs.log_start);
            let caught_up = committed_from(&behind_node, group, from).await;
            let reference = committed_from(&leader_node, group, from).await;
            if caught_up == reference {
                assert!(!caught_up.1.is_empty());
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the follower never caught up: {ours:?} against {theirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cluster.metrics[leader].log_starts_sent.get() > 0);
    assert!(cluster.metrics[behind].log_resets.get() > 0);
    let restarted = behind_node.status(group).await.unwrap();
    assert!(restarted.log_start >= status.log_start);
    let latest: Vec<_> = acked
        .iter()
        .filter(|a| a.offset >= restarted.log_start)
        .collect();
    let (_, log) = committed_from(&behind_node, group, restarted.log_start).await;
    common::check_contains(&log, latest.into_iter(), group);

    // Replication goes on past the reset, and the reset follower can lead.
    drop((leader_node, behind_node));
    cluster.stop(leader).await;
    let next = cluster.append(group, 1000).await;
    let new_leader = cluster.leader(group).await;
    let (_, log) = committed_from(&cluster.node(new_leader), group, next.offset).await;
    common::check_contains(&log, [next].iter(), group);
}
