//! A three-node cluster on loopback TCP in one process, for the tests.
#![allow(dead_code, reason = "each test file uses part of the harness")]
#![allow(unreachable_pub, reason = "shared by the test files of this crate")]
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_node::{
    ClusterId, Error, GroupId, GroupSpec, Node, NodeConfig, NodeMetrics, PeerAddress,
};
use fjord_replication::NodeId;
use fjord_storage::batch::{build_batch, split_batches};
use fjord_storage::sim::SplitMix64;
use fjord_storage::{ByteSize, JournalConfig, LogConfig, Preallocate, SimMedium, Timestamp};
use tokio::net::TcpListener;

pub const NODES: usize = 3;
pub const CLUSTER: ClusterId = ClusterId(0x0f1e_2d3c);
pub const WAIT: Duration = Duration::from_secs(20);

/// An acknowledged append: where it landed and what it held.
#[derive(Debug, Clone, Copy)]
pub struct Acked {
    pub group: GroupId,
    pub offset: i64,
    pub records: i32,
    pub fill: u8,
}

pub struct Cluster {
    dirs: Vec<tempfile::TempDir>,
    addresses: Vec<SocketAddr>,
    pub nodes: Vec<Option<Arc<Node>>>,
    pub metrics: Vec<NodeMetrics>,
    pub groups: Vec<GroupId>,
    /// Appends acknowledged so far (to stop a node in the middle of a load).
    pub acks: std::sync::atomic::AtomicUsize,
    /// Every acknowledged append, as it was acknowledged.
    acked: std::sync::Mutex<Vec<Acked>>,
    peer_queue_bytes_max: usize,
    /// Simulated disks that lose unsynced writes in `crash`; real ones if `None`.
    media: Option<Vec<SimMedium>>,
    /// Named mode: nodes know each other as `node-N.fjord.test`, which this
    /// directory's `hosts` file maps to their addresses.
    hosts: Option<tempfile::TempDir>,
}

/// A node's name in named mode.
pub fn node_name(index: usize) -> String {
    format!("node-{index}.fjord.test")
}

/// Logs go to the test's output, filtered by `RUST_LOG` (off by default).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

impl Cluster {
    /// `simulated`: the logs live on `SimMedium`s, so `crash` can lose what
    /// was not fsynced.
    pub async fn start(groups: u64, peer_queue_bytes_max: usize, simulated: bool) -> Cluster {
        Self::start_on(groups, peer_queue_bytes_max, simulated, false).await
    }

    /// Named mode: node `i` listens on `127.0.0.(11 + i)` and its peers
    /// know it only as [`node_name`]`(i)`, through a hosts file.
    pub async fn start_named(groups: u64) -> Cluster {
        Self::start_on(groups, 64 * 1024 * 1024, false, true).await
    }

    async fn start_on(
        groups: u64,
        peer_queue_bytes_max: usize,
        simulated: bool,
        named: bool,
    ) -> Cluster {
        init_logs();
        let mut listeners = Vec::new();
        for index in 0..NODES {
            let ip = if named {
                format!("127.0.0.{}", 11 + index)
            } else {
                "127.0.0.1".to_owned()
            };
            listeners.push(TcpListener::bind((ip.as_str(), 0)).await.unwrap());
        }
        let addresses = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let mut cluster = Cluster {
            dirs: (0..NODES).map(|_| tempfile::tempdir().unwrap()).collect(),
            addresses,
            nodes: (0..NODES).map(|_| None).collect(),
            metrics: (0..NODES).map(|_| NodeMetrics::default()).collect(),
            groups: (1..=groups).map(GroupId).collect(),
            acks: std::sync::atomic::AtomicUsize::new(0),
            acked: std::sync::Mutex::new(Vec::new()),
            peer_queue_bytes_max,
            media: simulated.then(|| (0..NODES).map(|_| SimMedium::new()).collect()),
            hosts: named.then(|| tempfile::tempdir().unwrap()),
        };
        cluster.write_hosts(&[]);
        for (index, listener) in listeners.into_iter().enumerate() {
            cluster.launch(index, listener).await;
        }
        cluster
    }

