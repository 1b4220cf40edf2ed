//! A node: many replicated partitions sharing one peer transport, one disk
//! (one group-commit pass for all of them) and one timer, driven by one
//! thread (`driver`). Dropping the `Node` stops it (as a process exit would).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fjord_replication::{Config, Millis, NodeId};
use fjord_storage::{
    ByteSize, Disk, Fetched, FlushPolicy, LogConfig, Medium, StdMedium, SyncMethod,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{error, info, info_span};

use crate::driver::{Channels, Driver, Request};
use crate::error::{Error, Result};
use crate::metrics::NodeMetrics;
use crate::partition::{Partition, PartitionStatus};
use crate::transport::Transport;
use crate::wire::{ClusterId, GroupId};

/// One Raft group hosted on this node.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub id: GroupId,
    /// Every replica, this node included.
    pub voters: Vec<NodeId>,
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: NodeId,
    pub cluster: ClusterId,
    pub data_dir: PathBuf,
    /// Every other node and its peer address.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    pub groups: Vec<GroupSpec>,
    /// Timings and flow control; `id`, `voters` and `seed` are set per group.
    pub raft: Config,
    pub tick_interval: Duration,
    /// Record bytes per append message (at least one batch is always sent).
    pub max_append_bytes: ByteSize,
    /// Bytes queued per peer before the oldest appends are dropped.
    pub peer_queue_bytes_max: usize,
    pub log: LogConfig,
    /// How long a group-commit pass waits before it fsyncs, gathering more
    /// appends into one pass (zero: start as soon as one is pending).
    pub group_commit_delay: Duration,
    /// Where the partition logs live (`StdMedium`; tests use `SimMedium` to
    /// lose unsynced writes in a simulated crash). The hard state always
    /// goes to the real file system under `data_dir`.
    pub medium: Arc<dyn Medium>,
}

impl NodeConfig {
    /// Defaults for everything but identity, addresses and groups.
    pub fn new(id: NodeId, cluster: ClusterId, data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            id,
            cluster,
            data_dir,
            peers: BTreeMap::new(),
            groups: Vec::new(),
            raft: Config::new(id, vec![id], 0),
            tick_interval: Duration::from_millis(10),
            max_append_bytes: ByteSize::mib(1),
            peer_queue_bytes_max: 64 * 1024 * 1024,
            log: LogConfig::default(),
            group_commit_delay: Duration::ZERO,
            medium: Arc::new(StdMedium),
        }
    }
}

