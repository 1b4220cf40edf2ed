//! The Fjord agent and operator, as a library the binary and tests share.

pub mod intent_follower;
