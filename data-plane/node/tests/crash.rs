//! Power loss on every node at once: the logs live on simulated disks that
//! lose or tear every write not fsynced. An append acknowledged with acks=all
//! was fsynced on a quorum before its answer, so after all three nodes crash
//! and restart, every acknowledged append must still be committed.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;

use common::{Cluster, NODES};

async fn every_node_loses_power(seed: u64) {
    let cluster = Cluster::start(4, 64 << 20, true).await;
    for &group in &cluster.groups {
        cluster.leader(group).await;
    }
    let shared = Arc::new(cluster);
    // Stop in the middle of a load so unsynced appends are in flight.
    let load = tokio::spawn({
        let shared = shared.clone();
        async move { shared.append_many(0, 400).await }
    });
    let acks = || shared.acks.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = std::time::Instant::now() + common::WAIT;
    while acks() < 275 {
        assert!(!load.is_finished(), "the load ended early");
        assert!(std::time::Instant::now() < deadline, "appends stalled");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    // Power loss: every node stops and its disk drops what was not fsynced.
    for (index, node) in shared.nodes.iter().enumerate() {
        node.as_ref().unwrap().stop();
        shared.crash_disk(index, seed.wrapping_mul(31).wrapping_add(index as u64));
    }
    // Appends in flight at the stop are not acknowledged; only what was counts.
    load.abort();
    let _ = load.await;
    let acked = shared.acked_so_far();
    eprintln!(
        "seed {seed}: {} appends acknowledged before the power loss",
        acked.len()
    );
    // Aborted append tasks release their handles as the runtime drops them.
    let deadline = std::time::Instant::now() + common::WAIT;
    while Arc::strong_count(&shared) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "aborted appends never ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut cluster = Arc::try_unwrap(shared).ok().unwrap();
    for index in 0..NODES {
        cluster.stop(index).await;
    }
    for index in 0..NODES {
        cluster.restart(index).await;
    }
    cluster.check_identical(&acked).await;
    assert!(acked.len() >= 275);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_power_loss_on_every_node() {
    for seed in 1..=3 {
        every_node_loses_power(seed).await;
    }
}
