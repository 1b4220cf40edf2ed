//! Peers given by host name (docs/replication.md, "Peer addresses"): three
//! nodes that know each other only as `node-N.fjord.test` through a hosts
//! file replicate; a node that comes back on another address (a restarted
//! Pod) is found again by name; a name that does not resolve is counted and
//! retried, never fatal.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Cluster, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_known_by_name_find_a_node_restarted_on_another_address() {
    let cluster = Cluster::start_named(2).await;
    for &group in &cluster.groups {
        cluster.leader(group).await;
    }
    let shared = Arc::new(cluster);
    let mut acked = shared.append_many(0, 100).await;
    let mut cluster = Arc::try_unwrap(shared).ok().unwrap();
    assert_eq!(cluster.metrics[0].resolve_failures.get(), 0);

    // Node 1 goes away, and its name with it (a deleted Pod's DNS record):
    // the others fail to resolve it, count that, and keep trying.
    cluster.stop(1).await;
    cluster.write_hosts(&[1]);
    let deadline = Instant::now() + WAIT;
    while cluster.metrics[0].resolve_failures.get() + cluster.metrics[2].resolve_failures.get() == 0
    {
        assert!(Instant::now() < deadline, "no resolve failure counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two of three still commit.
    let shared = Arc::new(cluster);
    acked.extend(shared.append_many(100, 50).await);
    let mut cluster = Arc::try_unwrap(shared).ok().unwrap();

    // It comes back on another address under the same name.
    cluster.move_to(1, "127.0.0.21".parse().unwrap());
    cluster.restart(1).await;
    // Without node 2, every commit needs 0 and 1 to reach each other at
    // node 1's new address.
    cluster.stop(2).await;
    let shared = Arc::new(cluster);
    acked.extend(shared.append_many(150, 100).await);
    let mut cluster = Arc::try_unwrap(shared).ok().unwrap();
    cluster.restart(2).await;
    cluster.check_identical(&acked).await;
    let connects: u64 = cluster.metrics.iter().map(|m| m.connects.get()).sum();
    assert!(connects >= 6, "{connects} peer connections");
}
