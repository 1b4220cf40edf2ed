//! A partition replica backed by its Raft group on this node's
//! `fjord_node::Node`. Offsets are the Raft log's, the high watermark is
//! the Raft commit point, the leader epoch is the Raft term.
//!
//! Produce on the leader: under the replica's lock, the idempotent-producer
//! check, the proposal (offsets assigned by the leader's engine, in call
//! order) and the producer-state update are one step, as on a single
//! broker. `acks=all` waits until the high watermark passes the batch while
//! this replica is still the leader of the term it was proposed in: a
//! leader never truncates its own log within its term, so that means the
//! batch is committed (on a quorum, after fsync). If leadership moves
//! first, the wait fails and the client retries at the new leader, whose
//! producer state, rebuilt from its log when it took over, recognises the
//! batch if it survived.
//!
//! Methods block (they are called on blocking threads) on the node's async
//! API through the runtime handle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fjord_node::{GroupId, Node, PartitionStatus};
use fjord_storage::{AppendInfo, ByteSize, LeaderEpoch, Offset, Timestamp};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

use crate::partition::{AppendOutcome, PartitionOffsets, PartitionReplica, ReplicaError};
use crate::producer::{Check, ProducerBatch, ProducerStates, Refusals, SequenceError};
use crate::topic_config::PartitionSettings;

/// Proposals remembered for `acks=all` waits.
const PROPOSALS_KEPT: usize = 4096;

#[derive(Debug)]
pub struct ReplicatedReplica {
    node: Arc<Node>,
    group: GroupId,
    runtime: Handle,
    status: watch::Receiver<PartitionStatus>,
    leader: Mutex<LeaderState>,
    appended: Arc<Notify>,
    message_bytes_max: AtomicUsize,
}

/// What only the leader uses.
#[derive(Debug, Default)]
struct LeaderState {
    /// The term `producers` was rebuilt for; `None` until first needed.
    term: Option<i32>,
    producers: ProducerStates,
    /// Batch end offset -> the term it was proposed in.
    proposed: BTreeMap<i64, i32>,
    /// Batches refused retriably before they were appended; kept across
    /// terms.
    refusals: Refusals,
}

impl ReplicatedReplica {
    /// Wraps the group `group`, already hosted by `node`.
    pub async fn new(
        node: Arc<Node>,
        group: GroupId,
        settings: &PartitionSettings,
    ) -> Result<Self, ReplicaError> {
        let status = node.watch(group).await.map_err(node_error)?;
        let appended = Arc::new(Notify::new());
        let runtime = Handle::current();
        // Long-polling fetches wake when the high watermark moves.
        let mut watcher = status.clone();
        let wake = Arc::clone(&appended);
        runtime.spawn(async move {
            while watcher.changed().await.is_ok() {
                wake.notify_waiters();
            }
        });
        Ok(Self {
            node,
            group,
            runtime,
            status,
            leader: Mutex::new(LeaderState::default()),
            appended,
            message_bytes_max: AtomicUsize::new(settings.message_bytes_max),
        })
    }

    /// Waits for `future` from synchronous code: on a blocking thread, or
    /// on a worker of the multi-threaded runtime (the group coordinator
    /// appends under its lock there), which `block_in_place` hands its
    /// other tasks away from first.
    fn wait<F: std::future::Future>(&self, future: F) -> F::Output {
        block_on(&self.runtime, future)
    }

    pub fn group(&self) -> GroupId {
        self.group
    }

    /// The group's latest status.
    pub fn status(&self) -> PartitionStatus {
        self.current()
    }

    fn current(&self) -> PartitionStatus {
        self.status.borrow().clone()
    }

    fn not_leader(&self, status: &PartitionStatus) -> ReplicaError {
        ReplicaError::NotLeader {
            leader: status.leader.map(|id| id.0),
        }
    }

