//! One replicated partition: an `Engine` over a `fjord_storage::Log`. Every
//! command is executed in the order emitted (docs/replication.md, "Command
//! ordering"); if the log ever disagrees with the engine, the partition is
//! reloaded from disk as after a crash, which the protocol tolerates.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use fjord_replication::{
    AppendSource, Command, Config, Engine, HardState, Input, LogState, Message, Millis, NodeId,
    Offset, ReplyOutcome, RequestId, Role, log::EpochStart,
};
use fjord_storage::{ByteSize, Disk, Fetched, LeaderEpoch, Log, LogConfig, Timestamp};
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use crate::error::{Error, Result};
use crate::hard_state::HardStateFile;
use crate::metrics::NodeMetrics;
use crate::records;
use crate::transport::Transport;
use crate::wire::{Envelope, GroupId};

/// What a partition needs from its node while it executes commands.
pub(crate) struct Context<'a> {
    pub(crate) now: Millis,
    pub(crate) transport: &'a Transport,
    pub(crate) metrics: &'a NodeMetrics,
    /// Set when an append left data for the next group-commit pass.
    pub(crate) dirty: bool,
}

/// A replica's view of its partition, for clients and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStatus {
    pub is_leader: bool,
    /// The leader this replica follows (itself when it leads).
    pub leader: Option<NodeId>,
    pub term: i32,
    pub high_watermark: i64,
    pub log_end: i64,
}

pub(crate) type Waiter = oneshot::Sender<Result<i64>>;

#[derive(Debug)]
pub(crate) struct Partition {
    group: GroupId,
    config: Config,
    engine: Engine,
    log: Log,
    hard: HardStateFile,
    /// Client bytes waiting for their `AppendEntries` command.
    staged: HashMap<RequestId, Vec<u8>>,
    waiting: HashMap<RequestId, Waiter>,
    next_request: u64,
    max_append_bytes: ByteSize,
    /// Set when the partition could not be restored from disk: it takes no
    /// more input (the disk is presumed failed).
    failed: bool,
}

/// The engine's view of a storage log: offsets and the epoch history.
fn log_state(log: &Log) -> LogState {
    let start = Offset(log.log_start_offset().0);
    let end = Offset(log.log_end_offset().0);
    let history: Vec<EpochStart> = log
        .epoch_history()
        .into_iter()
        .map(|(epoch, start)| EpochStart {
            term: fjord_replication::Term(epoch.0),
            start: Offset(start.0),
        })
        .filter(|e| e.start < end)
        .collect();
    let before = history.iter().rev().find(|e| e.start < start).copied();
    let start_term = before.map_or(fjord_replication::Term::ZERO, |e| e.term);
    let epochs = history
        .into_iter()
        .filter(|e| e.start >= start || Some(*e) == before)
        .collect();
    let durable = Offset(log.durable_offset().0).clamp(start, end);
    LogState {
        epochs,
        start,
        start_term,
        end,
        durable,
        configs: Vec::new(),
    }
}

impl Partition {
    /// Opens (or creates) the partition under `directory` and restores its
    /// engine from the log and the hard state.
    pub(crate) fn open(
        group: GroupId,
        config: Config,
        disk: &Arc<Disk>,
        directory: &Path,
        log_config: LogConfig,
        max_append_bytes: ByteSize,
        now: Millis,
    ) -> Result<Partition> {
        std::fs::create_dir_all(directory)?;
        let log = Log::open(disk, &directory.join("log"), log_config)?;
        let hard = HardStateFile::new(directory);
        let engine = Engine::new(config.clone(), hard.load()?, log_state(&log), now)?;
        info!(%group, end = %engine.log().end, term = %engine.term(), "partition opened");
        Ok(Partition {
            group,
            config,
            engine,
            log,
            hard,
            staged: HashMap::new(),
            waiting: HashMap::new(),
            next_request: 0,
            max_append_bytes,
            failed: false,
        })
    }

    pub(crate) fn is_leader(&self) -> bool {
        !self.failed && self.engine.is_leader()
    }

