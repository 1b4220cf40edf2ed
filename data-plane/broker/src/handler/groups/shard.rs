//! One group-log partition's coordinator: the sans-IO [`Coordinator`] for
//! the groups that hash to it, the replies it owes, the log its records go
//! to, and whether this broker coordinates those groups now ([`Role`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fjord_storage::Offset;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;

use super::log::append_records;
use crate::group::{Coordinator, Effect, GroupConfig, JoinReply, Millis, RequestToken, SyncReply};
use crate::partition::{PartitionReplica, ReplicaError};

/// How long OffsetCommit and DeleteGroups wait for their records to commit.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// Whether this broker coordinates a group-log partition's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Another broker leads the partition (or none does): NOT_COORDINATOR.
    Standby,
    /// This broker leads it but has not rebuilt the groups from the log
    /// yet: COORDINATOR_LOAD_IN_PROGRESS.
    Loading,
    /// Rebuilt from the committed log; requests are served.
    Serving,
}

pub(super) enum Waiting {
    Join(oneshot::Sender<JoinReply>),
    Sync(oneshot::Sender<SyncReply>),
}

pub(super) struct Runtime {
    pub(super) coordinator: Coordinator,
    next_token: u64,
    waiting: HashMap<RequestToken, Waiting>,
    log: Arc<dyn PartitionReplica>,
    role: Role,
    /// Bumped at every change of role: a wait begun under one activation
    /// can tell that the coordinator moved meanwhile.
    activation: u64,
}

impl Runtime {
    pub(super) fn register(&mut self, waiting: Waiting) -> RequestToken {
        self.next_token += 1;
        let token = RequestToken(self.next_token);
        self.waiting.insert(token, waiting);
        token
    }

    /// Answers every JoinGroup and SyncGroup still waiting with `error`:
    /// the state they waited on is gone (the coordinator moved).
    fn answer_waiting(&mut self, error: ResponseError) {
        for (_, waiting) in self.waiting.drain() {
            match waiting {
                Waiting::Join(sender) => {
                    let _ = sender.send(JoinReply {
                        error: Some(error),
                        ..JoinReply::default()
                    });
                }
                Waiting::Sync(sender) => {
                    let _ = sender.send(SyncReply {
                        error: Some(error),
                        ..SyncReply::default()
                    });
                }
            }
        }
    }
}

/// What became of the records a coordinator call asked to persist.
pub(super) enum Persisted {
    Nothing,
    /// Appended; committed once the log's durable offset reaches `end`.
    Appended {
        end: Offset,
        log: Arc<dyn PartitionReplica>,
        shard: Arc<Shard>,
        activation: u64,
    },
    /// The append failed; the retriable code to answer.
    Failed(ResponseError),
}

/// One group-log partition's coordinator on this broker.
pub(super) struct Shard {
    pub(super) index: u32,
    runtime: Mutex<Runtime>,
}

