//! `topic`: topics of a cluster.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgExecutor};
use uuid::Uuid;

use crate::cluster::Config;
use crate::scoped::{Lock, Table};
use crate::{PageRequest, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TopicRow {
    pub topic_id: Uuid,
    pub organization_id: Uuid,
    pub cluster_id: Uuid,
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: Json<Config>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "t.topic_id, t.organization_id, t.cluster_id, t.name, t.partitions, \
    t.replication_factor, t.config, t.revision, t.created_at, t.updated_at";

const TABLE: Table = Table {
    columns: COLUMNS,
    from: "topic t",
    organization: "t.organization_id",
    id: "t.topic_id",
};

#[derive(Debug)]
pub struct NewTopic<'a> {
    pub topic_id: Uuid,
    pub organization_id: Uuid,
    pub cluster_id: Uuid,
    pub name: &'a str,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: &'a Config,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewTopic<'_>) -> Result<TopicRow> {
    let sql = format!(
        "insert into topic as t (topic_id, organization_id, cluster_id, name, partitions,
                                 replication_factor, config)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, TopicRow>(AssertSqlSafe(sql))
        .bind(new.topic_id)
        .bind(new.organization_id)
        .bind(new.cluster_id)
        .bind(new.name)
        .bind(new.partitions)
        .bind(new.replication_factor)
        .bind(Json(new.config))
        .fetch_one(db)
        .await?;
    Ok(row)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    cluster_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Vec<TopicRow>> {
    TABLE
        .list(organization_id, page)
        .filter("t.cluster_id =", cluster_id)
        .fetch(db)
        .await
}

/// Every topic of every cluster of an environment (for building intents).
pub async fn list_in_environment(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Vec<TopicRow>> {
    let sql = format!(
        "select {COLUMNS} from topic t join cluster c
             on c.organization_id = t.organization_id and c.cluster_id = t.cluster_id
         where t.organization_id = $1 and c.environment_id = $2 order by t.name"
    );
    let rows = sqlx::query_as::<_, TopicRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(environment_id)
        .fetch_all(db)
        .await?;
    Ok(rows)
}

/// The topic, locked for update when `lock` (inside a transaction).
pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<TopicRow>> {
    TABLE
        .get(db, organization_id, id, Lock::update_if(lock))
        .await
}

pub async fn update(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    partitions: i32,
    config: &Config,
) -> Result<Option<TopicRow>> {
    let sql = format!(
        "update topic t set partitions = $3, config = $4, revision = revision + 1
         where t.organization_id = $1 and t.topic_id = $2 returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, TopicRow>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(id)
        .bind(partitions)
        .bind(Json(config))
        .fetch_optional(db)
        .await?;
    Ok(row)
}

pub async fn delete(db: impl PgExecutor<'_>, organization_id: Uuid, id: Uuid) -> Result<bool> {
    let done = sqlx::query("delete from topic where organization_id = $1 and topic_id = $2")
        .bind(organization_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