    pub(crate) fn status(&self) -> PartitionStatus {
        let leader = match self.engine.role() {
            Role::Leader(_) => Some(self.engine.id()),
            Role::Follower { leader } => *leader,
            _ => None,
        };
        PartitionStatus {
            is_leader: self.engine.is_leader(),
            leader,
            term: self.engine.term().0,
            high_watermark: self.engine.high_watermark().0,
            log_end: self.engine.log().end.0,
        }
    }

    /// Reads committed batches (below the high watermark) from `from`, at
    /// most `max_bytes` (capped at 64 MiB) but at least one batch.
    pub(crate) fn read(&self, from: i64, max_bytes: ByteSize) -> Result<Fetched> {
        let max_bytes = max_bytes.min(ByteSize::mib(64));
        let upper = self.log.high_watermark();
        Ok(self
            .log
            .read(fjord_storage::Offset(from), max_bytes, upper)?)
    }

    pub(crate) fn tick(&mut self, context: &mut Context<'_>) {
        if context.now >= self.engine.next_deadline() {
            self.step(context, Input::Tick, &[]);
        }
    }

    /// Reports what the last group-commit pass made durable.
    pub(crate) fn durable(&mut self, context: &mut Context<'_>) {
        let end = Offset(self.log.durable_offset().0);
        if end > self.engine.log().durable {
            self.step(context, Input::Durable { end }, &[]);
        }
    }

    /// A producer batch (acks=all): answered once committed after fsync on a quorum.
    pub(crate) fn append(&mut self, context: &mut Context<'_>, batch: Vec<u8>, reply: Waiter) {
        if self.failed {
            let _ = reply.send(Err(Error::Stopped));
            return;
        }
        let records = match records::offsets_in(&batch) {
            Ok(records) => records,
            Err(reason) => {
                let _ = reply.send(Err(Error::InvalidBatch(reason)));
                return;
            }
        };
        self.next_request += 1;
        let request = RequestId(self.next_request);
        self.staged.insert(request, batch);
        self.waiting.insert(request, reply);
        self.step(context, Input::ClientAppend { request, records }, &[]);
        self.staged.remove(&request); // refused requests never used their bytes
    }

    /// A message from a peer; an append's bytes are checked before the engine sees it.
    pub(crate) fn receive(&mut self, context: &mut Context<'_>, from: NodeId, envelope: Envelope) {
        if let Message::Append {
            from: start,
            end,
            epochs,
            ..
        } = &envelope.message
            && let Err(reason) = records::check_attached(&envelope.records, *start, *end, epochs)
        {
            context.metrics.appends_refused.inc();
            warn!(group = %self.group, peer = %from, %reason, "append refused");
            return;
        }
        if let Some(reason) = self.impossible(&envelope.message) {
            context.metrics.appends_refused.inc();
            warn!(group = %self.group, peer = %from, reason, "impossible message dropped");
            return;
        }
        let input = Input::Message {
            from,
            message: envelope.message,
        };
        self.step(context, input, &envelope.records);
    }

