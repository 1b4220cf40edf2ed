//! Cloud provisioning on AWS (docs/provisioning.md): access to a customer's
//! account through a cross-account role with an external id, the preflight
//! checklist, and idempotent, resumable provisioning and teardown of an
//! environment's network, every resource found again by its tags.
//!
//! The control plane drives these as jobs; this crate holds no state of its
//! own between calls and never stores credentials.

pub mod access;
pub mod cidr;
mod ec2;
pub mod error;
pub mod network;
pub mod preflight;
pub mod provision;
pub mod retry;
pub mod teardown;

pub use access::{Access, CloudConfig, RoleTarget, TrustEmulation};
pub use error::{AwsError, Error, ErrorClass, Result};
pub use network::{
    Network, NetworkSpec, Ownership, Resource, Step, StepReport, SubnetResource, VpcSpec,
};
pub use preflight::{Check, CheckStatus, preflight};
pub use provision::{Provisioner, provision};
pub use teardown::{TeardownReport, teardown};

/// Re-exported so callers can build credentials and clients without naming
/// the SDK crates themselves.
pub use aws_sdk_ec2;
