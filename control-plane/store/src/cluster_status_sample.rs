//! `cluster_status_sample`: a bounded history of each cluster's reported
//! status, for charts.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::Result;
use crate::cluster::ReportedStatus;

/// Samples kept per cluster; older ones are deleted as new ones arrive.
pub const SAMPLES_PER_CLUSTER: i64 = 1000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SampleRow {
    pub phase: String,
    pub observed_version: Option<String>,
    pub brokers_ready: Option<i32>,
    pub metrics: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// Records one report of a cluster and drops the samples beyond the newest
/// [`SAMPLES_PER_CLUSTER`]. The caller has checked the cluster is the
/// reporting agent's.
pub async fn insert(
    db: &mut sqlx::PgConnection,
    organization_id: Uuid,
    cluster_id: Uuid,
    status: &ReportedStatus,
) -> Result<()> {
    sqlx::query(
        "insert into cluster_status_sample
             (organization_id, cluster_id, phase, observed_version, brokers_ready, metrics)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(organization_id)
    .bind(cluster_id)
    .bind(&status.phase)
    .bind(&status.observed_version)
    .bind(status.brokers_ready)
    .bind(Json(&status.metrics))
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "delete from cluster_status_sample
         where organization_id = $1 and cluster_id = $2 and cluster_status_sample_id < (
             select cluster_status_sample_id from cluster_status_sample
             where organization_id = $1 and cluster_id = $2
             order by cluster_status_sample_id desc offset $3 - 1 limit 1)",
    )
    .bind(organization_id)
    .bind(cluster_id)
    .bind(SAMPLES_PER_CLUSTER)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// The newest `limit` samples of a cluster, newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    cluster_id: Uuid,
    limit: i64,
) -> Result<Vec<SampleRow>> {
    let rows = sqlx::query_as::<_, SampleRow>(
        "select phase, observed_version, brokers_ready, metrics, created_at
         from cluster_status_sample
         where organization_id = $1 and cluster_id = $2
         order by cluster_status_sample_id desc limit $3",
    )
    .bind(organization_id)
    .bind(cluster_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows)
}
