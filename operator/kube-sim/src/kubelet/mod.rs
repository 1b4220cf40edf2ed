//! The process kubelet (see the crate README, "Process kubelet"): runs each
//! Pod's containers as local processes. Pure parts: [`expand`], [`image`],
//! [`address`], [`dns`], [`env`], [`mounts`], [`launch`], [`probe`]'s
//! thresholds, [`backoff`], [`pod_status`]; I/O: the container and Pod
//! workers and the node loop.

pub mod address;
pub mod backoff;
mod config;
mod container;
pub mod dns;
pub mod env;
pub mod expand;
mod handle;
pub mod image;
pub mod launch;
pub mod mounts;
mod node;
pub mod pod_status;
mod pod_worker;
pub mod probe;

pub use crate::error::{Error, Result};
pub use config::KubeletConfig;
pub use handle::KubeletHandle;
pub use node::{run, start};
pub use pod_worker::KILL_ANNOTATION;
