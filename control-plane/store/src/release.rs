//! `release`: the vendor's catalog, shared by every organization.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};

use crate::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    pub version: String,
    pub channel: String,
    pub deprecated: bool,
    pub notes: String,
    pub published_at: DateTime<Utc>,
}

const COLUMNS: &str = "version, channel, deprecated, notes, published_at";

pub async fn list(db: impl PgExecutor<'_>, channel: Option<&str>) -> Result<Vec<ReleaseRow>> {
    let sql = format!(
        "select {COLUMNS} from release where ($1::text is null or channel = $1)
         order by published_at, version"
    );
    let rows = sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(sql))
        .bind(channel)
        .fetch_all(db)
        .await?;
    Ok(rows)
}

pub async fn get(db: impl PgExecutor<'_>, version: &str) -> Result<Option<ReleaseRow>> {
    let sql = format!("select {COLUMNS} from release where version = $1");
    let row = sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(sql))
        .bind(version)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

/// Adds a release to the catalog (vendor only: the admin command).
pub async fn insert(
    db: impl PgExecutor<'_>,
    version: &str,
    channel: &str,
    notes: &str,
) -> Result<ReleaseRow> {
    let sql = format!(
        "insert into release (version, channel, notes) values ($1, $2, $3) returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(sql))
        .bind(version)
        .bind(channel)
        .bind(notes)
        .fetch_one(db)
        .await?;
    Ok(row)
}
