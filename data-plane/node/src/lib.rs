//! Fjord's node layer: runs `fjord-replication` engines for real. One peer
//! transport per node carries every group's messages (coalesced per peer into
//! frames, see [`wire`]); each [`Node`] hosts many replicated partitions, each
//! an `Engine` over a `fjord_storage::Log`, sharing one group-commit pass.
//! The broker drives it through [`Node`]: groups added and removed at
//! runtime, two-stage appends ([`Node::propose`] → [`Proposal`]), a status
//! watch, log access, leadership transfer, membership change, maintenance
//! mode and retention.
//! See `docs/replication.md` ("Peer transport", "Node layer", "Runtime API").

mod address;
mod client;
mod driver;
mod error;
mod groups;
mod hard_state;
mod membership_file;
mod metrics;
mod node;
mod partition;
mod partition_admin;
mod partition_commands;
mod partition_reset;
mod peer_tls;
mod proposal;
mod records;
mod status;
mod transport;
pub mod wire;

pub use address::{InvalidAddress, PeerAddress, Resolver, hosts_file_lookup};
pub use error::{Error, Result};
pub use fjord_replication::MembershipChange;
pub use metrics::NodeMetrics;
pub use node::{GroupSpec, Node, NodeConfig};
pub use peer_tls::PeerTls;
pub use proposal::{Committed, Proposal};
pub use status::{FollowerStatus, PartitionStatus};
pub use wire::{ClusterId, GroupId};
