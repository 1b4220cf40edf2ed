//! The Fjord agent and operator, as a library the binary and tests share.

pub mod agent;
mod error;
pub mod intent_follower;

pub use error::{Error, Result};
