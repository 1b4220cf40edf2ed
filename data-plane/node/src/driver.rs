//! The driver: one thread that owns every partition of a node and runs
//! them from one event loop (peer frames, client requests, the timer, and
//! group-commit completions). It has a thread of its own because storage
//! calls block (appends, truncation, the fsynced hard state): they must not
//! stall the async tasks of the transport or of whoever embeds the node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_replication::Millis;
use fjord_storage::{Disk, JournalStats, LogConfig};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::error::Result;
use crate::groups::GroupSettings;
use crate::metrics::NodeMetrics;
use crate::node::GroupSpec;
use crate::partition::{Context, Partition};
use crate::status::PartitionStatus;
use crate::transport::{Inbound, Transport};
use crate::wire::GroupId;

/// A request from the `Node` API, run on the driver thread.
pub(crate) enum Request {
    /// Runs on the group's partition (`None` if the group is not hosted);
    /// the task answers its caller itself.
    Partition { group: GroupId, task: PartitionTask },
    Statuses {
        reply: oneshot::Sender<Vec<(GroupId, PartitionStatus)>>,
    },
    AddGroup {
        spec: GroupSpec,
        log: LogConfig,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveGroup {
        group: GroupId,
        delete_data: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    SetElectable {
        electable: bool,
        reply: oneshot::Sender<()>,
    },
}

/// Work on one partition, with the context to step its engine.
pub(crate) type PartitionTask = Box<dyn FnOnce(Option<(&mut Partition, &mut Context<'_>)>) + Send>;

/// Boxes a closure as a `PartitionTask` (the bound makes the closure
/// generic over the borrows' lifetimes).
pub(crate) fn task<F>(f: F) -> PartitionTask
where
    F: FnOnce(Option<(&mut Partition, &mut Context<'_>)>) + Send + 'static,
{
    Box::new(f)
}

pub(crate) struct Driver {
    pub(crate) partitions: BTreeMap<GroupId, Partition>,
    /// Journal counters already exported (`fjord_node_journal_*`).
    journal_seen: JournalStats,
    transport: Transport,
    metrics: NodeMetrics,
    disk: Arc<Disk>,
    started: Instant,
    dirty: bool,
    flushing: bool,
    checkpointing: bool,
    disk_failed: bool,
    disk_done_tx: mpsc::Sender<DiskDone>,
    pub(crate) group_commit_delay: Duration,
    /// How to open a group's partition (`add_group`).
    pub(crate) settings: GroupSettings,
    /// Maintenance mode for every group (`Node::set_electable`).
    pub(crate) electable: bool,
    pub(crate) retention_interval: Duration,
    next_retention: Millis,
}

/// What a blocking disk task tells the driver when it ends.
pub(crate) enum DiskDone {
    /// A group-commit pass (one journal write and `fdatasync`).
    Flushed(fjord_storage::Result<()>),
    /// A journal checkpoint; the number of journal files trimmed.
    Checkpointed(fjord_storage::Result<u64>),
}

/// What the driver thread listens to.
pub(crate) struct Channels {
    pub(crate) inbound: mpsc::Receiver<Inbound>,
    pub(crate) requests: mpsc::Receiver<Request>,
    /// Closed (or sent to) to stop the driver.
    pub(crate) stop: oneshot::Receiver<()>,
}

impl Driver {
    pub(crate) fn new(
        settings: GroupSettings,
        transport: Transport,
        metrics: NodeMetrics,
        started: Instant,
    ) -> (Driver, mpsc::Receiver<DiskDone>) {
        let disk = settings.disk.clone();
        let (disk_done_tx, disk_done) = mpsc::channel(4);
        let driver = Driver {
            partitions: BTreeMap::new(),
            journal_seen: JournalStats::default(),
            transport,
            metrics,
            disk,
            started,
            dirty: false,
            flushing: false,
            checkpointing: false,
            disk_failed: false,
            disk_done_tx,
            group_commit_delay: Duration::ZERO,
            settings,
            electable: true,
            retention_interval: Duration::from_secs(5),
            next_retention: Millis(0),
        };
        (driver, disk_done)
    }

    /// Runs the event loop on a thread of its own (with a single-threaded
    /// runtime for its timer, channels and group-commit passes).
    pub(crate) fn spawn(
        self,
        name: String,
        span: tracing::Span,
        tick_interval: Duration,
        channels: Channels,
        disk_done: mpsc::Receiver<DiskDone>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new().name(name).spawn(move || {
            let _entered = span.enter();
            runtime.block_on(self.run(tick_interval, channels, disk_done));
        })
    }

    async fn run(
        mut self,
        tick_interval: Duration,
        channels: Channels,
        mut disk_done: mpsc::Receiver<DiskDone>,
    ) {
        let Channels {
            mut inbound,
            mut requests,
            mut stop,
        } = channels;
        let mut tick = tokio::time::interval(tick_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                Some(frame) = inbound.recv() => self.on_inbound(frame),
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => break, // the Node was dropped
                },
                _ = tick.tick() => self.on_tick(),
                Some(done) = disk_done.recv() => match done {
                    DiskDone::Flushed(result) => self.on_flushed(result),
                    DiskDone::Checkpointed(result) => self.on_checkpointed(result),
                },
            }
            self.maybe_flush();
        }
        info!("driver stopped");
    }

    pub(crate) fn now(&self) -> Millis {
        Millis(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Runs `f` on the group's partition with a fresh context.
    pub(crate) fn with_partition<T>(
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
            Request::Partition { group, task } => {
                if self.partitions.contains_key(&group) {
                    self.with_partition(group, |p, c| task(Some((p, c))));
                } else {
                    task(None);
                }
            }
            Request::Statuses { reply } => {
                let now = self.now();
                let statuses = self.partitions.iter().map(|(g, p)| (*g, p.status(now)));
                let _ = reply.send(statuses.collect());
            }
            Request::AddGroup { spec, log, reply } => {
                let _ = reply.send(self.add_group(&spec, log));
            }
            Request::RemoveGroup {
                group,
                delete_data,
                reply,
            } => {
                let _ = reply.send(self.remove_group(group, delete_data));
            }
            Request::SetElectable { electable, reply } => {
                self.electable = electable;
                for partition in self.partitions.values_mut() {
                    partition.set_electable(electable);
                }
                info!(electable, "electability changed");
                let _ = reply.send(());
            }
        }
    }

    fn on_tick(&mut self) {
        let groups: Vec<GroupId> = self.partitions.keys().copied().collect();
        for &group in &groups {
            self.with_partition(group, |p, c| p.tick(c));
        }
        let now = self.now();
        if now >= self.next_retention {
            let interval = u64::try_from(self.retention_interval.as_millis()).unwrap_or(u64::MAX);
            self.next_retention = now.after(interval.max(1));
            for group in groups {
                let applied = self.with_partition(group, |p, c| p.apply_retention(c));
                if let Some(Err(error)) = applied {
                    warn!(%group, %error, "retention failed");
                }
            }
        }
        let leaders = self.partitions.values().filter(|p| p.is_leader()).count();
        self.metrics.leaders.set(leaders as i64);
        self.export_journal_stats();
        self.maybe_checkpoint();
    }

    /// Syncs the segments written behind the journal and trims it, on a
    /// blocking thread, when the journal says one is due (storage
    /// JOURNAL.md section 5). One at a time, never after a disk failure.
    fn maybe_checkpoint(&mut self) {
        if self.checkpointing || self.disk_failed || !self.disk.checkpoint_is_due() {
            return;
        }
        self.checkpointing = true;
        let disk = self.disk.clone();
        let done = self.disk_done_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = done.blocking_send(DiskDone::Checkpointed(disk.checkpoint()));
        });
    }

    fn on_checkpointed(&mut self, result: fjord_storage::Result<u64>) {
        self.checkpointing = false;
        if let Err(error) = result {
            // A failed segment sync leaves the page cache's state unknown; a
            // retry could report success for data that is gone, and the
            // journal would then be trimmed below it. The journal still holds
            // everything since the last checkpoint, but nothing on this disk
            // is reported durable again, as after a failed pass.
            error!(%error, "journal checkpoint failed: disk presumed failed");
            self.metrics.flush_failures.inc();
            self.disk_failed = true;
        }
    }

    /// Adds what the journal counted since the last tick to the counters.
    fn export_journal_stats(&mut self) {
        let now = self.disk.journal_stats();
        let seen = std::mem::replace(&mut self.journal_seen, now);
        let m = &self.metrics;
        m.journal_passes
            .inc_by(now.passes.saturating_sub(seen.passes));
        m.journal_bytes
            .inc_by(now.bytes_written.saturating_sub(seen.bytes_written));
        m.journal_records
            .inc_by(now.records.saturating_sub(seen.records));
        m.journal_checkpoints
            .inc_by(now.checkpoints.saturating_sub(seen.checkpoints));
        m.journal_files_trimmed
            .inc_by(now.files_trimmed.saturating_sub(seen.files_trimmed));
    }

    /// One group-commit pass covers every partition on the disk.
    fn maybe_flush(&mut self) {
        if !self.dirty || self.flushing || self.disk_failed {
            return;
        }
        self.dirty = false;
        self.flushing = true;
        let disk = self.disk.clone();
        let done = self.disk_done_tx.clone();
        let delay = self.group_commit_delay;
        tokio::task::spawn_blocking(move || {
            // Appends made while waiting join this pass.
            std::thread::sleep(delay);
            let result = disk.flush_pending().map(|_| ());
            let _ = done.blocking_send(DiskDone::Flushed(result));
        });
    }

    fn on_flushed(&mut self, result: fjord_storage::Result<()>) {
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
