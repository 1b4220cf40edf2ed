use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::validate::{self, Check};

/// Moves a set of clusters to one version, wave after wave, with at most
/// `max_in_flight` clusters changing at once. A failed cluster halts the
/// rollout; `pause` and `resume` stop and continue it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rollout {
    pub rollout_id: Uuid,
    pub target_version: String,
    pub max_in_flight: i32,
    /// `running`, `paused`, `halted` or `succeeded`.
    pub state: String,
    /// Why the rollout halted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted_reason: Option<String>,
    /// The operation driving the rollout (`GET /v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<Uuid>,
    /// Every cluster, by wave.
    pub clusters: Vec<RolloutClusterProgress>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One cluster's place and progress in a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutClusterProgress {
    pub cluster_id: Uuid,
    /// 0 is the first (canary) wave.
    pub wave: i32,
    /// `pending`, `in-progress`, `succeeded` or `failed`.
    pub state: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Body of `POST /v1/rollouts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutCreate {
    /// A version from the release catalog.
    #[schema(
        max_length = 64,
        pattern = "^[0-9]{1,9}\\.[0-9]{1,9}\\.[0-9]{1,9}(-[0-9a-z.]+)?$"
    )]
    pub target_version: String,
    /// Cluster ids per wave, canaries first: 1 to 20 waves, each cluster once.
    #[schema(min_items = 1, max_items = 20)]
    pub waves: Vec<Vec<Uuid>>,
    /// 1 to 100 clusters changing at once.
    #[schema(minimum = 1, maximum = 100)]
    pub max_in_flight: i32,
}

impl RolloutCreate {
    pub fn validate(&self) -> Check {
        validate::version("target_version", &self.target_version)?;
        validate::range("max_in_flight", self.max_in_flight.into(), 1, 100)?;
        let waves = i64::try_from(self.waves.len()).unwrap_or(i64::MAX);
        validate::range("number of waves", waves, 1, 20)?;
        let mut seen = BTreeSet::new();
        for (index, wave) in self.waves.iter().enumerate() {
            if wave.is_empty() {
                return Err(format!("waves[{index}] is empty"));
            }
            for cluster in wave {
                if !seen.insert(*cluster) {
                    return Err(format!(
                        "cluster {cluster} appears in more than one place in waves"
                    ));
                }
            }
        }
        if seen.len() > 1000 {
            return Err("a rollout may hold at most 1000 clusters".to_owned());
        }
        Ok(())
    }
}

/// Long-running work and how it is going.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Operation {
    pub operation_id: Uuid,
    /// e.g. `rollout.drive`.
    pub kind: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    pub attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// What the operation works on, e.g. `{"rollout_id": ...}`.
    #[schema(value_type = Object)]
    pub target: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
