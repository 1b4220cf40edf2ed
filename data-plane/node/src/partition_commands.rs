//! Executing the engine's commands against the log and the transport, in
//! the order emitted (docs/replication.md, "Command ordering").

use fjord_replication::{
    AppendSource, Command, HardState, Message, NodeId, Offset, ReplyOutcome, RequestId,
    log::EpochStart,
};
use fjord_storage::{ByteSize, LeaderEpoch, Timestamp};
use tracing::{debug, info};

use crate::error::{Error, Result};
use crate::partition::{Context, Partition};
use crate::records;
use crate::wire::Envelope;

impl Partition {
    pub(crate) fn execute(
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
                // A configuration entry is on record before it can be durable.
                self.persist_configs(end)?;
                self.append_entries(from, end, &epochs, source, records)?;
                if let AppendSource::Client(request) | AppendSource::Membership(request) = source {
                    let term = epochs.first().map_or(0, |e| e.term.0);
                    self.assigned = Some((request, from.0, end.0, term));
                }
                context.dirty = true;
            }
            Command::TruncateLog { end } => {
                let reached = self.log.truncate_to(fjord_storage::Offset(end.0))?;
                if reached.0 != end.0 {
                    return Err(Error::InvalidBatch(format!(
                        "truncated to {reached}, not {end}"
                    )));
                }
                self.persist_configs(end)?;
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
            Command::SendSnapshot { to, start } => self.send_log_start(context, to, start),
        }
        Ok(())
    }

    /// Brings the membership file in step with the engine's history below
    /// `end` (no work, and no allocation, when nothing changed).
    fn persist_configs(&mut self, end: Offset) -> Result<()> {
        let configs = &self.engine.log().configs;
        let wanted = configs.iter().filter(|c| c.offset < end);
        if wanted.clone().eq(self.persisted_configs.iter()) {
            return Ok(());
        }
        let wanted: Vec<_> = wanted.cloned().collect();
        self.membership.store(&wanted)?;
        self.persisted_configs = wanted;
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
                message: message.into(),
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
