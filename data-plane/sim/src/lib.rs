//! Seeded deterministic simulation of a cluster of `fjord-replication`
//! engines: message loss, reordering (random latency) and duplication, one-way
//! and two-way partitions, crashes that lose or tear unflushed entries, clocks
//! that run at different rates and jump, leadership transfers at random, and
//! one checker per Raft invariant. A run is a function of its seed, so a
//! failing seed reproduces exactly; set `FJORD_SIM_DUMP=1` to print every
//! node's final state.

mod checkers;
mod clock;
mod cluster;
mod disk;
mod faults;
mod membership;
mod rng;
mod scripted;

pub use checkers::{Invariant, Violation};
pub use cluster::{Report, Simulation};
pub use faults::Faults;
pub use rng::Rng;