    async fn launch(&mut self, index: usize, listener: TcpListener) {
        let id = NodeId(index as u32);
        let mut config = NodeConfig::new(id, CLUSTER, self.dirs[index].path().to_owned());
        config.peers = (0..NODES)
            .filter(|&peer| peer != index)
            .map(|peer| {
                let address = match &self.hosts {
                    Some(_) => PeerAddress::Name {
                        host: node_name(peer),
                        port: self.addresses[peer].port(),
                    },
                    None => self.addresses[peer].into(),
                };
                (NodeId(peer as u32), address)
            })
            .collect::<BTreeMap<_, _>>();
        config.hosts_file = self.hosts_file();
        let voters: Vec<NodeId> = (0..NODES as u32).map(NodeId).collect();
        config.groups = self
            .groups
            .iter()
            .map(|&id| GroupSpec {
                id,
                voters: voters.clone(),
            })
            .collect();
        config.log = LogConfig {
            segment_bytes: ByteSize::mib(4),
            preallocate: Preallocate::None,
            ..LogConfig::default()
        };
        // A small journal checkpointed often: files rotate and are trimmed
        // during every test, and follower appends of more than 32 KiB take
        // the indirect path (their segment synced in the pass).
        config.journal = JournalConfig {
            file_bytes: ByteSize::kib(256),
            pass_bytes_max: ByteSize::kib(64),
            checkpoint_interval: Duration::from_millis(100),
            retained_bytes: ByteSize::kib(512),
            indirect_bytes_min: ByteSize::kib(32),
            ..JournalConfig::default()
        };
        config.peer_queue_bytes_max = self.peer_queue_bytes_max;
        // Appends of at most a quarter of the queue (at least one batch each).
        let append_bytes = (self.peer_queue_bytes_max / 4).min(1 << 20);
        config.max_append_bytes = ByteSize(append_bytes as u64);
        if let Some(media) = &self.media {
            config.medium = Arc::new(media[index].clone());
            // Long unsynced windows, so a crash finds unsynced appends.
            config.group_commit_delay = Duration::from_millis(20);
        }
        let metrics = self.metrics[index].clone();
        let node = Node::start(config, listener, metrics).await.unwrap();
        self.nodes[index] = Some(Arc::new(node));
    }

    /// Named mode: the hosts file the nodes resolve each other with.
    pub fn hosts_file(&self) -> Option<std::path::PathBuf> {
        self.hosts.as_ref().map(|dir| dir.path().join("hosts"))
    }

