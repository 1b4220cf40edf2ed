//! `cluster`: desired state set by users, status reported by agents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgExecutor};
use uuid::Uuid;

use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

pub type Config = BTreeMap<String, String>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClusterRow {
    pub cluster_id: Uuid,
    pub organization_id: Uuid,
    pub environment_id: Uuid,
    pub name: String,
    pub version: String,
    pub broker_count: i32,
    pub storage_gib: i32,
    pub config: Json<Config>,
    pub phase: String,
    pub observed_version: Option<String>,
    pub brokers_ready: Option<i32>,
    pub conditions: Json<serde_json::Value>,
    pub metrics: Json<serde_json::Value>,
    /// A JSON array of the API's `BrokerStatus`, as last reported.
    pub brokers: Json<serde_json::Value>,
    pub bootstrap_address: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "cluster_id, organization_id, environment_id, name, version, broker_count, \
    storage_gib, config, phase, observed_version, brokers_ready, conditions, metrics, brokers, \
    bootstrap_address, reported_at, revision, created_at, updated_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "cluster",
    organization: "organization_id",
    id: "cluster_id",
};

/// The desired state of a cluster, as users set it.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub version: String,
    pub broker_count: i32,
    pub storage_gib: i32,
    pub config: Config,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    cluster_id: Uuid,
    name: &str,
    spec: &ClusterSpec,
) -> Result<ClusterRow> {
    let sql = format!(
        "insert into cluster (cluster_id, organization_id, environment_id, name, version,
                              broker_count, storage_gib, config)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, ClusterRow>(AssertSqlSafe(sql))
        .bind(cluster_id)
        .bind(organization_id)
        .bind(environment_id)
        .bind(name)
        .bind(&spec.version)
        .bind(spec.broker_count)
        .bind(spec.storage_gib)
        .bind(Json(&spec.config))
        .fetch_one(db)
        .await?;
    Ok(row)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Vec<ClusterRow>> {
    TABLE
        .list(organization_id, page)
        .filter("environment_id =", environment_id)
        .fetch(db)
        .await
}

/// Every cluster of an environment, by name (for building intents).
pub async fn list_in_environment(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Vec<ClusterRow>> {
    let sql = format!(
        "select {COLUMNS} from cluster where organization_id = $1 and environment_id = $2 order by name"
    );
    let rows = sqlx::query_as::<_, ClusterRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .fetch_all(db)
        .await?;
    Ok(rows)
}

/// The cluster, locked for update when `lock` (inside a transaction).
pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<ClusterRow>> {
    TABLE
        .get(db, organization_id, id, Lock::update_if(lock))
        .await
}

pub async fn update_spec(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    spec: &ClusterSpec,
) -> Result<Option<ClusterRow>> {
    let sql = format!(
        "update cluster set version = $3, broker_count = $4, storage_gib = $5, config = $6,
                            revision = revision + 1
         where organization_id = $1 and cluster_id = $2 returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, ClusterRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(id)
        .bind(&spec.version)
        .bind(spec.broker_count)
        .bind(spec.storage_gib)
        .bind(Json(&spec.config))
        .fetch_optional(db)
        .await?;
    Ok(row)
}

pub async fn delete(db: impl PgExecutor<'_>, organization_id: Uuid, id: Uuid) -> Result<bool> {
    let done = sqlx::query("delete from cluster where organization_id = $1 and cluster_id = $2")
        .bind(organization_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A cluster's status as an agent reported it.
#[derive(Debug, Clone)]
pub struct ReportedStatus {
    pub phase: String,
    pub observed_version: Option<String>,
    pub brokers_ready: Option<i32>,
    pub conditions: serde_json::Value,
    pub metrics: serde_json::Value,
    /// A JSON array of the API's `BrokerStatus`; replaces the stored one.
    pub brokers: serde_json::Value,
    pub bootstrap_address: Option<String>,
}

/// Stores a reported status, only for a cluster of that environment.
/// Returns the cluster's phase before this report, or `None` when the
/// cluster does not exist there.
pub async fn report_status(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
    cluster_id: Uuid,
    status: &ReportedStatus,
) -> Result<Option<String>> {
    // The phase before this report, read under the update's row lock.
    let previous: Option<(String,)> = sqlx::query_as(
        "update cluster c set phase = $4, observed_version = $5, brokers_ready = $6,
                              conditions = $7, metrics = $8, brokers = $9,
                              bootstrap_address = $10, reported_at = now()
         from (select cluster_id, phase from cluster
               where organization_id = $1 and environment_id = $2 and cluster_id = $3
               for update) before
         where c.cluster_id = before.cluster_id
         returning before.phase",
    )
    .bind(organization_id)
    .bind(environment_id)
    .bind(cluster_id)
    .bind(&status.phase)
    .bind(&status.observed_version)
    .bind(status.brokers_ready)
    .bind(Json(&status.conditions))
    .bind(Json(&status.metrics))
    .bind(Json(&status.brokers))
    .bind(&status.bootstrap_address)
    .fetch_optional(db)
    .await?;
    Ok(previous.map(|(phase,)| phase))
}