/// A running node. Its client API talks to the driver thread over a channel.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    requests: mpsc::Sender<Request>,
    /// The transport's writers and listener; dropping the set aborts them.
    tasks: Mutex<JoinSet<()>>,
    /// Sent (once) to stop the driver.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    driver: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Node {
    /// Opens every group's partition from `config.data_dir` and starts the
    /// transport on `listener` and the driver.
    pub async fn start(
        config: NodeConfig,
        listener: TcpListener,
        metrics: NodeMetrics,
    ) -> Result<Node> {
        if config.peers.contains_key(&config.id) {
            return Err(Error::InvalidConfig("a node is not its own peer".into()));
        }
        let append_bytes = usize::try_from(config.max_append_bytes.0).unwrap_or(usize::MAX);
        if config.peer_queue_bytes_max / 4 < append_bytes {
            let why = "peer_queue_bytes_max must hold four appends of max_append_bytes";
            return Err(Error::InvalidConfig(why.into()));
        }
        for group in &config.groups {
            let unknown = group
                .voters
                .iter()
                .find(|v| **v != config.id && !config.peers.contains_key(v));
            if let Some(voter) = unknown {
                let why = format!("group {} has voter {voter} with no peer address", group.id);
                return Err(Error::InvalidConfig(why));
            }
        }
        let policy = FlushPolicy::GroupCommit {
            interval: Duration::from_millis(5),
            bytes: ByteSize::mib(4),
            sync: SyncMethod::Auto { files_max: 64 },
        };
        let disk = Disk::new(config.medium.clone(), policy, 1024);
        let started = Instant::now();
        let span = info_span!("node", id = %config.id);
        let partitions = span.in_scope(|| open_partitions(&config, &disk))?;
        let mut tasks = JoinSet::new();
        let (inbound_tx, inbound) = mpsc::channel(1024);
        let transport = Transport::start(
            (config.cluster, config.id),
            &config.peers,
            listener,
            config.peer_queue_bytes_max,
            inbound_tx,
            metrics.clone(),
            &mut tasks,
        );
        let (requests, requests_rx) = mpsc::channel(4096);
        let (stop, stop_rx) = oneshot::channel();
        let (mut driver, flushed) = Driver::new(partitions, transport, metrics, disk, started);
        driver.group_commit_delay = config.group_commit_delay;
        let channels = Channels {
            inbound,
            requests: requests_rx,
            stop: stop_rx,
        };
        let name = format!("fjord-node-{}", config.id);
        let thread = driver.spawn(name, span, config.tick_interval, channels, flushed)?;
        info!(node = %config.id, groups = config.groups.len(), "node started");
        Ok(Node {
            id: config.id,
            requests,
            tasks: Mutex::new(tasks),
            stop: Mutex::new(Some(stop)),
            driver: Mutex::new(Some(thread)),
        })
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Stops the node as a process exit would (dropping it does the same):
    /// the transport at once, the driver after the event at hand; pending
    /// appends fail with `Stopped`; what was written stays on disk.
    pub fn stop(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.abort_all();
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(()); // the driver may have ended already
            info!(node = %self.id, "node stopped");
        }
    }

    /// Stops the node and waits until its driver thread has ended, so the
    /// partitions' logs are closed when it returns.
    pub async fn shutdown(self) {
        self.stop();
        let thread = self
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                error!(node = %self.id, "the driver thread panicked");
            }
        }
        info!(node = %self.id, "node shut down");
    }

    async fn ask<T>(&self, request: Request, reply: oneshot::Receiver<Result<T>>) -> Result<T> {
        self.requests
            .send(request)
            .await
            .map_err(|_| Error::Stopped)?;
        reply.await.map_err(|_| Error::Stopped)?
    }

    /// Appends producer batches (acks=all): returns the first offset once a
    /// quorum holds them durably. `NotLeader` on a follower.
    pub async fn append(&self, group: GroupId, batch: Vec<u8>) -> Result<i64> {
        let (reply, rx) = oneshot::channel();
        self.ask(
            Request::Append {
                group,
                batch,
                reply,
            },
            rx,
        )
        .await
    }

    /// Committed batches from `from`, below the high watermark.
    pub async fn read(&self, group: GroupId, from: i64, max_bytes: ByteSize) -> Result<Fetched> {
        let (reply, rx) = oneshot::channel();
        let request = Request::Read {
            group,
            from,
            max_bytes,
            reply,
        };
        self.ask(request, rx).await
    }

    pub async fn status(&self, group: GroupId) -> Result<PartitionStatus> {
        let (reply, rx) = oneshot::channel();
        self.ask(Request::Status { group, reply }, rx).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens every group's partition from the data directory.
fn open_partitions(config: &NodeConfig, disk: &Arc<Disk>) -> Result<BTreeMap<GroupId, Partition>> {
    let mut partitions = BTreeMap::new();
    for (index, group) in config.groups.iter().enumerate() {
        if partitions.contains_key(&group.id) {
            return Err(Error::InvalidConfig(format!(
                "group {} is listed twice",
                group.id
            )));
        }
        let mut raft = config.raft.clone();
        raft.id = config.id;
        raft.voters = group.voters.clone();
        raft.seed = seed(config.id, group.id, index);
        let directory = config.data_dir.join(format!("group-{}", group.id));
        let partition = Partition::open(
            group.id,
            raft,
            disk,
            &directory,
            config.log.clone(),
            config.max_append_bytes,
            Millis(0),
        )?;
        if partitions.insert(group.id, partition).is_some() {
            return Err(Error::InvalidConfig(format!(
                "group {} is listed twice",
                group.id
            )));
        }
    }
    Ok(partitions)
}

/// Election jitter seed: differs per node, group and start.
fn seed(node: NodeId, group: GroupId, index: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mixed = (u64::from(node.0) << 48) ^ group.0.rotate_left(17) ^ (index as u64) ^ nanos;
    mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}
