//! The Fjord agent and operator, as a library the binary and tests share.

pub mod cluster;
mod error;
pub mod intent_follower;

pub use error::{Error, Result};
