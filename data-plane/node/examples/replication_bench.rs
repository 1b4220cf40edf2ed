//! acks=all append throughput and latency of replication factor 3 (three
//! nodes on loopback) against replication factor 1 (one node), measured in
//! the same run and printed as ratios.
//!
//! `cargo run --release -p fjord-node --example replication_bench -- [appends] [concurrency] [groups]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_node::{ClusterId, Error, GroupId, GroupSpec, Node, NodeConfig, NodeMetrics};
use fjord_replication::NodeId;
use fjord_storage::batch::build_batch;
use fjord_storage::{ByteSize, LogConfig, Preallocate, Timestamp};
use tokio::net::TcpListener;

const CLUSTER: ClusterId = ClusterId(0xbe0c);

struct Figures {
    appends_per_second: f64,
    p50: Duration,
    p99: Duration,
    p999: Duration,
}

async fn start(replicas: usize, groups: u64, dirs: &[tempfile::TempDir]) -> Vec<Arc<Node>> {
    let mut listeners = Vec::new();
    for _ in 0..replicas {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    let addresses: Vec<_> = listeners
        .iter()
        .map(|l| l.local_addr().expect("address"))
        .collect();
    let voters: Vec<NodeId> = (0..replicas as u32).map(NodeId).collect();
    let mut nodes = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        let id = NodeId(index as u32);
        let mut config = NodeConfig::new(id, CLUSTER, dirs[index].path().to_owned());
        config.peers = (0..replicas)
            .filter(|&peer| peer != index)
            .map(|peer| (NodeId(peer as u32), addresses[peer].into()))
            .collect::<BTreeMap<_, _>>();
        config.groups = (1..=groups)
            .map(|g| GroupSpec {
                id: GroupId(g),
                voters: voters.clone(),
            })
            .collect();
        config.log = LogConfig {
            segment_bytes: ByteSize::mib(64),
            preallocate: Preallocate::None,
            ..LogConfig::default()
        };
        let node = Node::start(config, listener, NodeMetrics::default())
            .await
            .expect("start");
        nodes.push(Arc::new(node));
    }
    nodes
}

async fn leader_of(nodes: &[Arc<Node>], group: GroupId) -> Arc<Node> {
    loop {
        for node in nodes {
            if node.status(group).await.expect("status").is_leader {
                return node.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn measure(replicas: usize, appends: usize, concurrency: usize, groups: u64) -> Figures {
    let dirs: Vec<_> = (0..replicas)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let nodes = start(replicas, groups, &dirs).await;
    let mut leaders = Vec::new();
    for group in 1..=groups {
        leaders.push((GroupId(group), leader_of(&nodes, GroupId(group)).await));
    }
    let leaders = Arc::new(leaders);
    let batch = Arc::new(build_batch(10, Timestamp(0), 1000, 7));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (leaders, batch) = (leaders.clone(), batch.clone());
        let count = appends / concurrency;
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            for i in 0..count {
                let (group, leader) = &leaders[(worker + i) % leaders.len()];
                let sent = Instant::now();
                match leader.append(*group, batch.to_vec()).await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(Error::Overloaded(_)) => {}
                    Err(error) => panic!("append failed: {error}"),
                }
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        appends_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
    }
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (appends, concurrency, groups) = (arg(1, 20_000), arg(2, 64), arg(3, 8) as u64);
    println!("{appends} appends of 10 records (~1 KiB), {concurrency} in flight, {groups} groups");
    let single = measure(1, appends, concurrency, groups).await;
    let replicated = measure(3, appends, concurrency, groups).await;
    for (name, f) in [("rf=1", &single), ("rf=3", &replicated)] {
        println!(
            "{name}: {:>9.0} appends/s  p50 {:?}  p99 {:?}  p99.9 {:?}",
            f.appends_per_second, f.p50, f.p99, f.p999
        );
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "rf=3 / rf=1: throughput {:.2}, p50 {:.2}, p99 {:.2}, p99.9 {:.2}",
        replicated.appends_per_second / single.appends_per_second,
        ratio(replicated.p50, single.p50),
        ratio(replicated.p99, single.p99),
        ratio(replicated.p999, single.p999)
    );
}
