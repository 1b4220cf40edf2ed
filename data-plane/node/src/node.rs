//! A node: many replicated partitions sharing one peer transport, one disk
//! (one group-commit pass for all of them) and one timer, driven by one
//! thread (`driver`). Dropping the `Node` stops it (as a process exit would).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fjord_replication::{Config, NodeId};
use fjord_storage::{ByteSize, Disk, FlushPolicy, JournalConfig, LogConfig, Medium, StdMedium};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{error, info, info_span};

use crate::address::{PeerAddress, Resolver};
use crate::driver::{Channels, Driver, Request};
use crate::error::{Error, Result};
use crate::groups::GroupSettings;
use crate::metrics::NodeMetrics;
use crate::transport::Transport;
use crate::wire::ClusterId;

/// One Raft group hosted on this node.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub id: crate::wire::GroupId,
    /// The group's initial configuration: every replica, usually this node
    /// included (a node joining an existing group by a membership change is
    /// not; it learns its configuration from the log).
    pub voters: Vec<NodeId>,
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: NodeId,
    pub cluster: ClusterId,
    pub data_dir: PathBuf,
    /// Every other node and its peer address (an IP address or a DNS name,
    /// resolved at every connect).
    pub peers: BTreeMap<NodeId, PeerAddress>,
    /// A file in `/etc/hosts` format consulted before DNS when a peer's
    /// name is resolved (tests and local stacks).
    pub hosts_file: Option<PathBuf>,
    /// The groups opened at start, with `log` as their settings; more can
    /// be added and removed at runtime (`Node::add_group`, `remove_group`).
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
    /// The disk's journal, in `data_dir/journal`: every partition's appends
    /// are group-committed there, one `fdatasync` per pass, and the
    /// segments are synced behind it at each checkpoint.
    pub journal: JournalConfig,
    /// How often every group applies its retention settings (never deleting
    /// at or above its high watermark).
    pub retention_interval: Duration,
    /// Mutual TLS between peers; `None`: plain TCP.
    pub tls: Option<crate::PeerTls>,
}

impl NodeConfig {
    /// Defaults for everything but identity, addresses and groups.
    pub fn new(id: NodeId, cluster: ClusterId, data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            id,
            cluster,
            data_dir,
            peers: BTreeMap::new(),
            hosts_file: None,
            groups: Vec::new(),
            raft: Config::new(id, vec![id], 0),
            tick_interval: Duration::from_millis(10),
            max_append_bytes: ByteSize::mib(1),
            peer_queue_bytes_max: 64 * 1024 * 1024,
            log: LogConfig::default(),
            group_commit_delay: Duration::ZERO,
            medium: Arc::new(StdMedium),
            journal: JournalConfig::default(),
            retention_interval: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// A running node. Its client API talks to the driver thread over a channel.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    pub(crate) requests: mpsc::Sender<Request>,
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
        // Every partition's appends go to one journal in `data_dir`: one
        // write and one `fdatasync` per group-commit pass however many
        // partitions wrote (storage JOURNAL.md). Opening replays what the
        // journal holds beyond the last checkpoint into the segments, so the
        // partitions below open on complete logs.
        let policy = FlushPolicy::Journal(config.journal);
        let disk = Disk::open(config.medium.clone(), &config.data_dir, policy, 1024)?;
        let report = disk.journal_report();
        info!(
            node = %config.id,
            files = report.files,
            records_replayed = report.records_replayed,
            records_skipped = report.records_skipped,
            logs_replayed = report.logs_replayed,
            torn_tail = report.torn_tail,
            "journal opened"
        );
        let started = Instant::now();
        let span = info_span!("node", id = %config.id);
        let mut tasks = JoinSet::new();
        let (inbound_tx, inbound) = mpsc::channel(1024);
        let resolver = Resolver::new(config.hosts_file.clone(), metrics.resolve_failures.clone());
        let transport = Transport::start(
            (config.cluster, config.id),
            &config.peers,
            &resolver,
            listener,
            config.peer_queue_bytes_max,
            inbound_tx,
            metrics.clone(),
            config.tls.clone(),
            &mut tasks,
        );
        let (requests, requests_rx) = mpsc::channel(4096);
        let (stop, stop_rx) = oneshot::channel();
        let settings = GroupSettings {
            node: config.id,
            data_dir: config.data_dir.clone(),
            raft: config.raft.clone(),
            max_append_bytes: config.max_append_bytes,
            peers: config.peers.keys().copied().collect(),
            disk,
        };
        let (mut driver, disk_done) = Driver::new(settings, transport, metrics, started);
        driver.group_commit_delay = config.group_commit_delay;
        driver.retention_interval = config.retention_interval;
        span.in_scope(|| open_groups(&mut driver, &config))?;
        let channels = Channels {
            inbound,
            requests: requests_rx,
            stop: stop_rx,
        };
        let name = format!("fjord-node-{}", config.id);
        let thread = driver.spawn(name, span, config.tick_interval, channels, disk_done)?;
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
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens every group of the configuration from the data directory.
fn open_groups(driver: &mut Driver, config: &NodeConfig) -> Result<()> {
    for group in &config.groups {
        if driver.partitions.contains_key(&group.id) {
            let why = format!("group {} is listed twice", group.id);
            return Err(Error::InvalidConfig(why));
        }
        driver.add_group(group, config.log.clone())?;
    }
    Ok(())
}