    /// Producer state for `term`, rebuilt from the log the first time this
    /// replica leads in `term`.
    fn producers_for(&self, state: &mut LeaderState, term: i32) -> Result<(), ReplicaError> {
        if state.term == Some(term) {
            return Ok(());
        }
        let rebuilt = self
            .wait(self.node.with_log(self.group, crate::partition::replay_log))
            .map_err(node_error)??;
        tracing::info!(group = %self.group, term, producers = rebuilt.len(), "producer state rebuilt for a new term");
        state.producers = rebuilt;
        state.proposed.clear();
        state.term = Some(term);
        Ok(())
    }
}

/// [`Handle::block_on`] that is also safe on a multi-threaded runtime's
/// worker thread.
pub(crate) fn block_on<F: std::future::Future>(runtime: &Handle, future: F) -> F::Output {
    let on_worker = Handle::try_current().is_ok_and(|current| {
        current.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    });
    if on_worker {
        tokio::task::block_in_place(|| runtime.block_on(future))
    } else {
        runtime.block_on(future)
    }
}

/// The replica boundary's reading of a node error: what the client is to do.
fn node_error(error: fjord_node::Error) -> ReplicaError {
    match error {
        fjord_node::Error::Overloaded(_) => ReplicaError::Overloaded,
        fjord_node::Error::NotLeader { leader, .. } => ReplicaError::NotLeader {
            leader: leader.map(|id| id.0),
        },
        // The replica is going away here (the broker stops, or the
        // partition moved off it): the client looks the leader up again.
        fjord_node::Error::Stopped
        | fjord_node::Error::GroupRemoved(_)
        | fjord_node::Error::UnknownGroup(_) => ReplicaError::NotLeader { leader: None },
        other => ReplicaError::Storage(other.to_string()),
    }
}

impl ReplicatedReplica {
    fn append_checked(&self, batches: &mut [u8]) -> Result<AppendOutcome, ReplicaError> {
        let producer = crate::partition::producer_batch(batches)?;
        let limit = self.message_bytes_max.load(Ordering::Relaxed);
        if batches.len() > limit {
            return Err(ReplicaError::MessageTooLarge {
                bytes: batches.len(),
                limit,
            });
        }
        let mut state = self.leader.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = self.append_locked(&mut state, producer.as_ref(), batches);
        if let Some(producer) = &producer {
            match &outcome {
                // Not appended, and the client will send it again.
                Err(
                    ReplicaError::NotLeader { .. }
                    | ReplicaError::Overloaded
                    | ReplicaError::Storage(_),
                ) => {
                    state.refusals.refused(producer);
                }
                Ok(_) => state.refusals.accepted(producer),
                Err(_) => {}
            }
        }
        outcome
    }

    /// The check, proposal and producer-state update of one append, under
    /// the leader lock.
    fn append_locked(
        &self,
        state: &mut LeaderState,
        producer: Option<&ProducerBatch>,
        batches: &[u8],
    ) -> Result<AppendOutcome, ReplicaError> {
        let status = self.current();
        if !status.is_leader {
            return Err(self.not_leader(&status));
        }
        self.producers_for(state, status.term)?;
        let checked = producer.map(|producer| state.producers.check(producer));
        if let (Some(producer), Some(Err(SequenceError::OutOfOrder { expected, got, .. }))) =
            (producer, &checked)
            && state.refusals.gap_is_ours(producer, *expected, *got)
        {
            return Err(self.not_leader(&status));
        }
        if let Some(Check::Duplicate(original)) = checked.transpose()? {
            let end = original.last_offset + 1;
            state.proposed.entry(end).or_insert(status.term);
            return Ok(AppendOutcome {
                info: AppendInfo {
                    first_offset: Offset(original.base_offset),
                    last_offset: Offset(original.last_offset),
                    log_end_offset: Offset(end),
                },
                duplicate: true,
            });
        }
        // Only in the term the producer state was checked for: between the
        // check and the proposal this replica may have lost the leadership
        // and won it back, and the leader in between may have appended this
        // very batch (the client's retry); appending it now would store it
        // twice. Refused, the client retries and the rebuilt state sees it.
        let proposal = self
            .wait(
                self.node
                    .propose_in_term(self.group, status.term, batches.to_vec()),
            )
            .map_err(node_error)?;
        debug_assert_eq!(
            proposal.term, status.term,
            "a proposal is made in the checked term only"
        );
        if proposal.term != status.term {
            state.term = None; // rebuilt at the next append, whatever happened
        }
        if let Some(producer) = producer {
            state.producers.record(producer, proposal.base_offset);
        }
        state.proposed.insert(proposal.end_offset, proposal.term);
        while state.proposed.len() > PROPOSALS_KEPT {
            state.proposed.pop_first();
        }
        Ok(AppendOutcome {
            info: AppendInfo {
                first_offset: Offset(proposal.base_offset),
                last_offset: Offset(proposal.end_offset - 1),
                log_end_offset: Offset(proposal.end_offset),
            },
            duplicate: false,
        })
    }
}

