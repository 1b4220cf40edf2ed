//! Fjord's node layer: runs `fjord-replication` engines for real. One peer
//! transport per node carries every group's messages (coalesced per peer into
//! frames, see [`wire`]); each [`Node`] hosts many replicated partitions, each
//! an `Engine` over a `fjord_storage::Log`, sharing one group-commit pass.
//! See `docs/replication.md` ("Peer transport", "Node layer").

mod driver;
mod error;
mod hard_state;
mod metrics;
mod node;
mod partition;
mod records;
mod transport;
pub mod wire;

pub use error::{Error, Result};
pub use metrics::NodeMetrics;
pub use node::{GroupSpec, Node, NodeConfig};
pub use partition::PartitionStatus;
pub use wire::{ClusterId, GroupId};
