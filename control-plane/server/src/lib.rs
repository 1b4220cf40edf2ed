//! The Fjord control plane server: the REST API over the Postgres
//! inventory, the OpenAPI document and the web console's assets.
//!
//! [`app`] builds the whole router from an [`AppState`] so tests drive it
//! with `oneshot` and no socket; `main` only parses flags, connects, migrates
//! and serves.

pub mod admin;
mod app;
mod auth;
mod cluster_operation;
pub mod config;
mod console;
mod error;
mod extract;
mod idempotency;
mod intent;
pub mod jobs;
mod mutation;
mod pagination;
mod provisioning;
mod rollout;
mod routes;
mod secret;
mod session;
mod signer;
mod state;

pub use app::{app, openapi};
pub use error::AppError;
pub use intent::watch::IntentWatch;
pub use session::SessionSettings;
pub use signer::IntentSigner;
pub use state::{AgentSettings, AppState};
