use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ConfigMap;
use crate::validate::{self, Check};

/// A topic of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Topic {
    pub topic_id: Uuid,
    pub cluster_id: Uuid,
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: ConfigMap,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /v1/topics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicCreate {
    pub cluster_id: Uuid,
    /// Kafka topic name: 1 to 249 of letters, digits, `.`, `_`, `-`.
    #[schema(min_length = 1, max_length = 249, pattern = "^[a-zA-Z0-9._-]+$")]
    pub name: String,
    /// 1 to 10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub partitions: i32,
    /// 1 to 5, and at most the cluster's broker count.
    #[schema(minimum = 1, maximum = 5)]
    pub replication_factor: i32,
    #[serde(default)]
    pub config: ConfigMap,
}

impl TopicCreate {
    pub fn validate(&self) -> Check {
        validate::topic_name("name", &self.name)?;
        validate::range("partitions", self.partitions.into(), 1, 10000)?;
        validate::range("replication_factor", self.replication_factor.into(), 1, 5)?;
        validate::config("config", &self.config)
    }
}

/// Body of `PATCH /v1/topics/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicUpdate {
    /// May only grow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10000)]
    pub partitions: Option<i32>,
    /// Replaces the whole configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigMap>,
}

impl TopicUpdate {
    pub fn validate(&self) -> Check {
        if let Some(partitions) = self.partitions {
            validate::range("partitions", partitions.into(), 1, 10000)?;
        }
        if let Some(config) = &self.config {
            validate::config("config", config)?;
        }
        Ok(())
    }
}
