//! The Fjord control plane server: the REST API over the Postgres
//! inventory, the OpenAPI document and the web console's assets.
//!
//! [`app`] builds the whole router from an [`AppState`] so tests drive it
//! with `oneshot` and no socket; `main` only parses flags, connects, migrates
//! and serves.

mod app;
pub mod config;
mod console;
mod error;
mod routes;

pub use app::{AppState, app, openapi};
pub use error::AppError;