impl PartitionReplica for ReplicatedReplica {
    fn serves(&self) -> Result<(), ReplicaError> {
        let status = self.current();
        if status.is_leader {
            Ok(())
        } else {
            Err(self.not_leader(&status))
        }
    }

    fn append(&self, batches: &mut [u8]) -> Result<AppendOutcome, ReplicaError> {
        let outcome = self.append_checked(batches);
        // Idempotent producers react to these answers (a sequence error can
        // make librdkafka bump its epoch and resend): keep each in the log.
        match &outcome {
            Err(
                error @ (ReplicaError::Sequence(_)
                | ReplicaError::Overloaded
                | ReplicaError::Storage(_)),
            ) => {
                let producer = crate::partition::producer_batch(batches).ok().flatten();
                tracing::info!(
                    group = %self.group,
                    %error,
                    producer = ?producer.map(|p| (p.producer_id, p.epoch, p.base_sequence)),
                    "produce refused"
                );
            }
            Ok(outcome) if outcome.duplicate => tracing::debug!(
                group = %self.group,
                offset = outcome.info.first_offset.0,
                "retried batch recognised"
            ),
            _ => {}
        }
        outcome
    }

    fn read(
        &self,
        start: Offset,
        max_bytes: u64,
        out: &mut Vec<u8>,
    ) -> Result<Offset, ReplicaError> {
        let status = self.current();
        if !status.is_leader {
            return Err(self.not_leader(&status));
        }
        let fetched = self
            .wait(self.node.read(self.group, start.0, ByteSize(max_bytes)))
            .map_err(|error| match error {
                fjord_node::Error::Storage(fjord_storage::Error::OffsetOutOfRange {
                    offset,
                    ..
                }) => ReplicaError::OffsetOutOfRange { offset: offset.0 },
                other => node_error(other),
            })?;
        out.extend_from_slice(&fetched.bytes);
        Ok(fetched.next_offset)
    }

    fn offsets(&self) -> PartitionOffsets {
        let status = self.current();
        PartitionOffsets {
            log_start: Offset(status.log_start),
            high_watermark: Offset(status.high_watermark),
            log_end: Offset(status.log_end),
        }
    }

