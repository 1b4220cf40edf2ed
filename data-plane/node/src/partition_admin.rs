//! Client and administrative requests on one partition: two-stage appends
//! (`propose`), membership change, leadership transfer, maintenance mode,
//! log settings and retention, and removal.

use fjord_replication::{Input, MembershipChange, NodeId, Offset, RequestId};
use fjord_storage::LogConfig;
use tokio::sync::oneshot;
use tracing::info;

use crate::error::{Error, Result};
use crate::partition::{Context, Partition};
use crate::proposal::{Committed, Proposal};
use crate::records;

impl Partition {
    /// A producer batch: the engine appends it (offsets assigned) or refuses
    /// it at once; the proposal's `committed` resolves after the commit.
    ///
    /// With `in_term`, only if this replica still leads that term: a caller
    /// that checked something against the leader's state of one term (the
    /// idempotent producer's sequence check) must not have the batch
    /// appended in a later term, whose log may hold what it checked for.
    pub(crate) fn propose(
        &mut self,
        context: &mut Context<'_>,
        batch: Vec<u8>,
        in_term: Option<i32>,
    ) -> Result<Proposal> {
        if self.failed {
            return Err(Error::Stopped);
        }
        if let Some(term) = in_term
            && (!self.engine.is_leader() || self.engine.term().0 != term)
        {
            let leader = self.status(context.now).leader;
            return Err(Error::NotLeader {
                group: self.group,
                leader,
            });
        }
        let records = records::offsets_in(&batch).map_err(Error::InvalidBatch)?;
        let request = self.next_request_id();
        self.staged.insert(request, batch);
        let proposal = self.submit(context, request, Input::ClientAppend { request, records });
        self.staged.remove(&request); // refused requests never used their bytes
        proposal
    }

    /// Proposes adding or removing one voter; like `propose`, answered once
    /// the configuration entry is appended (or refused).
    pub(crate) fn change_membership(
        &mut self,
        context: &mut Context<'_>,
        change: MembershipChange,
    ) -> Result<Proposal> {
        if self.failed {
            return Err(Error::Stopped);
        }
        let request = self.next_request_id();
        self.submit(
            context,
            request,
            Input::ChangeMembership { request, change },
        )
    }

    fn next_request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// Steps `input` with a waiter registered for `request`; the engine
    /// either appended (`assigned` is set by the `AppendEntries` command)
    /// or replied at once (refusal, `NotLeader`, `Overloaded`).
    fn submit(
        &mut self,
        context: &mut Context<'_>,
        request: RequestId,
        input: Input,
    ) -> Result<Proposal> {
        let (waiter, mut receiver) = oneshot::channel();
        self.waiting.insert(request, waiter);
        self.assigned = None;
        self.step(context, input, &[]);
        let assigned = self.assigned.take().filter(|a| a.0 == request);
        let answered = receiver.try_recv();
        let (base_offset, end_offset, term) = match (assigned, answered) {
            (_, Ok(Err(error))) => return Err(error),
            (Some((_, base, end, term)), Ok(Ok(committed))) => {
                // Committed within the same step: hand over a resolved future.
                let (done, resolved) = oneshot::channel();
                let _ = done.send(Ok(committed));
                receiver = resolved;
                (base, end, term)
            }
            (Some((_, base, end, term)), Err(oneshot::error::TryRecvError::Empty)) => {
                (base, end, term)
            }
            // Nothing appended and no answer: the partition was reloaded or
            // failed while stepping (its waiters were answered `NotLeader`).
            _ => {
                self.waiting.remove(&request);
                let leader = None;
                return Err(Error::NotLeader {
                    group: self.group,
                    leader,
                });
            }
        };
        assert!(base_offset < end_offset, "a proposal covers offsets");
        Ok(Proposal {
            base_offset,
            end_offset,
            term,
            committed: Committed::new(receiver),
        })
    }

    /// Starts a leadership transfer to `to` (the engine aborts it after an
    /// election timeout if `to` does not take over).
    pub(crate) fn transfer_leadership(
        &mut self,
        context: &mut Context<'_>,
        to: NodeId,
    ) -> Result<()> {
        let group = self.group;
        if self.failed {
            return Err(Error::Stopped);
        }
        if !self.engine.is_leader() {
            let leader = self.status(context.now).leader;
            return Err(Error::NotLeader { group, leader });
        }
        if to == self.engine.id() {
            return Ok(()); // already there
        }
        if !self.engine.voters().contains(&to) {
            let reason = format!("node {to} is not a voter");
            return Err(Error::Refused { group, reason });
        }
        self.step(context, Input::TransferLeadership { to }, &[]);
        Ok(())
    }

    pub(crate) fn set_electable(&mut self, electable: bool) {
        self.electable = electable;
        self.engine.set_electable(electable);
    }

    /// New log settings (segment size, retention), applied from now on.
    pub(crate) fn configure(&mut self, context: &mut Context<'_>, config: LogConfig) -> Result<()> {
        self.log.set_config(config)?;
        self.apply_retention(context)
    }

    /// Deletes the segments retention allows, never at or above the high
    /// watermark the engine knows (the storage's may be newer after a
    /// restart, from its checkpoint), and tells the engine the new start.
    pub(crate) fn apply_retention(&mut self, context: &mut Context<'_>) -> Result<()> {
        if self.failed {
            return Ok(());
        }
        let committed = self.engine.high_watermark();
        self.log
            .set_high_watermark(fjord_storage::Offset(committed.0));
        self.log.enforce_retention()?;
        let start = Offset(self.log.log_start_offset().0);
        assert!(start <= committed.max(self.engine.log().start));
        if start > self.engine.log().start {
            info!(group = %self.group, %start, "retention advanced the log start");
            self.step(context, Input::LogStartAdvanced { start }, &[]);
        }
        Ok(())
    }

    /// Fails every waiting request (the group is being removed) and closes
    /// the log; the caller deletes the files if asked.
    pub(crate) fn close(mut self) -> Result<std::path::PathBuf> {
        let group = self.group;
        for (_, waiter) in self.waiting.drain() {
            let _ = waiter.send(Err(Error::GroupRemoved(group)));
        }
        let directory = self.directory.clone();
        self.log.close()?;
        Ok(directory)
    }
}
