//! The control plane's inventory in Postgres.
//!
//! Migrations live in `migrations/` at the top of the repository and are
//! embedded into the binary; [`migrate`] applies the ones not yet applied,
//! under sqlx's advisory lock so that replicas starting together apply each
//! migration once.
//!
//! One module per table. Every function takes `impl PgExecutor<'_>` so a
//! pool or a transaction fits, and every function that reads or changes a
//! tenant's rows takes the `organization_id` and filters by it: there is no
//! way to reach another organization's row through this crate.

pub mod agent_token;
pub mod api_key;
pub mod audit;
pub mod cloud_account;
pub mod cluster;
pub mod cluster_status_sample;
pub mod environment;
mod error;
pub mod idempotency;
pub mod intent;
pub mod job;
pub mod organization;
pub mod provisioning;
pub mod release;
pub mod rollout;
mod scoped;
pub mod session;
pub mod topic;
pub mod user;

// Queries are runtime-checked. Dynamic SQL strings in this crate are built
// only from constant column lists and constant clauses, never from input;
// every value is a bind parameter (hence `AssertSqlSafe`). The reads every
// tenant table shares (one row by id, a keyset-paged list) are written once,
// in `scoped`.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

pub use error::{Error, Result};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Connects a pool to `database_url`.
pub async fn connect(database_url: &str, connections_max: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(connections_max)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await
        .map_err(Error::Connect)
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    tracing::info!(
        migrations = MIGRATOR.iter().count(),
        "database schema is up to date"
    );
    Ok(())
}

/// Cheap liveness query used by readiness checks.
pub async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("select 1").execute(pool).await?;
    Ok(())
}

/// Where a list page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Return rows whose id is greater than this one (ids are UUIDv7, so
    /// this is creation order).
    pub after: Option<uuid::Uuid>,
    /// How many rows to return at most.
    pub limit: i64,
}
