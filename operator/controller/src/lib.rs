//! The Fjord agent and operator, as a library the binary and tests share.
//!
//! - [`agent`]: follows the control plane's signed intents into custom
//!   resources, under the customer's guardrails, and reports back;
//! - [`cluster`]: the StreamCluster controller (rendering, rolls, scaling);
//! - [`runtime`]: `fjord-operator run`: leader election over a Lease, the
//!   registry of controllers that run only on the leader, metrics and health;
//! - [`topic`]: the Topic controller (Kafka topics through the admin API);
//! - [`intent_follower`]: what the agent accepts from the control plane;
//! - [`rack`]: `fjord-operator broker-rack`, the brokers' init container
//!   that writes their rack (their node's topology label).

pub mod agent;
pub mod cluster;
pub mod error;
pub mod intent_follower;
pub mod rack;
pub mod runtime;
pub mod topic;

pub use error::{Error, KafkaError, Result};
