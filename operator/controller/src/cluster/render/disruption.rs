//! The brokers' PodDisruptionBudget: voluntary disruptions (node drains)
//! take at most one broker at a time, the rule the roll keeps too.

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::json;

use super::Desired;
use crate::{Error, Result};

/// The PodDisruptionBudget `NAME` (`maxUnavailable: 1`).
pub fn pod_disruption_budget(desired: &Desired) -> Result<PodDisruptionBudget> {
    let value = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": desired.metadata(desired.name.clone()),
        "spec": {
            "maxUnavailable": 1,
            "selector": { "matchLabels": desired.selector() },
        },
    });
    serde_json::from_value(value).map_err(|source| Error::Render {
        kind: "PodDisruptionBudget",
        cluster: desired.name.clone(),
        source,
    })
}