impl Shard {
    pub(super) fn new(index: u32, log: Arc<dyn PartitionReplica>, role: Role) -> Self {
        Self {
            index,
            runtime: Mutex::new(Runtime {
                coordinator: Coordinator::new(GroupConfig::default()),
                next_token: 0,
                waiting: HashMap::new(),
                log,
                role,
                activation: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `call` on the coordinator if this broker serves the partition,
    /// appends the records it asks to persist (a page-cache write under the
    /// lock, so the log keeps the coordinator's order) and delivers its
    /// replies. Otherwise the retriable code a client expects.
    pub(super) fn call<T>(
        self: &Arc<Self>,
        now: Millis,
        call: impl FnOnce(&mut Runtime, Millis) -> (T, Vec<Effect>),
    ) -> Result<(T, Persisted), ResponseError> {
        let mut runtime = self.lock();
        match runtime.role {
            Role::Standby => return Err(ResponseError::NotCoordinator),
            Role::Loading => return Err(ResponseError::CoordinatorLoadInProgress),
            Role::Serving => {}
        }
        // Leadership may have moved since the last look of the group-log
        // loop: the log knows at once.
        if runtime.log.serves().is_err() {
            return Err(ResponseError::NotCoordinator);
        }
        let (value, effects) = call(&mut runtime, now);
        let persisted = self.deliver(&mut runtime, effects);
        Ok((value, persisted))
    }

    fn deliver(self: &Arc<Self>, runtime: &mut Runtime, effects: Vec<Effect>) -> Persisted {
        let mut records = Vec::new();
        for effect in effects {
            match effect {
                Effect::Join(token, reply) => {
                    if let Some(Waiting::Join(sender)) = runtime.waiting.remove(&token) {
                        let _ = sender.send(reply);
                    }
                }
                Effect::Sync(token, reply) => {
                    if let Some(Waiting::Sync(sender)) = runtime.waiting.remove(&token) {
                        let _ = sender.send(reply);
                    }
                }
                Effect::Persist(record) => records.push(record),
            }
        }
        if records.is_empty() {
            return Persisted::Nothing;
        }
        match append_records(&*runtime.log, &records) {
            Ok(end) => Persisted::Appended {
                end,
                log: Arc::clone(&runtime.log),
                shard: Arc::clone(self),
                activation: runtime.activation,
            },
            Err(ReplicaError::NotLeader { .. }) => Persisted::Failed(ResponseError::NotCoordinator),
            Err(error) => {
                tracing::error!(partition = self.index, %error, "cannot append to the group log");
                Persisted::Failed(ResponseError::CoordinatorNotAvailable)
            }
        }
    }

    /// Session and rebalance timeouts, when serving.
    pub(super) fn tick(self: &Arc<Self>, now: Millis) {
        let _ = self.call(now, |runtime, now| ((), runtime.coordinator.tick(now)));
    }

    /// This broker leads the partition and is waiting for its log to
    /// commit: clients are told to retry here soon.
    pub(super) fn load(&self) {
        let mut runtime = self.lock();
        if runtime.role != Role::Loading {
            runtime.answer_waiting(ResponseError::NotCoordinator);
            runtime.role = Role::Loading;
            runtime.activation += 1;
        }
    }

    /// Serves the groups rebuilt in `coordinator` from `log`. Requests that
    /// waited on an earlier state are answered NOT_COORDINATOR (their
    /// clients find the coordinator again and rejoin).
    pub(super) fn activate(&self, coordinator: Coordinator, log: Arc<dyn PartitionReplica>) {
        let mut runtime = self.lock();
        runtime.answer_waiting(ResponseError::NotCoordinator);
        runtime.coordinator = coordinator;
        runtime.log = log;
        runtime.role = Role::Serving;
        runtime.activation += 1;
    }

    /// Leadership moved away: the in-memory groups are dropped (the new
    /// leader rebuilds them from the log) and waiting requests answered.
    pub(super) fn deactivate(&self, log: Arc<dyn PartitionReplica>) {
        let mut runtime = self.lock();
        runtime.answer_waiting(ResponseError::NotCoordinator);
        runtime.coordinator = Coordinator::new(GroupConfig::default());
        runtime.log = log;
        runtime.role = Role::Standby;
        runtime.activation += 1;
    }

    pub(super) fn serving(&self) -> bool {
        self.lock().role == Role::Serving
    }

    fn serving_since(&self, activation: u64) -> bool {
        let runtime = self.lock();
        runtime.role == Role::Serving
            && runtime.activation == activation
            && runtime.log.serves().is_ok()
    }
}

impl Persisted {
    /// Waits until the records are committed; the retriable code to answer
    /// if they are not: NOT_COORDINATOR when this broker stopped
    /// coordinating meanwhile, COORDINATOR_NOT_AVAILABLE on a timeout.
    pub(super) async fn durable(self) -> Result<(), ResponseError> {
        match self {
            Persisted::Nothing => Ok(()),
            Persisted::Failed(error) => Err(error),
            Persisted::Appended {
                end,
                log,
                shard,
                activation,
            } => {
                let committed =
                    tokio::task::spawn_blocking(move || log.wait_durable(end, DURABLE_WAIT))
                        .await
                        .unwrap_or(false);
                if committed {
                    Ok(())
                } else if shard.serving_since(activation) {
                    Err(ResponseError::CoordinatorNotAvailable)
                } else {
                    Err(ResponseError::NotCoordinator)
                }
            }
        }
    }
}
