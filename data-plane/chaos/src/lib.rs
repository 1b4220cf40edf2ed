//! Chaos testing of real `fjord-broker` processes (docs/replication.md,
//! "Chaos testing").
//!
//! - [`proxy`]: a fault-injecting TCP proxy with one listener per directed
//!   peer link A->B, controlled in-process: cut (refuse), blackhole, delay, heal.
//! - [`cluster`]: starts brokers with the cluster flags, kills, pauses and
//!   restarts them.
//! - [`faults`]: the seeded fault schedule.
//! - [`checker`]: compares the oracle of acknowledged records with what is
//!   read back: lost, duplicated, reordered, moved.
//! - [`run`]: one whole chaos run wiring these together with Python producers.
//! - [`up`]: a local cluster in the foreground (`cargo xtask cluster up`).

pub mod checker;
mod clients;
pub mod cluster;
mod error;
pub mod faults;
mod http;
pub mod proxy;
pub mod run;
pub mod up;

pub use error::{Error, Result};

/// A broker's node id (`--node-id`), as on the command line.
pub type NodeId = u32;