    fn wait_durable(&self, offset: Offset, timeout: Duration) -> bool {
        let term = {
            let state = self.leader.lock().unwrap_or_else(PoisonError::into_inner);
            state.proposed.get(&offset.0).copied()
        };
        let Some(term) = term else {
            return false;
        };
        let deadline = Instant::now() + timeout;
        let mut status = self.status.clone();
        self.wait(async move {
            loop {
                {
                    let now = status.borrow_and_update();
                    if !now.is_leader || now.term != term {
                        return false;
                    }
                    if now.high_watermark >= offset.0 {
                        return true;
                    }
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                match tokio::time::timeout(left, status.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => return false,
                }
            }
        })
    }

    fn batch_for_time(
        &self,
        target: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<Option<Offset>, ReplicaError> {
        let high_watermark = Offset(self.current().high_watermark);
        let found = self
            .wait(self.node.with_log(self.group, move |log| {
                let Some(offset) = log.offset_for_time(target)? else {
                    return Ok(None);
                };
                if offset >= high_watermark {
                    return Ok(None);
                }
                let mut bytes = Vec::new();
                log.read_into(offset, ByteSize(1), high_watermark, &mut bytes)?;
                Ok(Some((offset, bytes)))
            }))
            .map_err(node_error)?
            .map_err(|error: fjord_storage::Error| ReplicaError::Storage(error.to_string()))?;
        Ok(found.map(|(offset, bytes)| {
            out.extend_from_slice(&bytes);
            offset
        }))
    }

    fn leader_epoch(&self) -> LeaderEpoch {
        LeaderEpoch(self.current().term)
    }

    fn epoch_end_offset(&self, epoch: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
        let status = self.current();
        if epoch.0 > status.term {
            return None;
        }
        self.wait(self.node.with_log(self.group, move |log| {
            let end = log.epoch_end_offset(epoch).unwrap_or(log.log_end_offset());
            (epoch, end)
        }))
        .ok()
    }

    fn appended(&self) -> &Notify {
        &self.appended
    }

    fn configure(&self, settings: &PartitionSettings) -> Result<(), ReplicaError> {
        self.message_bytes_max
            .store(settings.message_bytes_max, Ordering::Relaxed);
        self.wait(self.node.configure(self.group, settings.log.clone()))
            .map_err(node_error)
    }

    fn maintain(&self) -> Result<(), ReplicaError> {
        // The node applies retention below the high watermark itself.
        Ok(())
    }

    fn flush(&self) -> Result<(), ReplicaError> {
        // Every acknowledged batch is already fsynced on a quorum.
        Ok(())
    }
}

/// A partition of which this broker holds no replica: every request is
/// answered NOT_LEADER_OR_FOLLOWER, naming the leader if known.
#[derive(Debug)]
pub struct Unhosted {
    pub leader: Option<u32>,
    notify: Notify,
}

impl Unhosted {
    pub fn new(leader: Option<u32>) -> Self {
        Self {
            leader,
            notify: Notify::new(),
        }
    }

    fn refuse<T>(&self) -> Result<T, ReplicaError> {
        Err(ReplicaError::NotLeader {
            leader: self.leader,
        })
    }
}

impl PartitionReplica for Unhosted {
    fn serves(&self) -> Result<(), ReplicaError> {
        self.refuse()
    }
    fn append(&self, _: &mut [u8]) -> Result<AppendOutcome, ReplicaError> {
        self.refuse()
    }
    fn read(&self, _: Offset, _: u64, _: &mut Vec<u8>) -> Result<Offset, ReplicaError> {
        self.refuse()
    }
    fn offsets(&self) -> PartitionOffsets {
        PartitionOffsets {
            log_start: Offset(0),
            high_watermark: Offset(0),
            log_end: Offset(0),
        }
    }
    fn wait_durable(&self, _: Offset, _: Duration) -> bool {
        false
    }
    fn batch_for_time(
        &self,
        _: Timestamp,
        _: &mut Vec<u8>,
    ) -> Result<Option<Offset>, ReplicaError> {
        self.refuse()
    }
    fn leader_epoch(&self) -> LeaderEpoch {
        LeaderEpoch(-1)
    }
    fn epoch_end_offset(&self, _: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
        None
    }
    fn appended(&self) -> &Notify {
        &self.notify
    }
    fn configure(&self, _: &PartitionSettings) -> Result<(), ReplicaError> {
        Ok(())
    }
    fn maintain(&self) -> Result<(), ReplicaError> {
        Ok(())
    }
    fn flush(&self) -> Result<(), ReplicaError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
