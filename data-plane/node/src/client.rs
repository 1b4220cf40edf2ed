//! The `Node` API for the broker: appends (two-stage `propose`, or `append`
//! waiting for the commit), reads, status and its watch, log access, groups
//! at runtime, leadership transfer, membership change, maintenance mode and
//! log settings. Every call runs on the driver thread, in the order the
//! calls were made.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use fjord_replication::{MembershipChange, NodeId};
use fjord_storage::{ByteSize, Fetched, Log, LogConfig};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{oneshot, watch};

use crate::driver::{Request, task};
use crate::error::{Error, Result};
use crate::node::{GroupSpec, Node};
use crate::partition::{Context, Partition};
use crate::proposal::Proposal;
use crate::status::PartitionStatus;
use crate::wire::GroupId;

/// Wraps `f` as a partition task answering on `reply`.
fn partition_task<T, F>(group: GroupId, reply: oneshot::Sender<Result<T>>, f: F) -> Request
where
    T: Send + 'static,
    F: FnOnce(&mut Partition, &mut Context<'_>) -> Result<T> + Send + 'static,
{
    let task = task(move |found| {
        let result = match found {
            Some((partition, context)) => f(partition, context),
            None => Err(Error::UnknownGroup(group)),
        };
        let _ = reply.send(result);
    });
    Request::Partition { group, task }
}

impl Node {
    async fn request<T>(&self, request: Request, reply: oneshot::Receiver<T>) -> Result<T> {
        self.requests
            .send(request)
            .await
            .map_err(|_| Error::Stopped)?;
        reply.await.map_err(|_| Error::Stopped)
    }

    /// Runs `f` on the group's partition on the driver thread.
    async fn on_partition<T, F>(&self, group: GroupId, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Partition, &mut Context<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, receiver) = oneshot::channel();
        self.request(partition_task(group, reply, f), receiver)
            .await?
    }

    /// Appends producer batches as the leader (first stage of acks=all).
    ///
    /// The request is queued when `propose` is *called*, not when the future
    /// is first polled, so proposals made one after another by one caller
    /// are appended in call order even if their futures are awaited later
    /// or together. The future resolves as soon as the leader's engine
    /// appended the batch and assigned its offsets (before any fsync or
    /// replication) with a [`Proposal`] whose `committed` future resolves
    /// once the batch is committed; or at once with an error: `NotLeader {
    /// leader }` (naming the leader this replica follows, if known),
    /// `Overloaded` (too many appends wait for commit in the group, or the
    /// node's request queue is full: retry), `InvalidBatch`, `UnknownGroup`.
    pub fn propose(
        &self,
        group: GroupId,
        batch: Vec<u8>,
    ) -> impl Future<Output = Result<Proposal>> + Send + 'static {
        self.propose_checked(group, batch, None)
    }

    /// [`Self::propose`], refused with `NotLeader` unless this replica
    /// still leads `term` when the request is handled: for a caller whose
    /// decision to append was made against that term's state (the leader's
    /// idempotent-producer check).
    pub fn propose_in_term(
        &self,
        group: GroupId,
        term: i32,
        batch: Vec<u8>,
    ) -> impl Future<Output = Result<Proposal>> + Send + 'static {
        self.propose_checked(group, batch, Some(term))
    }

    fn propose_checked(
        &self,
        group: GroupId,
        batch: Vec<u8>,
        in_term: Option<i32>,
    ) -> impl Future<Output = Result<Proposal>> + Send + 'static {
        let (reply, receiver) = oneshot::channel();
        let request = partition_task(group, reply, move |p, c| p.propose(c, batch, in_term));
        let queued = match self.requests.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Error::Overloaded(group)),
            Err(TrySendError::Closed(_)) => Err(Error::Stopped),
        };
        async move {
            queued?;
            receiver.await.map_err(|_| Error::Stopped)?
        }
    }

    /// Appends producer batches (acks=all): `propose`, then wait for the
    /// commit. Returns the first offset once a quorum holds them durably.
    pub async fn append(&self, group: GroupId, batch: Vec<u8>) -> Result<i64> {
        self.propose(group, batch).await?.committed.await
    }

    /// Committed batches from `from`, below the high watermark.
    pub async fn read(&self, group: GroupId, from: i64, max_bytes: ByteSize) -> Result<Fetched> {
        self.on_partition(group, move |p, _| p.read(from, max_bytes))
            .await
    }

    /// The group's current status (follower ages fresh as of this call).
    pub async fn status(&self, group: GroupId) -> Result<PartitionStatus> {
        self.on_partition(group, |p, c| Ok(p.status(c.now))).await
    }

    /// The status of every hosted group, by group id.
    pub async fn statuses(&self) -> Result<Vec<(GroupId, PartitionStatus)>> {
        let (reply, receiver) = oneshot::channel();
        self.request(Request::Statuses { reply }, receiver).await
    }

    /// A watch of the group's status, published by the driver whenever its
    /// role, leader, term, high watermark, log start, log end or voters
    /// change (see [`PartitionStatus`]). The receiver sees `changed()` end
    /// with an error once the group is removed or the node stops.
    pub async fn watch(&self, group: GroupId) -> Result<watch::Receiver<PartitionStatus>> {
        self.on_partition(group, |p, _| Ok(p.status_tx.subscribe()))
            .await
    }

    /// Runs `f` on the group's log on the driver thread, for short
    /// read-only work: `Log::offset_for_time` (ListOffsets by time),
    /// `Log::epoch_end_offset` and `epoch_history` (OffsetForLeaderEpoch;
    /// the log's epoch cache is the one the engine is restored from),
    /// scanning batch headers with `Log::read`. Every partition of the node
    /// waits while `f` runs: keep it to milliseconds. A panic in `f` is
    /// caught and returned as `CallbackPanicked`.
    pub async fn with_log<R, F>(&self, group: GroupId, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Log) -> R + Send + 'static,
    {
        self.on_partition(group, move |p, _| {
            let log = &p.log;
            std::panic::catch_unwind(AssertUnwindSafe(|| f(log)))
                .map_err(|_| Error::CallbackPanicked)
        })
        .await
    }

    /// Opens (or creates) the group under the data directory with `log` as
    /// its settings and starts replicating it. `Ok` without change if the
    /// group is already hosted. The node does not remember runtime groups
    /// across restarts: the caller adds them again after `start`.
    pub async fn add_group(&self, spec: GroupSpec, log: LogConfig) -> Result<()> {
        let (reply, receiver) = oneshot::channel();
        self.request(Request::AddGroup { spec, log, reply }, receiver)
            .await?
    }

    /// Stops replicating the group: its pending proposals fail with
    /// `GroupRemoved`, its log is closed (synced) and, with `delete_data`,
    /// its directory is deleted. Messages for it are dropped from then on.
    pub async fn remove_group(&self, group: GroupId, delete_data: bool) -> Result<()> {
        let (reply, receiver) = oneshot::channel();
        let request = Request::RemoveGroup {
            group,
            delete_data,
            reply,
        };
        self.request(request, receiver).await?
    }

    /// Asks the leader to hand leadership to `to`: `Ok` once the engine
    /// started the transfer (it brings `to` up to date, then tells it to
    /// campaign; new appends are refused `NotLeader` meanwhile, and the
    /// transfer is abandoned after an election timeout). Watch the status to
    /// see it complete. `NotLeader` on a follower; `Refused` if `to` is not
    /// a voter. `Ok` at once if `to` is this node and it leads.
    pub async fn transfer_leadership(&self, group: GroupId, to: NodeId) -> Result<()> {
        self.on_partition(group, move |p, c| p.transfer_leadership(c, to))
            .await
    }

    /// Proposes adding or removing one voter (on the leader). Resolves when
    /// the engine appended the configuration entry (in effect at once) with
    /// a [`Proposal`] whose `committed` resolves once it commits; or with
    /// `MembershipRefused` (one change at a time, the leader has not yet
    /// committed in its term, already / not a voter, last voter, transfer in
    /// progress), `NotLeader`, or `InvalidConfig` for a node with no peer
    /// address.
    pub async fn change_membership(
        &self,
        group: GroupId,
        change: MembershipChange,
    ) -> Result<Proposal> {
        let peers_known = match change {
            MembershipChange::AddVoter(id) => Some(id),
            MembershipChange::RemoveVoter(_) => None,
        };
        self.on_partition(group, move |p, c| {
            if let Some(id) = peers_known
                && !c.transport.knows(id)
                && id != p.engine.id()
            {
                let why = format!("node {id} has no peer address");
                return Err(Error::InvalidConfig(why));
            }
            p.change_membership(c, change)
        })
        .await
    }

    /// Maintenance mode: while `false`, no group on this node starts an
    /// election (no pre-vote when its timer fires, no election on a
    /// transfer's `TimeoutNow`). It still votes and follows, and keeps
    /// leading where it leads (transfer those away). Liveness only: a group
    /// whose other voters are all down or unelectable has no leader until
    /// this is set back to `true`. Applies to groups added later as well.
    pub async fn set_electable(&self, electable: bool) -> Result<()> {
        let (reply, receiver) = oneshot::channel();
        self.request(Request::SetElectable { electable, reply }, receiver)
            .await
    }

    /// Replaces the group's log settings (segment size and age, retention)
    /// and applies retention at once. Retention never deletes at or above
    /// the high watermark; the engine is told the new log start.
    pub async fn configure(&self, group: GroupId, log: LogConfig) -> Result<()> {
        self.on_partition(group, move |p, c| p.configure(c, log))
            .await
    }
}
