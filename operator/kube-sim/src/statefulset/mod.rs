//! The StatefulSet controller of the simulator (see the crate README,
//! "StatefulSet controller"): pure planning ([`plan`], [`status`],
//! [`revision`], [`pod`]) and the controller that runs it over the API.

mod controller;
pub mod plan;
#[cfg(test)]
mod plan_test;
pub mod pod;
#[cfg(test)]
mod pod_test;
pub mod revision;
pub mod status;

pub use crate::error::{Error, Result};
pub use controller::run;
