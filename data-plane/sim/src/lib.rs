//! Seeded deterministic simulation of a cluster of `fjord-replication`
//! engines: message loss, reordering (random latency) and duplication, crashes
//! that lose unflushed entries, and an oracle of acknowledged writes. A run is
//! a function of its seed, so a failing seed reproduces exactly; set
//! `FJORD_SIM_DUMP=1` to print every node's final state.

mod cluster;
mod oracle;
mod rng;

pub use cluster::{Faults, Report, Simulation};
pub use oracle::Oracle;
pub use rng::Rng;
