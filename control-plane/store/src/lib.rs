//! The control plane's inventory in Postgres.
//!
//! Migrations live in `migrations/` at the top of the repository and are
//! embedded into the binary; [`migrate`] applies the ones not yet applied,
//! under sqlx's advisory lock so that replicas starting together apply each
//! migration once.

mod error;

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