    /// Messages no correct peer sends, which the engine would treat as a
    /// broken invariant: a second leader in our term, or a follower claiming
    /// more of our log than we hold. Peers are trusted not to be Byzantine,
    /// but a bug elsewhere must not stop this node.
    fn impossible(&self, message: &Message) -> Option<&'static str> {
        let ours = message.term() == self.engine.term() && self.engine.is_leader();
        match message {
            Message::Append { .. } if ours => Some("an append from another leader of our term"),
            Message::AppendResponse {
                result: fjord_replication::AppendResult::Accepted { verified, .. },
                ..
            } if ours && *verified > self.engine.log().end => Some("verified beyond our log"),
            // Offset 0 has no predecessor to disagree about.
            Message::AppendResponse {
                result: fjord_replication::AppendResult::Rejected { from, .. },
                ..
            } if *from == Offset::ZERO => Some("a rejection at offset 0"),
            // Terms never go back in a log.
            Message::Append {
                prev_term, epochs, ..
            } if epochs.first().is_some_and(|e| e.term < *prev_term) => {
                Some("entries older than their predecessor")
            }
            _ => None,
        }
    }

    fn step(&mut self, context: &mut Context<'_>, input: Input, records: &[u8]) {
        if self.failed {
            return;
        }
        // The engine asserts its invariants; a peer that breaks the protocol
        // (or a disk that lost fsynced data) can make one fail. That stops
        // this partition's engine only: it is rebuilt from disk, as after a
        // crash, which is what the protocol is designed to survive.
        let now = context.now;
        let engine = &mut self.engine;
        let stepped = std::panic::catch_unwind(AssertUnwindSafe(|| engine.step(now, input)));
        let commands = match stepped {
            Ok(commands) => commands,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                error!(group = %self.group, assertion = %what, "engine assertion failed: reloading");
                context.metrics.partition_reloads.inc();
                self.reload(now);
                return;
            }
        };
        for command in commands {
            if let Err(error) = self.execute(context, command, records) {
                error!(group = %self.group, %error, "partition diverged from its log: reloading");
                context.metrics.partition_reloads.inc();
                self.reload(context.now);
                return;
            }
        }
    }

    /// Restarts the engine from what is on disk, as after a crash.
    fn reload(&mut self, now: Millis) {
        for (_, waiter) in self.waiting.drain() {
            let leader = None;
            let _ = waiter.send(Err(Error::NotLeader {
                group: self.group,
                leader,
            }));
        }
        self.staged.clear();
        let restored = self.hard.load().and_then(|hard| {
            Ok(Engine::new(
                self.config.clone(),
                hard,
                log_state(&self.log),
                now,
            )?)
        });
        match restored {
            Ok(engine) => self.engine = engine,
            Err(error) => {
                error!(group = %self.group, %error, "partition cannot be restored: stopped");
                self.failed = true;
            }
        }
    }

    fn execute(
        &mut self,
        context: &mut Context<'_>,
        command: Command,
        records: &[u8],
    ) -> Result<()> {
        match command {
            Command::PersistHardState { term, voted_for } => {
                self.hard.store(HardState { term, voted_for })?;
                context.metrics.hard_state_writes.inc();
            }
            Command::AppendEntries {
                from,
                end,
                epochs,
                source,
            } => {
                self.append_entries(from, end, &epochs, source, records)?;
                context.dirty = true;
            }
            Command::TruncateLog { end } => {
                let reached = self.log.truncate_to(fjord_storage::Offset(end.0))?;
                if reached.0 != end.0 {
                    return Err(Error::InvalidBatch(format!(
                        "truncated to {reached}, not {end}"
                    )));
                }
            }
            Command::SetHighWatermark { end } => {
                self.log.set_high_watermark(fjord_storage::Offset(end.0));
            }
            Command::Send { to, message } => self.send(context, to, message)?,
            Command::Reply { request, outcome } => {
                match outcome {
                    ReplyOutcome::Committed { .. } => context.metrics.appends_committed.inc(),
                    _ => context.metrics.appends_rejected.inc(),
                };
                self.reply(request, outcome);
            }
            Command::BecomeLeader { term } => {
                info!(group = %self.group, %term, "became leader");
                context.metrics.leader_changes.inc();
            }
            Command::BecomeFollower { term, leader } => {
                info!(group = %self.group, %term, ?leader, "following");
            }
            Command::SendSnapshot { to, start } => {
                warn!(group = %self.group, peer = %to, %start, "snapshots are not supported yet");
            }
        }
        Ok(())
    }

    fn append_entries(
        &mut self,
        from: Offset,
        end: Offset,
        epochs: &[EpochStart],
        source: AppendSource,
        records: &[u8],
    ) -> Result<()> {
        let epoch = LeaderEpoch(epochs.first().map_or(0, |e| e.term.0));
        let info = match source {
            // A configuration entry is a control batch too. The node layer
            // does not propose membership changes yet, nor persist the
            // membership history (docs/replication.md, "Not done yet").
            AppendSource::LeaderChange | AppendSource::Membership(_) => {
                let now = fjord_storage::Clock::now(&fjord_storage::SystemClock);
                let mut batch = records::leader_change_batch(now.max(Timestamp(0)));
                self.log.append(&mut batch, epoch)?
            }
            AppendSource::Client(request) => {
                let mut batch = self
                    .staged
                    .remove(&request)
                    .ok_or_else(|| Error::InvalidBatch(format!("no bytes for {request:?}")))?;
                self.log.append(&mut batch, epoch)?
            }
            AppendSource::Replicated => {
                let headers =
                    fjord_storage::batch::split_batches(records).map_err(Error::InvalidBatch)?;
                let suffix = records::suffix_from(records, &headers, from)
                    .ok_or_else(|| Error::InvalidBatch(format!("no batch starts at {from}")))?;
                self.log.append_replicated(suffix)?
            }
        };
        if info.first_offset.0 != from.0 || info.log_end_offset.0 != end.0 {
            return Err(Error::InvalidBatch(format!(
                "log took [{}, {}) for [{from}, {end})",
                info.first_offset, info.log_end_offset
            )));
        }
        Ok(())
    }

    /// Queues a message; an append gets the bytes of whole batches covering
    /// its range (widened to batch boundaries, capped by `max_append_bytes`).
    fn send(&mut self, context: &mut Context<'_>, to: NodeId, message: Message) -> Result<()> {
        let (message, records) = match message {
            Message::Append {
                term,
                from,
                end,
                commit,
                ..
            } if from < end => {
                let wanted = end;
                let (from, end, records) = self.read_range(from, end)?;
                if end < wanted {
                    // The follower will verify only up to `end`; once its
                    // answer leaves nothing in flight, the engine resends
                    // from there.
                    context.metrics.appends_shortened.inc();
                    debug!(group = %self.group, peer = %to, %from, %end, %wanted, "append shortened");
                }
                let log = self.engine.log();
                let prev_term = log
                    .term_before(from)
                    .ok_or_else(|| Error::InvalidBatch(format!("no term before {from}")))?;
                let epochs = log.epochs_in(from, end);
                let configs = log.configs_in(from, end);
                let message = Message::Append {
                    term,
                    from,
                    prev_term,
                    end,
                    epochs,
                    configs,
                    commit,
                };
                (message, records)
            }
            other => (other, Vec::new()),
        };
        let group = self.group;
        context.transport.send(
            to,
            Envelope {
                group,
                message,
                records,
            },
        );
        Ok(())
    }

    /// Whole batches from the one holding `from`: up to `end` if at least one
    /// batch ends there, else the single batch holding `from`.
    fn read_range(&self, from: Offset, end: Offset) -> Result<(Offset, Offset, Vec<u8>)> {
        let start = fjord_storage::Offset(from.0);
        let mut fetched =
            self.log
                .read(start, self.max_append_bytes, fjord_storage::Offset(end.0))?;
        if fetched.bytes.is_empty() {
            let log_end = self.log.log_end_offset();
            fetched = self.log.read(start, ByteSize(1), log_end)?;
        }
        let headers =
            fjord_storage::batch::split_batches(&fetched.bytes).map_err(Error::InvalidBatch)?;
        let first = headers
            .first()
            .ok_or_else(|| Error::InvalidBatch(format!("nothing to send at {from}")))?;
        let range_start = Offset(first.base_offset.0);
        assert!(
            range_start <= from,
            "a read starts at the batch holding from"
        );
        Ok((range_start, Offset(fetched.next_offset.0), fetched.bytes))
    }

    fn reply(&mut self, request: RequestId, outcome: ReplyOutcome) {
        let Some(waiter) = self.waiting.remove(&request) else {
            return;
        };
        let group = self.group;
        let result = match outcome {
            ReplyOutcome::Committed { first, .. } => Ok(first.0),
            ReplyOutcome::NotLeader { leader } => Err(Error::NotLeader { group, leader }),
            ReplyOutcome::Overloaded => Err(Error::Overloaded(group)),
            ReplyOutcome::Refused(refusal) => Err(Error::MembershipRefused { group, refusal }),
        };
        let _ = waiter.send(result);
    }
}
