//! The StatefulSet controller: a `kube::runtime::Controller` over
//! StatefulSets that owns their Pods. Each reconcile reads the set's
//! revisions and Pods through the API, runs one sync of [`plan`], and
//! writes the status computed by [`next_status`]. It uses nothing but the
//! Kubernetes API, so it runs against this crate's API server or a real one.
//!
//! Revisions are `ControllerRevision` objects named `<set>-<hash>` (owned by
//! the set, `revision` numbered from 1), as in Kubernetes, so a restarted
//! controller finds the current revision's template again. Old revisions
//! beyond `revisionHistoryLimit` (default 10) that no Pod uses are deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::plan::{Action, PodState, plan};
use super::pod::{new_claims, new_pod, owner_reference, pod_name, pod_state, set_state};
use super::revision::{template_of, update_revision};
use super::status::next_status;
use crate::error::{Error, Result};

/// Label of a ControllerRevision carrying its hash (Kubernetes' name).
const REVISION_HASH_LABEL: &str = "controller.kubernetes.io/hash";
/// How often a set is looked at again without any change.
const RESYNC: Duration = Duration::from_secs(30);

struct Context {
    client: Client,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Runs the StatefulSet controller until the watch streams end (they do
/// not, unless the API goes away for good): the library form of
/// `fjord-kube-sim statefulset-controller`.
pub async fn run(client: Client) {
    let sets = Api::<StatefulSet>::all(client.clone());
    let pods = Api::<Pod>::all(client.clone());
    Controller::new(sets, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "statefulset reconcile did not complete");
            }
        })
        .await;
}

fn error_policy(set: Arc<StatefulSet>, error: &Error, _: Arc<Context>) -> Requeue {
    tracing::warn!(statefulset = %set.name_any(), %error, "statefulset sync failed; retrying");
    Requeue::requeue(Duration::from_secs(1))
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

fn owned_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|owner| owner.uid == uid && owner.controller == Some(true))
}

fn selector_of(set: &StatefulSet) -> String {
    set.spec
        .as_ref()
        .and_then(|spec| spec.selector.match_labels.as_ref())
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The set's revisions, oldest first, creating the update revision if new.
/// Returns them with the update revision's name.
async fn sync_revisions(
    set: &StatefulSet,
    api: &Api<ControllerRevision>,
) -> Result<(Vec<ControllerRevision>, String)> {
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let selector = selector_of(set);
    let mut revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter(|revision| owned_by(&revision.metadata, &uid))
        .collect();
    revisions.sort_by_key(|revision| revision.revision);
    let (name, data) = update_revision(set)?;
    if let Some(existing) = revisions
        .iter()
        .find(|revision| revision.metadata.name.as_deref() == Some(name.as_str()))
    {
        return same_data(existing, &data, &name).map(|()| (revisions, name));
    }
    let mut labels: BTreeMap<String, String> = set
        .spec
        .as_ref()
        .and_then(|spec| spec.selector.match_labels.clone())
        .unwrap_or_default();
    let hash = name.rsplit('-').next().unwrap_or_default().to_owned();
    labels.insert(REVISION_HASH_LABEL.into(), hash);
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner_reference(set)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: revisions.last().map_or(1, |last| last.revision + 1),
    };
    match api.create(&PostParams::default(), &revision).await {
        Ok(created) => revisions.push(created),
        Err(error) if is_status(&error, 409) => {
            let existing = api.get(&name).await?;
            same_data(&existing, &revision_data_of(&revision), &name)?;
            revisions.push(existing);
        }
        Err(error) => return Err(error.into()),
    }
    Ok((revisions, name))
}

fn revision_data_of(revision: &ControllerRevision) -> serde_json::Value {
    revision
        .data
        .as_ref()
        .map(|data| data.0.clone())
        .unwrap_or_default()
}

/// A revision named like the template's hash must hold that template; if
/// not, the hash collided (Kubernetes then raises `collisionCount`).
fn same_data(existing: &ControllerRevision, data: &serde_json::Value, name: &str) -> Result<()> {
    if revision_data_of(existing) == *data {
        Ok(())
    } else {
        Err(Error::HashCollision {
            name: name.to_owned(),
        })
    }
}

