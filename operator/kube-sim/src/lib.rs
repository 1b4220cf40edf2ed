//! An in-memory Kubernetes API server for tests and the local stack (DESIGN.md D7).
//! See this crate's README for what it implements and where it differs from a real
//! `kube-apiserver`.

mod error;
pub mod kubelet;
pub mod statefulset;
pub mod status;

pub use error::{Error, Result};
pub use status::ApiStatus;