    /// Named mode: rewrites the hosts file with every node's current
    /// address except those in `missing`.
    pub fn write_hosts(&self, missing: &[usize]) {
        let Some(path) = self.hosts_file() else {
            return;
        };
        let mut text = String::from("# the test cluster's nodes\n");
        for (index, address) in self.addresses.iter().enumerate() {
            if !missing.contains(&index) {
                text.push_str(&format!("{} {}\n", address.ip(), node_name(index)));
            }
        }
        // Whole or not at all: a resolver never reads half a file.
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, &path).unwrap();
    }

    /// Named mode: the (stopped) node comes back on another IP address with
    /// the same port, as a restarted Pod does; the hosts file follows.
    pub fn move_to(&mut self, index: usize, ip: std::net::IpAddr) {
        assert!(self.nodes[index].is_none(), "stop the node first");
        self.addresses[index].set_ip(ip);
        self.write_hosts(&[]);
    }

    /// The node's data directory.
    pub fn data_dir(&self, index: usize) -> std::path::PathBuf {
        self.dirs[index].path().to_owned()
    }

    /// The running node at `index`.
    pub fn node(&self, index: usize) -> Arc<Node> {
        self.nodes[index].clone().expect("the node runs")
    }

    /// Every append acknowledged so far.
    pub fn acked_so_far(&self) -> Vec<Acked> {
        self.acked.lock().unwrap().clone()
    }

    /// Simulates power loss on a node's disk: unsynced writes are lost or
    /// torn, and syncs through old handles (a pass still running in the
    /// stopped node) no longer reach it.
    pub fn crash_disk(&self, index: usize, seed: u64) {
        let media = self.media.as_ref().expect("a simulated cluster");
        media[index].crash(&mut SplitMix64(seed));
    }

    pub async fn stop(&mut self, index: usize) {
        let node = self.nodes[index].take().unwrap();
        let node = Arc::try_unwrap(node).expect("no append is in flight");
        node.shutdown().await;
    }

    pub async fn restart(&mut self, index: usize) {
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match TcpListener::bind(self.addresses[index]).await {
                Ok(listener) => break listener,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {error}", self.addresses[index]);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("cannot rebind the stopped node's address: {error}"),
            }
        };
        self.launch(index, listener).await;
    }

    /// The live node leading `group` with the highest term, once there is one.
    pub async fn leader(&self, group: GroupId) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut best: Option<(i32, usize)> = None;
            for (index, node) in self.nodes.iter().enumerate() {
                let Some(node) = node else { continue };
                let Ok(status) = node.status(group).await else {
                    continue; // stopped
                };
                if status.is_leader && best.is_none_or(|(term, _)| status.term > term) {
                    best = Some((status.term, index));
                }
            }
            if let Some((_, index)) = best {
                return index;
            }
            assert!(Instant::now() < deadline, "no leader for group {group}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Appends through whichever node leads, retrying while leadership moves.
    pub async fn append(&self, group: GroupId, sequence: u32) -> Acked {
        let records = (sequence % 3 + 1) as i32;
        let fill = (sequence % 251) as u8;
        let batch = build_batch(records, Timestamp(i64::from(sequence)), 16, fill);
        let deadline = Instant::now() + WAIT;
        loop {
            let leader = self.leader(group).await;
            let node = self.nodes[leader].clone().unwrap();
            match node.append(group, batch.clone()).await {
                Ok(offset) => {
                    let acked = Acked {
                        group,
                        offset,
                        records,
                        fill,
                    };
                    self.acked.lock().unwrap().push(acked);
                    self.acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    return acked;
                }
                // Not acknowledged: the write may or may not be in the log.
                Err(Error::NotLeader { .. } | Error::Overloaded(_) | Error::Stopped) => {}
                Err(error) => panic!("append failed: {error}"),
            }
            assert!(
                Instant::now() < deadline,
                "append to group {group} never committed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `count` appends spread over the groups, `window` at a time.
    pub async fn append_many(self: &Arc<Self>, first: u32, count: u32) -> Vec<Acked> {
        let mut acked = Vec::new();
        let window = 50;
        let mut sequence = first;
        while sequence < first + count {
            let mut tasks = tokio::task::JoinSet::new();
            for s in sequence..(sequence + window).min(first + count) {
                let cluster = self.clone();
                let group = self.groups[s as usize % self.groups.len()];
                tasks.spawn(async move { cluster.append(group, s).await });
            }
            while let Some(result) = tasks.join_next().await {
                acked.push(result.unwrap());
            }
            sequence += window;
        }
        acked
    }

    /// A follower answers NOT_LEADER naming the leader and appends nothing.
    pub async fn followers_refuse_appends(&self) {
        let group = self.groups[0];
        let leader = self.leader(group).await;
        let follower = (leader + 1) % NODES;
        let node = self.nodes[follower].as_ref().unwrap();
        let batch = build_batch(1, Timestamp(0), 4, 1);
        let deadline = Instant::now() + WAIT;
        loop {
            match node.append(group, batch.clone()).await {
                Err(Error::NotLeader {
                    leader: Some(named),
                    ..
                }) => {
                    assert_eq!(named, NodeId(leader as u32));
                    break;
                }
                // Not yet told who leads (no append heard in this term yet).
                Err(Error::NotLeader { leader: None, .. }) => {}
                other => panic!("a follower answered {other:?}"),
            }
            assert!(
                Instant::now() < deadline,
                "the follower never learned its leader"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Committed bytes of `group` on node `index`, from offset 0.
    pub async fn committed(&self, index: usize, group: GroupId) -> (i64, Vec<u8>) {
        let node = self.nodes[index].as_ref().unwrap();
        let high_watermark = node.status(group).await.unwrap().high_watermark;
        let mut bytes = Vec::new();
        let mut next = 0;
        while next < high_watermark {
            let fetched = node.read(group, next, ByteSize::mib(1)).await.unwrap();
            assert!(fetched.next_offset.0 > next, "reads make progress");
            bytes.extend_from_slice(&fetched.bytes);
            next = fetched.next_offset.0;
        }
        (high_watermark, bytes)
    }

    /// Waits until every live node has the same committed log for every
    /// group, then checks every acknowledged append is in it.
    pub async fn check_identical(&self, acked: &[Acked]) {
        for &group in &self.groups {
            let deadline = Instant::now() + WAIT;
            // A new leader commits earlier entries once it commits one of its
            // own term: wait until the committed log covers every acknowledgement.
            let acked_end = acked
                .iter()
                .filter(|a| a.group == group)
                .map(|a| a.offset + i64::from(a.records))
                .max()
                .unwrap_or(0);
            let (reference, logs) = loop {
                let mut logs = Vec::new();
                for index in 0..NODES {
                    if self.nodes[index].is_some() {
                        logs.push(self.committed(index, group).await);
                    }
                }
                let leader = self.leader(group).await;
                let reference = self.committed(leader, group).await;
                if reference.0 >= acked_end && logs.iter().all(|log| *log == reference) {
                    break (reference, logs);
                }
                if Instant::now() >= deadline {
                    let mut statuses = Vec::new();
                    for node in self.nodes.iter().flatten() {
                        statuses.push(node.status(group).await);
                    }
                    panic!(
                        "group {group} never committed up to {acked_end} everywhere: {statuses:?}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert!(logs.len() >= 2);
            let wanted = acked.iter().filter(|a| a.group == group);
            check_contains(&reference.1, wanted, group);
        }
    }
}

/// Every acknowledged batch is at its offset with its records.
pub fn check_contains<'a>(log: &[u8], acked: impl Iterator<Item = &'a Acked>, group: GroupId) {
    let headers = split_batches(log).unwrap();
    let mut batches = BTreeMap::new();
    let mut position = 0usize;
    for header in headers {
        let size = header.size as usize;
        batches.insert(
            header.base_offset.0,
            (header, &log[position..position + size]),
        );
        position += size;
    }
    for ack in acked {
        let Some((header, bytes)) = batches.get(&ack.offset) else {
            panic!("group {group}: acknowledged append at {} lost", ack.offset);
        };
        let records = header.next_offset().0 - header.base_offset.0;
        assert_eq!(
            records,
            i64::from(ack.records),
            "group {group} offset {}",
            ack.offset
        );
        assert!(
            bytes[61..].iter().all(|b| *b == ack.fill),
            "payload of {}",
            ack.offset
        );
    }
}