async fn reconcile(set: Arc<StatefulSet>, context: Arc<Context>) -> Result<Requeue> {
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Requeue::await_change());
    }
    let namespace = set.namespace().unwrap_or_else(|| "default".into());
    let set_name = set.name_any();
    let client = &context.client;
    let revisions_api = Api::<ControllerRevision>::namespaced(client.clone(), &namespace);
    let pods_api = Api::<Pod>::namespaced(client.clone(), &namespace);
    let claims_api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace);
    let sets_api = Api::<StatefulSet>::namespaced(client.clone(), &namespace);

    let (revisions, update_name) = match sync_revisions(&set, &revisions_api).await {
        Err(Error::HashCollision { name }) => {
            let count = set
                .status
                .as_ref()
                .and_then(|status| status.collision_count)
                .unwrap_or(0);
            tracing::warn!(statefulset = %set_name, revision = %name, "revision hash collision; raising collisionCount");
            let patch = json!({ "status": { "collisionCount": count + 1 } });
            sets_api
                .patch_status(&set_name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
            return Ok(Requeue::requeue(Duration::from_millis(100)));
        }
        result => result?,
    };
    let templates: BTreeMap<String, PodTemplateSpec> = revisions
        .iter()
        .filter_map(|revision| {
            let template = template_of(&revision.data.as_ref()?.0).ok()?;
            Some((revision.metadata.name.clone()?, template))
        })
        .collect();
    let current_name = set
        .status
        .as_ref()
        .and_then(|status| status.current_revision.clone())
        .filter(|name| templates.contains_key(name))
        .unwrap_or_else(|| update_name.clone());
    let state = set_state(&set, &current_name, &update_name)?;
    let min_ready_seconds = set
        .spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
        .unwrap_or(0);

    let uid = set.metadata.uid.clone().unwrap_or_default();
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&selector_of(&set)))
        .await?
        .items
        .into_iter()
        .filter(|pod| owned_by(&pod.metadata, &uid))
        .collect();
    let now = Timestamp::now();
    let states: Vec<PodState> = pods
        .iter()
        .filter_map(|pod| pod_state(&set_name, pod, now, min_ready_seconds))
        .collect();

    let actions = plan(&state, &states);
    let creates = actions
        .iter()
        .any(|action| matches!(action, Action::Create { .. }));
    if creates && !still_live(&sets_api, &set_name, &uid).await? {
        tracing::debug!(statefulset = %set_name, "set deleted or being deleted; creating no pods");
        return Ok(Requeue::await_change());
    }
    for action in actions {
        match action {
            Action::Create { ordinal, revision } => {
                let Some(template) = templates.get(&revision) else {
                    return Err(Error::Revision {
                        reason: "the revision to create a pod at has no template",
                    });
                };
                for claim in new_claims(&set, ordinal) {
                    match claims_api.create(&PostParams::default(), &claim).await {
                        Ok(_) => tracing::info!(claim = %claim.name_any(), "created claim"),
                        Err(error) if is_status(&error, 409) => {}
                        Err(error) => return Err(error.into()),
                    }
                }
                let pod = new_pod(&set, template, ordinal, &revision);
                match pods_api.create(&PostParams::default(), &pod).await {
                    Ok(_) => {
                        tracing::info!(statefulset = %set_name, pod = %pod.name_any(), %revision, "created pod")
                    }
                    Err(error) if is_status(&error, 409) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            Action::Delete { ordinal, reason } => {
                let name = pod_name(&set_name, ordinal);
                tracing::info!(statefulset = %set_name, pod = %name, ?reason, "deleting pod");
                match pods_api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(error) if is_status(&error, 404) => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }

    let collision_count = set
        .status
        .as_ref()
        .and_then(|status| status.collision_count);
    let status = next_status(&state, &states, set.metadata.generation, collision_count);
    if set.status.as_ref() != Some(&status) {
        sets_api
            .patch_status(
                &set_name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await?;
    }
    prune_history(
        &set,
        &revisions,
        &pods,
        &current_name,
        &update_name,
        &revisions_api,
    )
    .await?;

    let waiting_for_availability = states
        .iter()
        .any(|pod| pod.running_and_ready && !pod.available);
    Ok(if waiting_for_availability {
        Requeue::requeue(Duration::from_secs(1))
    } else {
        Requeue::requeue(RESYNC)
    })
}

/// Whether the set this reconcile read from the cache is still there, with
/// its uid and not being deleted: the cache may lag its deletion, and a Pod
/// created for a set that is gone would only be garbage.
async fn still_live(api: &Api<StatefulSet>, name: &str, uid: &str) -> Result<bool> {
    match api.get_opt(name).await? {
        Some(current) => Ok(current.metadata.uid.as_deref() == Some(uid)
            && current.metadata.deletion_timestamp.is_none()),
        None => Ok(false),
    }
}

/// Deletes revisions beyond `revisionHistoryLimit` that neither the set's
/// status nor any Pod uses, oldest first.
async fn prune_history(
    set: &StatefulSet,
    revisions: &[ControllerRevision],
    pods: &[Pod],
    current: &str,
    update: &str,
    api: &Api<ControllerRevision>,
) -> Result<()> {
    let limit = set
        .spec
        .as_ref()
        .and_then(|spec| spec.revision_history_limit)
        .unwrap_or(10)
        .max(0);
    let in_use = |name: &str| {
        name == current
            || name == update
            || pods.iter().any(|pod| {
                pod.labels()
                    .get(super::pod::REVISION_LABEL)
                    .map(String::as_str)
                    == Some(name)
            })
    };
    let unused: Vec<&str> = revisions
        .iter()
        .filter_map(|revision| revision.metadata.name.as_deref())
        .filter(|name| !in_use(name))
        .collect();
    let excess = unused
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    for name in unused.into_iter().take(excess) {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(revision = %name, "deleted old controller revision"),
            Err(error) if is_status(&error, 404) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
