//! Applies rendered objects: server-side apply with field manager
//! `fjord-agent`, then deletes what the agent created that the intent no
//! longer holds. A resource without the agent's label is never deleted.

use std::collections::BTreeSet;

use fjord_crd::{StreamCluster, Topic};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::config::names;
use super::render::{Desired, Rendered};
use crate::Result;

/// What one apply changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) applied: usize,
    pub(crate) deleted: Vec<String>,
}

/// Applies `rendered` in `namespace`: topics after their clusters, and
/// deletions (topics first) after every apply succeeded.
pub(crate) async fn apply(
    client: &Client,
    namespace: &str,
    rendered: &Rendered,
) -> Result<Applied> {
    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), namespace);
    let topics: Api<Topic> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(names::FIELD_MANAGER).force();
    for desired in &rendered.clusters {
        clusters
            .patch(&desired.name, &params, &Patch::Apply(&desired.body))
            .await?;
    }
    for desired in &rendered.topics {
        topics
            .patch(&desired.name, &params, &Patch::Apply(&desired.body))
            .await?;
    }
    let mut deleted = remove_leftovers(&topics, &rendered.topics).await?;
    deleted.extend(remove_leftovers(&clusters, &rendered.clusters).await?);
    Ok(Applied {
        applied: rendered.clusters.len() + rendered.topics.len(),
        deleted,
    })
}

/// Deletes the agent's resources of one kind that `desired` does not name.
async fn remove_leftovers<K>(api: &Api<K>, desired: &[Desired]) -> Result<Vec<String>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let selector = format!("{}={}", names::MANAGED_BY_LABEL, names::MANAGED_BY_VALUE);
    let managed = api.list(&ListParams::default().labels(&selector)).await?;
    let mut deleted = Vec::new();
    for object in managed {
        let name = object.name_any();
        // The selector chose it; check the label again before deleting
        // anything, as this is the one destructive step.
        let ours = object
            .labels()
            .get(names::MANAGED_BY_LABEL)
            .is_some_and(|value| value == names::MANAGED_BY_VALUE);
        if !ours || wanted.contains(name.as_str()) || object.meta().deletion_timestamp.is_some() {
            continue;
        }
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
        tracing::info!(kind = %K::kind(&K::DynamicType::default()), %name, "deleted what left the intent");
        deleted.push(format!("{}/{name}", K::kind(&K::DynamicType::default())));
    }
    Ok(deleted)
}
