//! One module per resource; what they share: the steps every REST object
//! takes (`rest`, `crud`), the private state and the cluster wait (used by
//! clusters and rollouts).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fjord_api::Cluster;
use serde::{Deserialize, Serialize};
use tf_provider::DynamicResource;
use tf_provider::value::{StructEmpty, Value};

use crate::client::{Answer, Client};
use crate::error::{Error, Result};
use crate::plan::{Progress, known, wait_until};
use crate::provider::Shared;

mod api_key;
mod cloud_account;
mod cluster;
mod crud;
mod environment;
mod rest;
mod rollout;
mod rollout_state;
mod topic;

use api_key::ApiKeyResource;
use cloud_account::CloudAccountResource;
use cluster::ClusterResource;
use environment::EnvironmentResource;
pub(crate) use environment::connection_name;
use rollout::RolloutResource;
use topic::TopicResource;

/// Every resource, by its name in Terraform (after `fjord_`).
pub(crate) fn all(shared: &Shared) -> HashMap<String, Box<dyn DynamicResource>> {
    let resources: [(&str, Box<dyn DynamicResource>); 6] = [
        ("cloud_account", Box::new(CloudAccountResource::new(shared))),
        ("environment", Box::new(EnvironmentResource::new(shared))),
        ("cluster", Box::new(ClusterResource::new(shared))),
        ("topic", Box::new(TopicResource::new(shared))),
        ("api_key", Box::new(ApiKeyResource::new(shared))),
        ("rollout", Box::new(RolloutResource::new(shared))),
    ];
    resources
        .into_iter()
        .map(|(name, resource)| (name.to_owned(), resource))
        .collect()
}

/// The provider's `provider_meta` (none).
pub(crate) type Meta = Value<StructEmpty>;

/// What the provider keeps next to a resource's state, out of sight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Private {
    /// The `ETag` last read: sent as `If-Match` on updates and deletes, so a
    /// change made since the plan's refresh fails (412) instead of being
    /// overwritten.
    #[serde(default)]
    pub(crate) etag: Option<String>,
    /// Planned with a create and sent with it.
    #[serde(default)]
    pub(crate) idempotency_key: Option<String>,
}

impl Private {
    pub(crate) fn for_create(idempotency_key: String) -> Self {
        Self {
            etag: None,
            idempotency_key: Some(idempotency_key),
        }
    }

    /// `private` with a fresh `ETag` (if the answer carried one).
    pub(crate) fn with_etag(private: Option<Private>, etag: Option<String>) -> Self {
        let mut private = private.unwrap_or_default();
        if etag.is_some() {
            private.etag = etag;
        }
        private
    }
}

/// Whether `cluster` has settled on its spec: the agent reported it
/// `ready`, at the desired version, with every broker ready, after
/// `since` (the write that changed it), so a report from before the
/// change cannot end the wait. `failed` ends it with the conditions.
pub(crate) fn cluster_progress(cluster: &Cluster, since: DateTime<Utc>) -> Result<Progress<()>> {
    let status = &cluster.status;
    let fresh = status.reported_at.is_some_and(|at| at >= since);
    let seen = format!(
        "phase {}, version {}, brokers ready {}/{}",
        status.phase,
        status.observed_version.as_deref().unwrap_or("-"),
        status
            .brokers_ready
            .map_or_else(|| "-".to_owned(), |n| n.to_string()),
        cluster.broker_count
    );
    if !fresh {
        return Ok(Progress::Pending(format!(
            "{seen} (no report since the change)"
        )));
    }
    if status.phase == "failed" {
        let reasons: Vec<String> = status
            .conditions
            .iter()
            .filter(|condition| condition.status != "True")
            .map(|condition| {
                format!(
                    "{}: {} {}",
                    condition.condition_type, condition.reason, condition.message
                )
            })
            .collect();
        return Err(Error::Failed {
            what: format!("cluster {}", cluster.name),
            reason: if reasons.is_empty() {
                seen
            } else {
                reasons.join("; ")
            },
        });
    }
    let settled = status.phase == "ready"
        && status.observed_version.as_deref() == Some(cluster.version.as_str())
        && status
            .brokers_ready
            .is_none_or(|ready| ready == cluster.broker_count);
    Ok(if settled {
        Progress::Done(())
    } else {
        Progress::Pending(seen)
    })
}

/// Waits until the cluster in `state` settles (see [`cluster_progress`]).
async fn wait_for_cluster(
    client: &Client,
    state: &cluster::ClusterState,
    since: DateTime<Utc>,
    timeout: Duration,
) -> Result<Answer<Cluster>> {
    let id = known(&state.id).unwrap_or_default().to_owned();
    let path = format!("/v1/clusters/{id}");
    let what = format!("cluster {} to be ready", known(&state.name).unwrap_or(&id));
    wait_until(&what, timeout, client.poll_interval, || async {
        let answer = client.get::<Cluster>(&path).await?;
        Ok(match cluster_progress(&answer.body, since)? {
            Progress::Done(()) => Progress::Done(answer),
            Progress::Pending(seen) => Progress::Pending(seen),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_api::{ClusterStatus, Condition};

    fn cluster(phase: &str, version: Option<&str>, reported: Option<DateTime<Utc>>) -> Cluster {
        let at = DateTime::<Utc>::from_timestamp(1_000, 0).unwrap_or_default();
        Cluster {
            cluster_id: uuid::Uuid::nil(),
            environment_id: uuid::Uuid::nil(),
            name: "orders".into(),
            version: "0.3.0".into(),
            broker_count: 3,
            storage_gib: 10,
            config: Default::default(),
            status: ClusterStatus {
                phase: phase.into(),
                observed_version: version.map(str::to_owned),
                brokers_ready: Some(3),
                conditions: vec![Condition {
                    condition_type: "Ready".into(),
                    status: "False".into(),
                    reason: "BrokerCrashLoop".into(),
                    message: "broker 2 restarts".into(),
                }],
                metrics: Default::default(),
                brokers: Vec::new(),
                bootstrap_address: None,
                reported_at: reported,
            },
            revision: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_cluster_is_settled_only_when_ready_at_its_version_after_the_change() {
        let change = DateTime::<Utc>::from_timestamp(2_000, 0).unwrap_or_default();
        let before = DateTime::<Utc>::from_timestamp(1_500, 0);
        let after = DateTime::<Utc>::from_timestamp(2_500, 0);
        let stale = cluster("ready", Some("0.3.0"), before);
        assert!(matches!(
            cluster_progress(&stale, change),
            Ok(Progress::Pending(_))
        ));
        let old_version = cluster("ready", Some("0.2.0"), after);
        assert!(matches!(
            cluster_progress(&old_version, change),
            Ok(Progress::Pending(_))
        ));
        let ready = cluster("ready", Some("0.3.0"), after);
        assert!(matches!(
            cluster_progress(&ready, change),
            Ok(Progress::Done(()))
        ));
    }

    #[test]
    fn a_failed_cluster_ends_the_wait_with_its_conditions() {
        let change = DateTime::<Utc>::from_timestamp(2_000, 0).unwrap_or_default();
        let failed = cluster("failed", None, DateTime::<Utc>::from_timestamp(2_500, 0));
        let message = cluster_progress(&failed, change)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("BrokerCrashLoop"), "{message}");
    }
}
