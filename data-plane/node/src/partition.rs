//! One replicated partition: an `Engine` over a `fjord_storage::Log`. Every
//! command is executed in the order emitted (docs/replication.md, "Command
//! ordering"); if the log ever disagrees with the engine, the partition is
//! reloaded from disk as after a crash, which the protocol tolerates.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fjord_replication::{
    Config, ConfigEntry, Engine, Input, LogState, Message, Millis, NodeId, Offset, RequestId,
    log::EpochStart,
};
use fjord_storage::{ByteSize, Disk, Fetched, Log, LogConfig};
use tokio::sync::{oneshot, watch};
use tracing::{error, info, warn};

use crate::error::{Error, Result};
use crate::hard_state::HardStateFile;
use crate::membership_file::{self, MembershipFile};
use crate::metrics::NodeMetrics;
use crate::records;
use crate::status::PartitionStatus;
use crate::transport::Transport;
use crate::wire::{Envelope, GroupId, PeerMessage};

/// What a partition needs from its node while it executes commands.
pub(crate) struct Context<'a> {
    pub(crate) now: Millis,
    pub(crate) transport: &'a Transport,
    pub(crate) metrics: &'a NodeMetrics,
    /// Set when an append left data for the next group-commit pass.
    pub(crate) dirty: bool,
}

pub(crate) type Waiter = oneshot::Sender<Result<i64>>;

/// The partition log's directory inside its group's directory.
pub(crate) const LOG_DIR: &str = "log";

#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) group: GroupId,
    pub(crate) config: Config,
    pub(crate) engine: Engine,
    pub(crate) log: Log,
    pub(crate) hard: HardStateFile,
    pub(crate) membership: MembershipFile,
    /// What `membership` holds (the engine's history as of the log's end).
    pub(crate) persisted_configs: Vec<ConfigEntry>,
    /// The group's directory (hard state and `log/`).
    pub(crate) directory: PathBuf,
    /// Client bytes waiting for their `AppendEntries` command.
    pub(crate) staged: HashMap<RequestId, Vec<u8>>,
    pub(crate) waiting: HashMap<RequestId, Waiter>,
    /// The offsets and term the last client or membership append took
    /// (request, first, end, term), for `propose`.
    pub(crate) assigned: Option<(RequestId, i64, i64, i32)>,
    pub(crate) next_request: u64,
    pub(crate) max_append_bytes: ByteSize,
    /// Maintenance mode, kept here so a reloaded engine keeps it.
    pub(crate) electable: bool,
    pub(crate) status_tx: watch::Sender<PartitionStatus>,
    /// Set when the partition could not be restored from disk: it takes no
    /// more input (the disk is presumed failed).
    pub(crate) failed: bool,
}

/// The engine's view of a storage log: offsets, the epoch history, and the
/// membership history kept beside it.
pub(crate) fn log_state(log: &Log, configs: &[ConfigEntry]) -> LogState {
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
        configs: membership_file::restore(configs, start, end),
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
        let log = Log::open(disk, &directory.join(LOG_DIR), log_config)?;
        let hard = HardStateFile::new(directory);
        let membership = MembershipFile::new(directory);
        let stored = membership.load()?;
        let state = log_state(&log, &stored);
        if state.configs != stored {
            membership.store(&state.configs)?; // forget entries lost with the log's tail
        }
        let persisted_configs = state.configs.clone();
        let engine = Engine::new(config.clone(), hard.load()?, state, now)?;
        info!(%group, end = %engine.log().end, term = %engine.term(), "partition opened");
        let (status_tx, _) = watch::channel(PartitionStatus {
            is_leader: false,
            leader: None,
            term: -1, // differs from any real status, so the first publish sends
            high_watermark: 0,
            log_start: 0,
            log_end: 0,
            voters: Vec::new(),
            followers: Vec::new(),
        });
        let partition = Partition {
            group,
            config,
            engine,
            log,
            hard,
            membership,
            persisted_configs,
            directory: directory.to_owned(),
            staged: HashMap::new(),
            waiting: HashMap::new(),
            assigned: None,
            next_request: 0,
            max_append_bytes,
            electable: true,
            status_tx,
            failed: false,
        };
        partition.publish_status(now);
        Ok(partition)
    }

    pub(crate) fn is_leader(&self) -> bool {
        !self.failed && self.engine.is_leader()
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

    /// A message from a peer; an append's bytes are checked before the engine sees it.
    pub(crate) fn receive(&mut self, context: &mut Context<'_>, from: NodeId, envelope: Envelope) {
        let message = match envelope.message {
            PeerMessage::Raft(message) => message,
            PeerMessage::LogStart(notice) => {
                self.receive_log_start(context, from, notice);
                self.publish_status(context.now);
                return;
            }
        };
        if let Message::Append {
            from: start,
            end,
            epochs,
            ..
        } = &message
            && let Err(reason) = records::check_attached(&envelope.records, *start, *end, epochs)
        {
            context.metrics.appends_refused.inc();
            warn!(group = %self.group, peer = %from, %reason, "append refused");
            return;
        }
        if let Some(reason) = self.impossible(&message) {
            context.metrics.appends_refused.inc();
            warn!(group = %self.group, peer = %from, reason, "impossible message dropped");
            return;
        }
        let input = Input::Message { from, message };
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

    pub(crate) fn step(&mut self, context: &mut Context<'_>, input: Input, records: &[u8]) {
        self.step_and_execute(context, input, records);
        self.publish_status(context.now);
    }

    fn step_and_execute(&mut self, context: &mut Context<'_>, input: Input, records: &[u8]) {
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
    pub(crate) fn reload(&mut self, now: Millis) {
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
                log_state(&self.log, &self.persisted_configs),
                now,
            )?)
        });
        match restored {
            Ok(mut engine) => {
                engine.set_electable(self.electable);
                self.engine = engine;
            }
            Err(error) => {
                error!(group = %self.group, %error, "partition cannot be restored: stopped");
                self.failed = true;
            }
        }
    }
}
