use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::validate::{self, Check};
use crate::{BrokerStatus, ConfigMap};

/// A release in the vendor's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Release {
    /// Semantic version, e.g. `0.2.0`.
    pub version: String,
    /// `stable`, `rapid` or `preview`.
    pub channel: String,
    pub deprecated: bool,
    pub notes: String,
    pub published_at: DateTime<Utc>,
}

/// A streaming cluster in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cluster {
    pub cluster_id: Uuid,
    pub environment_id: Uuid,
    pub name: String,
    /// Desired release version.
    pub version: String,
    pub broker_count: i32,
    /// Storage per broker, GiB.
    pub storage_gib: i32,
    pub config: ConfigMap,
    pub status: ClusterStatus,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The cluster as its agent last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClusterStatus {
    /// `pending` until the agent reports, then e.g. `creating`, `ready`,
    /// `upgrading`, `degraded`, `failed`.
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers_ready: Option<i32>,
    pub conditions: Vec<Condition>,
    pub metrics: BTreeMap<String, f64>,
    /// Each broker as last reported, by id; empty until an agent reports
    /// brokers.
    #[serde(default)]
    pub brokers: Vec<BrokerStatus>,
    /// Where Kafka clients connect (`host:port[,host:port...]`), once the
    /// agent reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<DateTime<Utc>>,
}

/// A Kubernetes-style condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// e.g. `Ready`, `Stable`.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// Body of `POST /v1/clusters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterCreate {
    pub environment_id: Uuid,
    /// DNS-1123 label, unique in the environment.
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
    )]
    pub name: String,
    /// A version from `GET /v1/releases`.
    #[schema(
        max_length = 64,
        pattern = "^[0-9]{1,9}\\.[0-9]{1,9}\\.[0-9]{1,9}(-[0-9a-z.]+)?$"
    )]
    pub version: String,
    /// 1 to 64.
    #[schema(minimum = 1, maximum = 64)]
    pub broker_count: i32,
    /// Storage per broker, 1 to 65536 GiB.
    #[schema(minimum = 1, maximum = 65536)]
    pub storage_gib: i32,
    #[serde(default)]
    pub config: ConfigMap,
}

impl ClusterCreate {
    pub fn validate(&self) -> Check {
        validate::dns_label("name", &self.name)?;
        validate::version("version", &self.version)?;
        validate::range("broker_count", self.broker_count.into(), 1, 64)?;
        validate::range("storage_gib", self.storage_gib.into(), 1, 65536)?;
        validate::config("config", &self.config)
    }
}

/// Body of `PATCH /v1/clusters/{id}`: the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 64,
        pattern = "^[0-9]{1,9}\\.[0-9]{1,9}\\.[0-9]{1,9}(-[0-9a-z.]+)?$"
    )]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 64)]
    pub broker_count: Option<i32>,
    /// May only grow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65536)]
    pub storage_gib: Option<i32>,
    /// Replaces the whole configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigMap>,
}

impl ClusterUpdate {
    pub fn validate(&self) -> Check {
        if let Some(version) = &self.version {
            validate::version("version", version)?;
        }
        if let Some(count) = self.broker_count {
            validate::range("broker_count", count.into(), 1, 64)?;
        }
        if let Some(storage) = self.storage_gib {
            validate::range("storage_gib", storage.into(), 1, 65536)?;
        }
        if let Some(config) = &self.config {
            validate::config("config", config)?;
        }
        Ok(())
    }
}
