//! A node: many replicated partitions sharing one peer transport, one disk
//! (one group-commit pass for all of them) and one timer, driven by a single
//! task. Dropping the `Node` stops every task (as a process exit would).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_replication::{Config, Millis, NodeId};
use fjord_storage::{ByteSize, Disk, Fetched, FlushPolicy, LogConfig, StdMedium, SyncMethod};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{Instrument, error, info, info_span};

use crate::error::{Error, Result};
use crate::metrics::NodeMetrics;
use crate::partition::{Context, Partition, PartitionStatus, Waiter};
use crate::transport::{Inbound, Transport};
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
        }
    }
}

enum Request {
    Append {
        group: GroupId,
        batch: Vec<u8>,
        reply: Waiter,
    },
    Read {
        group: GroupId,
        from: i64,
        max_bytes: ByteSize,
        reply: oneshot::Sender<Result<Fetched>>,
    },
    Status {
        group: GroupId,
        reply: oneshot::Sender<Result<PartitionStatus>>,
    },
}

/// A running node. Its client API talks to the driver task over a channel.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    requests: mpsc::Sender<Request>,
    /// Aborting (or dropping) the set stops the driver, the writers and the
    /// listener.
    tasks: std::sync::Mutex<JoinSet<()>>,
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
        let disk = Disk::new(Arc::new(StdMedium), policy, 1024);
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
        let (flushed_tx, flushed) = mpsc::channel(4);
        let driver = Driver {
            partitions,
            transport,
            metrics,
            disk,
            started,
            dirty: false,
            flushing: false,
            disk_failed: false,
            flushed_tx,
        };
        let run = driver.run(config.tick_interval, inbound, requests_rx, flushed);
        tasks.spawn(run.instrument(span));
        info!(node = %config.id, groups = config.groups.len(), "node started");
        Ok(Node {
            id: config.id,
            requests,
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Stops every task at once, as a process exit would (dropping the node
    /// does the same): pending appends fail with `Stopped`; what was written
    /// stays on disk for a restart.
    pub fn stop(&self) {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.abort_all();
        info!(node = %self.id, "node stopped");
    }

    /// Stops every task and waits until they have ended, so the partitions'
    /// logs are closed (as far as this process goes) when it returns.
    pub async fn shutdown(self) {
        let mut tasks = self
            .tasks
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.abort_all();
        // Bounded: the set only shrinks.
        while tasks.join_next().await.is_some() {}
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

struct Driver {
    partitions: BTreeMap<GroupId, Partition>,
    transport: Transport,
    metrics: NodeMetrics,
    disk: Arc<Disk>,
    started: Instant,
    dirty: bool,
    flushing: bool,
    disk_failed: bool,
    flushed_tx: mpsc::Sender<Result<(), String>>,
}

impl Driver {
    async fn run(
        mut self,
        tick_interval: Duration,
        mut inbound: mpsc::Receiver<Inbound>,
        mut requests: mpsc::Receiver<Request>,
        mut flushed: mpsc::Receiver<Result<(), String>>,
    ) {
        let mut tick = tokio::time::interval(tick_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                Some(frame) = inbound.recv() => self.on_inbound(frame),
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return, // the Node was dropped
                },
                _ = tick.tick() => self.on_tick(),
                Some(result) = flushed.recv() => self.on_flushed(result),
            }
            self.maybe_flush();
        }
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Runs `f` on the group's partition with a fresh context.
    fn with_partition<T>(
        &mut self,
        group: GroupId,
        f: impl FnOnce(&mut Partition, &mut Context<'_>) -> T,
    ) -> Option<T> {
        let now = self.now();
        let partition = self.partitions.get_mut(&group)?;
        let mut context = Context {
            now,
            transport: &self.transport,
            metrics: &self.metrics,
            dirty: false,
        };
        let result = f(partition, &mut context);
        self.dirty |= context.dirty;
        Some(result)
    }

    fn on_inbound(&mut self, frame: Inbound) {
        for envelope in frame.envelopes {
            let group = envelope.group;
            let from = frame.from;
            let handled = self.with_partition(group, |p, c| p.receive(c, from, envelope));
            if handled.is_none() {
                self.metrics.unknown_group.inc();
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Append {
                group,
                batch,
                reply,
            } => {
                if !self.partitions.contains_key(&group) {
                    let _ = reply.send(Err(Error::UnknownGroup(group)));
                    return;
                }
                self.with_partition(group, |p, c| p.append(c, batch, reply));
            }
            Request::Read {
                group,
                from,
                max_bytes,
                reply,
            } => {
                let result = match self.partitions.get(&group) {
                    Some(partition) => partition.read(from, max_bytes),
                    None => Err(Error::UnknownGroup(group)),
                };
                let _ = reply.send(result);
            }
            Request::Status { group, reply } => {
                let status = self.partitions.get(&group).map(Partition::status);
                let _ = reply.send(status.ok_or(Error::UnknownGroup(group)));
            }
        }
    }

    fn on_tick(&mut self) {
        let groups: Vec<GroupId> = self.partitions.keys().copied().collect();
        for group in groups {
            self.with_partition(group, |p, c| p.tick(c));
        }
        let leaders = self.partitions.values().filter(|p| p.is_leader()).count();
        self.metrics.leaders.set(leaders as i64);
    }

    /// One group-commit pass covers every partition on the disk.
    fn maybe_flush(&mut self) {
        if !self.dirty || self.flushing || self.disk_failed {
            return;
        }
        self.dirty = false;
        self.flushing = true;
        let disk = self.disk.clone();
        let done = self.flushed_tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = disk.flush_pending().map(|_| ()).map_err(|e| e.to_string());
            let _ = done.blocking_send(result);
        });
    }

    fn on_flushed(&mut self, result: Result<(), String>) {
        self.flushing = false;
        if let Err(error) = result {
            // After a failed fsync the page cache state is unknown: nothing on
            // this disk is reported durable again (no more commits here).
            error!(%error, "group commit failed: disk presumed failed");
            self.metrics.flush_failures.inc();
            self.disk_failed = true;
            return;
        }
        self.metrics.flush_passes.inc();
        let groups: Vec<GroupId> = self.partitions.keys().copied().collect();
        for group in groups {
            self.with_partition(group, |p, c| p.durable(c));
        }
    }
}
