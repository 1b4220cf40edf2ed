//! `terraform-provider-fjord`: the Fjord REST API as Terraform resources.
//!
//! How each resource maps onto the API, what the provider normalises so a
//! plan after an apply is empty, and how waits work: `README.md` beside
//! this crate.

mod client;
mod data_sources;
mod diagnostic;
mod error;
mod plan;
mod provider;
mod resources;
mod schema;
mod timeouts;

pub use client::{Answer, Client, Headers};
pub use error::{Error, Result};
pub use provider::{API_KEY_ENV, ENDPOINT_ENV, FjordProvider, ProviderConfig};
pub use timeouts::parse as parse_duration;
