//! The reconciler (docs/operator.md, "Reconcile"): thin and idempotent;
//! every pass starts from what the API server and the brokers show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use fjord_crd::{StreamCluster, StreamClusterStatus};
use fjord_metadata::BrokerId;
use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalized, finalizer};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use super::config::Config;
use super::executor::{Notice, drive_roll};
use super::live::{LiveBackoff, apply_live};
use super::loopback;
use super::observe::{Observed, observe};
use super::render::{
    self, Desired, client_service, config_map, headless_service, initial_voters,
    pod_disruption_budget,
};
use super::scale::{forget_removed, scale_down};
use super::status::{Problem, StatusInput, status};
use super::{FIELD_MANAGER, FINALIZER};
use crate::{Error, Result};

/// What every reconcile shares.
pub(super) struct Context {
    pub(super) client: Client,
    pub(super) config: Config,
    recorder: Recorder,
    /// Consecutive failures per cluster, for the error policy's backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// The live settings step's own backoff (it never fails a reconcile).
    pub(super) live_backoff: LiveBackoff,
}

/// Runs the StreamCluster controller until the future is dropped.
pub async fn run(client: Client, config: Config) -> Result<(), Error> {
    let reporter = Reporter {
        controller: config.reporter.clone(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let context = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client: client.clone(),
        config: config.clone(),
        failures: Mutex::new(HashMap::new()),
        live_backoff: LiveBackoff::default(),
    });
    let namespace = config.namespace.as_deref();
    info!(
        namespace = namespace.unwrap_or("*"),
        "cluster controller starting"
    );
    Controller::new(
        scoped::<StreamCluster>(&client, namespace),
        watcher::Config::default(),
    )
    .owns(
        scoped::<StatefulSet>(&client, namespace),
        watcher::Config::default(),
    )
    .owns(
        scoped::<ConfigMap>(&client, namespace),
        watcher::Config::default(),
    )
    .owns(
        scoped::<Service>(&client, namespace),
        watcher::Config::default(),
    )
    .owns(
        scoped::<PodDisruptionBudget>(&client, namespace),
        watcher::Config::default(),
    )
    .run(reconcile, error_policy, context)
    .for_each(|result| async move {
        match result {
            Ok((object, _)) => debug!(cluster = %object, "reconciled"),
            Err(error) => warn!(%error, "cluster controller"),
        }
    })
    .await;
    Ok(())
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn key(cluster: &StreamCluster) -> String {
    format!(
        "{}/{}",
        cluster.namespace().unwrap_or_default(),
        cluster.name_any()
    )
}

async fn reconcile(cluster: Arc<StreamCluster>, context: Arc<Context>) -> Result<Action> {
    let namespace = cluster
        .namespace()
        .ok_or(Error::ClusterMetadata("namespace"))?;
    let clusters: Api<StreamCluster> = Api::namespaced(context.client.clone(), &namespace);
    let cluster_key = key(&cluster);
    let shared = Arc::clone(&context);
    let action = finalizer(&clusters, FINALIZER, cluster, |event| async move {
        match event {
            Finalized::Apply(cluster) => apply(&cluster, &shared).await,
            Finalized::Cleanup(cluster) => {
                let namespace = cluster.namespace().unwrap_or_default();
                delete_rack_binding(&shared, &namespace, &cluster.name_any()).await?;
                notice(&shared, &cluster, Notice::normal("Deleting", "Deleting", "the brokers, their Services and configuration are deleted with the cluster; their volume claims are kept".into())).await;
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|error| Error::ClusterFinalizer(Box::new(error)))?;
    context
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&cluster_key);
    Ok(action)
}

/// Backs off exponentially per cluster, from `error_backoff` to `error_backoff_max`.
fn error_policy(cluster: Arc<StreamCluster>, error: &Error, context: Arc<Context>) -> Action {
    let cluster_key = key(&cluster);
    let mut failures = context
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let count = failures.entry(cluster_key.clone()).or_insert(0);
    *count = count.saturating_add(1);
    let factor = 2u32.saturating_pow(count.saturating_sub(1).min(20));
    let delay = context
        .config
        .error_backoff
        .saturating_mul(factor)
        .min(context.config.error_backoff_max);
    warn!(cluster = %cluster_key, %error, failures = *count, ?delay, "cluster reconcile failed; retrying");
    Action::requeue(delay)
}

async fn apply(cluster: &StreamCluster, context: &Context) -> Result<Action> {
    let name = cluster.name_any();
    let namespace = cluster
        .namespace()
        .ok_or(Error::ClusterMetadata("namespace"))?;
    let previous = cluster.status.clone();
    let generation = cluster.metadata.generation;
    let voters: Vec<BrokerId> = match previous.as_ref().map(|s| &s.controller_voters) {
        Some(recorded) if !recorded.is_empty() => recorded.iter().copied().map(BrokerId).collect(),
        _ => initial_voters(cluster.spec.brokers),
    };
    let new_generation = previous.as_ref().and_then(|s| s.observed_generation) != generation;
    let config = &context.config;
    // Brokers are removed one at a time, each after its decommission
    // (scale.rs): until then the cluster keeps the brokers it has.
    let recorded = previous.as_ref().map_or(0, |s| s.brokers.len());
    let recorded = u16::try_from(recorded).unwrap_or(u16::MAX);
    let mut effective = cluster.clone();
    let shrinking = cluster.spec.brokers < recorded;
    if shrinking {
        effective.spec.brokers = recorded;
    }
    let mut desired = match loopback::desired(&effective, config, &voters) {
        Ok(desired) => desired,
        Err(error @ Error::ClusterSpec { .. }) => {
            let message = error.to_string();
            if new_generation {
                notice(
                    context,
                    cluster,
                    Notice::warning("InvalidSpec", "Validating", message.clone()),
                )
                .await;
            }
            let problem = Problem {
                reason: "InvalidSpec",
                message,
            };
            let input = StatusInput {
                generation,
                previous: previous.as_ref(),
                desired: None,
                observed: &Observed::default(),
                roll: previous.as_ref().and_then(|s| s.roll.as_ref()),
                voters: &voters,
                problem: Some(problem),
                waiting: None,
                paused: cluster.spec.paused,
                now: Utc::now(),
            };
            write_status(context, &namespace, &name, &status(&input)).await?;
            return Ok(Action::requeue(config.resync_interval));
        }
        Err(error) => return Err(error),
    };
    let rack_key = cluster
        .spec
        .rack_awareness
        .as_ref()
        .map(|rack| rack.topology_key.as_str());
    let mut problem: Option<Problem> = None;
    let mut waiting: Option<String> = None;
    if shrinking && !cluster.spec.paused {
        let observed = observe(&context.client, config.admin.as_ref(), &desired, rack_key).await?;
        let rolling = previous.as_ref().is_some_and(|s| s.roll.is_some());
        let decision = scale_down(context, cluster, recorded, &voters, rolling, &observed).await?;
        problem = decision.problem;
        waiting = decision.waiting;
        if decision.brokers != recorded {
            effective.spec.brokers = decision.brokers;
            desired = loopback::desired(&effective, config, &voters)?;
        }
    }
    if previous.is_none() {
        let message = format!("{} brokers of version {}", desired.brokers, desired.version);
        notice(
            context,
            cluster,
            Notice::normal("Created", "Creating", message),
        )
        .await;
    }
    if new_generation && !desired.unsupported_config.is_empty() {
        let message = format!(
            "the broker has no setting for {}; left out of its configuration",
            desired.unsupported_config.join(", ")
        );
        notice(
            context,
            cluster,
            Notice::warning("UnsupportedConfig", "Configuring", message),
        )
        .await;
    }
    let act = !cluster.spec.paused;
    if act {
        apply_children(context, &desired).await?;
    }
    let mut observed = observe(&context.client, config.admin.as_ref(), &desired, rack_key).await?;
    let mut roll = previous.as_ref().and_then(|s| s.roll.clone());
    let mut last = previous.clone();
    let mut live_retry = None;
    if act {
        forget_removed(context, cluster, desired.brokers, &observed).await?;
        // The ConfigMap (read at the next start) holds them now.
        live_retry = apply_live(context, cluster, &desired, &observed).await;
        let mut persist = |roll: Option<&fjord_crd::RollProgress>, observed: &Observed| {
            let input = StatusInput {
                generation,
                previous: last.as_ref(),
                desired: Some(&desired),
                observed,
                roll,
                voters: &voters,
                problem: problem.clone(),
                waiting: waiting.clone(),
                paused: false,
                now: Utc::now(),
            };
            let written = status(&input);
            last = Some(written.clone());
            written
        };
        roll = drive_roll(
            context,
            cluster,
            &desired,
            &mut observed,
            roll,
            rack_key,
            &mut persist,
        )
        .await?;
    }
    let input = StatusInput {
        generation,
        previous: last.as_ref(),
        desired: Some(&desired),
        observed: &observed,
        roll: roll.as_ref(),
        voters: &voters,
        problem,
        waiting,
        paused: cluster.spec.paused,
        now: Utc::now(),
    };
    let written = status(&input);
    write_status(context, &namespace, &name, &written).await?;
    let busy = roll.is_some()
        || written.conditions.iter().any(|c| {
            c.condition_type == "Progressing" && c.status == fjord_crd::ConditionStatus::True
        });
    let interval = if busy {
        config.busy_interval
    } else {
        config.resync_interval
    };
    Ok(Action::requeue(
        live_retry.map_or(interval, |retry| retry.min(interval)),
    ))
}

/// Applies every child object by server-side apply.
async fn apply_children(context: &Context, desired: &Desired) -> Result<()> {
    apply_object(context, desired, &config_map(desired)).await?;
    apply_object(context, desired, &headless_service(desired)?).await?;
    apply_object(context, desired, &client_service(desired)?).await?;
    apply_object(context, desired, &pod_disruption_budget(desired)?).await?;
    if desired.rack_key.is_some() {
        // The rack init container's identity, before the Pods that use it.
        apply_object(context, desired, &render::broker_service_account(desired)).await?;
        let binding = render::rack_binding(desired);
        let name = render::rack_binding_name(&desired.namespace, &desired.name);
        let api: Api<ClusterRoleBinding> = Api::all(context.client.clone());
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&binding),
        )
        .await?;
    } else {
        // Rack awareness off (or never on): nothing may keep the broker
        // Pods' permission to read nodes. Absent is the usual case.
        delete_rack_identity(context, desired).await?;
    }
    apply_object(context, desired, &render::statefulset(desired)?).await?;
    Ok(())
}

/// Deletes the rack init container's binding and ServiceAccount; absent is
/// fine.
async fn delete_rack_identity(context: &Context, desired: &Desired) -> Result<()> {
    delete_rack_binding(context, &desired.namespace, &desired.name).await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(context.client.clone(), &desired.namespace);
    let account = desired.broker_service_account_name();
    absent_is_fine(accounts.delete(&account, &Default::default()).await)
}

fn absent_is_fine<T>(outcome: kube::Result<T>) -> Result<()> {
    match outcome {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Deletes the cluster's ClusterRoleBinding (cluster scoped, so no owner
/// reference deletes it); absent is fine.
async fn delete_rack_binding(context: &Context, namespace: &str, cluster: &str) -> Result<()> {
    let name = render::rack_binding_name(namespace, cluster);
    let api: Api<ClusterRoleBinding> = Api::all(context.client.clone());
    absent_is_fine(api.delete(&name, &Default::default()).await)
}

async fn apply_object<K>(context: &Context, desired: &Desired, object: &K) -> Result<()>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let name = object
        .meta()
        .name
        .clone()
        .ok_or(Error::ClusterMetadata("name"))?;
    let api: Api<K> = Api::namespaced(context.client.clone(), &desired.namespace);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await?;
    Ok(())
}

/// Writes the status by server-side apply on the status subresource.
pub(super) async fn write_status(
    context: &Context,
    namespace: &str,
    name: &str,
    status: &StreamClusterStatus,
) -> Result<()> {
    let api: Api<StreamCluster> = Api::namespaced(context.client.clone(), namespace);
    // What the status no longer has (a finished roll, a removed broker) is
    // replaced outright by a merge patch first, rather than left to the
    // apply's pruning of fields this manager stops applying: a partly pruned
    // roll or broker entry would not validate (the in-memory API server left
    // such remnants; see the kube-sim commit removing list items whole).
    let mut replace = serde_json::json!({ "status": { "brokers": status.brokers } });
    if status.roll.is_none() {
        replace["status"]["roll"] = serde_json::Value::Null;
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch_status(name, &params, &Patch::Merge(&replace))
        .await?;
    let patch = serde_json::json!({
        "apiVersion": "fjord.dev/v1alpha1",
        "kind": "StreamCluster",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Publishes an Event about `cluster` (a failure to publish is logged only).
pub(super) async fn notice(context: &Context, cluster: &StreamCluster, notice: Notice) {
    info!(cluster = %key(cluster), reason = notice.reason, note = %notice.note, "{}", notice.action);
    let event = kube::runtime::events::Event {
        type_: notice.kind,
        reason: notice.reason.to_owned(),
        note: Some(notice.note),
        action: notice.action.to_owned(),
        secondary: None,
    };
    let reference = cluster.object_ref(&());
    if let Err(error) = context.recorder.publish(&event, &reference).await {
        warn!(%error, "cannot publish an event");
    }
}
