use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Condition;
use crate::broker::{self, BrokerStatus};
use crate::validate::{self, Check};

/// Body of `POST /v1/agent/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRegistrationRequest {
    /// The one-time token from environment creation.
    pub registration_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
}

/// The agent's long-lived credential: it reads only its own environment,
/// and only by trading it for short-lived access tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentRegistration {
    pub environment_id: Uuid,
    pub organization_id: Uuid,
    pub agent_credential: String,
}

/// A short-lived token for the agent endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Body of `POST /v1/agent/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStatusReport {
    /// The latest generation the agent has applied.
    #[schema(minimum = 0)]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(default)]
    pub clusters: Vec<ClusterStatusReport>,
}

/// One cluster's status as observed in the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterStatusReport {
    pub cluster_id: Uuid,
    /// e.g. `creating`, `ready`, `upgrading`, `degraded`, `failed`.
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers_ready: Option<i32>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Each broker's id, version, state and readiness (at most 256, ids
    /// unique). Agents before this field report none; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brokers: Vec<BrokerStatus>,
    /// Where Kafka clients connect: `host:port[,host:port...]`; absent until
    /// the operator has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000, example = "orders-kafka.fjord.svc:9092")]
    pub bootstrap_address: Option<String>,
}

impl AgentStatusReport {
    pub fn validate(&self) -> Check {
        validate::range("observed_generation", self.observed_generation, 0, i64::MAX)?;
        if self.clusters.len() > 1000 {
            return Err("clusters may hold at most 1000 entries".to_owned());
        }
        for cluster in &self.clusters {
            validate::dns_label("clusters[].phase", &cluster.phase)?;
            if cluster.conditions.len() > 32 || cluster.metrics.len() > 256 {
                return Err("a cluster may report at most 32 conditions and 256 metrics".to_owned());
            }
            for condition in &cluster.conditions {
                validate::text("conditions[].type", &condition.condition_type, 100)?;
                validate::text("conditions[].status", &condition.status, 20)?;
                validate::text("conditions[].reason", &condition.reason, 200)?;
                validate::text("conditions[].message", &condition.message, 2000)?;
            }
            for key in cluster.metrics.keys() {
                validate::text("metrics key", key, 200)?;
            }
            if let Some(version) = &cluster.version {
                validate::text("clusters[].version", version, 100)?;
            }
            if cluster.metrics.values().any(|v| !v.is_finite()) {
                return Err("clusters[].metrics values must be finite numbers".to_owned());
            }
            if let Some(ready) = cluster.brokers_ready {
                validate::range("clusters[].brokers_ready", ready.into(), 0, 100_000)?;
            }
            broker::validate_brokers(&cluster.brokers)?;
            if let Some(address) = &cluster.bootstrap_address {
                validate::bootstrap_address("clusters[].bootstrap_address", address)?;
            }
        }
        Ok(())
    }
}

/// Answer to a status report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentStatusAccepted {
    /// Reported clusters that are not (or no longer) in this environment;
    /// their status was ignored.
    pub unknown_cluster_ids: Vec<Uuid>,
}

/// What the agent did with an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IntentOutcome {
    /// Applied to the cluster's resources.
    Applied,
    /// Refused by a check (see `check`): never applied.
    Refused,
    /// Held back by a customer guardrail (see `check`) until it is lifted.
    Waiting,
}

impl IntentOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Refused => "refused",
            Self::Waiting => "waiting",
        }
    }
}

/// Body of `POST /v1/agent/intent-reports`: one decision of the agent on one
/// generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIntentReport {
    /// The generation decided on; 0 when a body was refused before its
    /// generation could be read.
    #[schema(minimum = 0)]
    pub generation: i64,
    pub outcome: IntentOutcome,
    /// The check that refused it (`signature`, `content-hash`, `replay`,
    /// `foreign-environment`, `format`, `downgrade`, `version-not-allowed`,
    /// `unrepresentable`) or the guardrail it waits for (`paused`,
    /// `maintenance-window`, `approval`, `guardrails-invalid`); absent when
    /// applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// For a person: what failed or what to do.
    #[serde(default)]
    pub message: String,
}

impl AgentIntentReport {
    pub fn validate(&self) -> Check {
        validate::range("generation", self.generation, 0, i64::MAX)?;
        if let Some(check) = &self.check {
            validate::dns_label("check", check)?;
        }
        if self.outcome != IntentOutcome::Applied && self.check.is_none() {
            return Err("check is required when the outcome is refused or waiting".to_owned());
        }
        validate::text("message", &self.message, 2000)
    }
}

/// The agent's latest decision on an intent, as the environment shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentReportRecord {
    pub generation: i64,
    pub outcome: IntentOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(default)]
    pub message: String,
    pub reported_at: DateTime<Utc>,
}

/// One status report of a cluster, kept for charts (newest 1,000 per cluster).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClusterStatusSample {
    pub reported_at: DateTime<Utc>,
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers_ready: Option<i32>,
    pub metrics: BTreeMap<String, f64>,
}

/// Answer of `GET /v1/clusters/{id}/status-history`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClusterStatusHistory {
    pub items: Vec<ClusterStatusSample>,
}
