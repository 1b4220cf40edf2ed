//! The answer to `Node::propose`: where the batch landed, and a future that
//! resolves once it is committed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// A batch the leader's engine accepted and assigned offsets to, not yet
/// committed. Offsets are half-open: `[base_offset, end_offset)`.
#[derive(Debug)]
pub struct Proposal {
    pub base_offset: i64,
    pub end_offset: i64,
    /// The leader term (Kafka leader epoch) the batch was appended in.
    pub term: i32,
    /// Resolves to `Ok(base_offset)` once a quorum holds the batch durably
    /// (the high watermark passed it), or to an error once it can no longer
    /// be acknowledged here: `NotLeader` (leadership lost, the write may
    /// still commit under the next leader), `GroupRemoved` or `Stopped`.
    /// It never resolves `Ok` for a batch that is not committed.
    pub committed: Committed,
}

/// The commit of one proposal (see [`Proposal::committed`]).
#[derive(Debug)]
pub struct Committed {
    receiver: oneshot::Receiver<Result<i64>>,
}

impl Committed {
    pub(crate) fn new(receiver: oneshot::Receiver<Result<i64>>) -> Committed {
        Committed { receiver }
    }
}

impl Future for Committed {
    type Output = Result<i64>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Result<i64>> {
        // The sender is dropped only when the driver stopped.
        Pin::new(&mut self.receiver)
            .poll(context)
            .map(|received| received.unwrap_or(Err(Error::Stopped)))
    }
}
