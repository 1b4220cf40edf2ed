use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::validate::{self, Check};

/// A customer Kubernetes cluster, in a cloud account and region, run by one
/// agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    pub environment_id: Uuid,
    pub cloud_account_id: Uuid,
    pub name: String,
    pub region: String,
    pub connection: EnvironmentConnection,
    /// Latest intent generation, 0 before the first.
    pub generation: i64,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether the environment's agent is talking to the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionState {
    /// No agent has registered yet.
    Pending,
    /// The agent reported recently.
    Connected,
    /// The agent registered but has not reported for a while.
    Disconnected,
}

/// What the control plane knows of an environment's agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentConnection {
    pub state: ConnectionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// The latest intent generation the agent has applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The agent's latest decision on an intent: applied, refused (and by
    /// which check) or waiting (and for which guardrail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_intent_report: Option<crate::IntentReportRecord>,
}

/// Body of `POST /v1/environments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentCreate {
    /// DNS-1123 label, unique in the organization.
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
    )]
    pub name: String,
    pub cloud_account_id: Uuid,
    /// e.g. `eu-west-1`.
    #[schema(max_length = 32, pattern = "^[a-z0-9]+(-[a-z0-9]+)+-[0-9]+$")]
    pub region: String,
}

impl EnvironmentCreate {
    pub fn validate(&self) -> Check {
        validate::dns_label("name", &self.name)?;
        validate::region("region", &self.region)
    }
}

/// Body of `PATCH /v1/environments/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentUpdate {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
    )]
    pub name: String,
}

impl EnvironmentUpdate {
    pub fn validate(&self) -> Check {
        validate::dns_label("name", &self.name)
    }
}

/// A new environment with the one-time token its agent registers with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentCreated {
    pub environment: Environment,
    /// Give to the operator's install; usable once, shown once.
    pub registration_token: String,
}

/// A fresh one-time registration token (the previous one stops working).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationToken {
    pub registration_token: String,
}
