//! One reconcile of a Topic, wrapped in its finalizer, and the error policy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use fjord_crd::{ConditionStatus, ConditionType, StreamCluster, Topic};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizing, finalizer};
use kube::{Api, Resource, ResourceExt};

use crate::error::{Error, KafkaError, Result};
use crate::topic::admin::AdminClient;
use crate::topic::backoff::after_failure;
use crate::topic::plan::{Observed, Plan, plan};
use crate::topic::status::{self, Verdict};
use crate::topic::{Context, FINALIZER};

fn key(topic: &Topic) -> String {
    format!(
        "{}/{}",
        topic.namespace().unwrap_or_default(),
        topic.name_any()
    )
}

pub(crate) async fn reconcile(topic: Arc<Topic>, context: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = topic.namespace().ok_or(Error::MissingField {
        kind: "Topic",
        field: "metadata.namespace",
    })?;
    let key = key(&topic);
    let api: Api<Topic> = Api::namespaced(context.client.clone(), &namespace);
    let shared = &context;
    let outcome = finalizer(&api, FINALIZER, topic, |event| async move {
        match event {
            Finalizing::Apply(topic) => apply(&topic, shared).await,
            Finalizing::Cleanup(topic) => cleanup(&topic, shared).await,
        }
    })
    .await
    .map_err(|error| Error::TopicFinalizer(Box::new(error)));
    context.config.metrics.reconciled(started.elapsed());
    if outcome.is_ok()
        && let Ok(mut failures) = context.failures.lock()
    {
        failures.remove(&key);
    }
    outcome
}

pub(crate) fn error_policy(topic: Arc<Topic>, error: &Error, context: Arc<Context>) -> Action {
    let config = &context.config;
    config.metrics.failed();
    let now = Instant::now();
    let (failures, delay) = match context.failures.lock() {
        Ok(mut failures) => {
            let previous = failures.get(&key(&topic)).copied();
            let (next, delay) =
                after_failure(previous, now, config.backoff_first, config.backoff_max);
            failures.insert(key(&topic), next);
            (next.count, delay)
        }
        Err(_) => (1, config.backoff_first),
    };
    tracing::warn!(topic = %key(&topic), %error, failures, ?delay, "topic reconcile failed, retrying");
    Action::requeue(delay)
}

/// Where the topic's cluster is, or why it cannot be reached.
enum Cluster {
    Bootstrap(String),
    /// Missing or being deleted: its brokers (and topics) are going away.
    Gone(String),
    NotReady(String),
}

async fn resolve(context: &Context, namespace: &str, name: &str) -> Result<Cluster> {
    let clusters: Api<StreamCluster> = Api::namespaced(context.client.clone(), namespace);
    let Some(cluster) = clusters.get_opt(name).await? else {
        return Ok(Cluster::Gone(format!(
            "StreamCluster {namespace}/{name} does not exist"
        )));
    };
    if cluster.metadata.deletion_timestamp.is_some() {
        return Ok(Cluster::Gone(format!(
            "StreamCluster {namespace}/{name} is being deleted"
        )));
    }
    let status = cluster.status.as_ref();
    let bootstrap = status
        .and_then(|status| status.bootstrap_address.clone())
        .filter(|address| !address.trim().is_empty());
    let ready = status.and_then(|status| {
        status
            .conditions
            .iter()
            .find(|c| c.condition_type == ConditionType::Ready.as_str())
    });
    // The brokers are talked to only once the cluster says they all serve:
    // before that a connection fails, or reaches a broker still starting.
    Ok(match (bootstrap, ready) {
        (None, _) => Cluster::NotReady(format!(
            "StreamCluster {namespace}/{name} has no bootstrap address yet"
        )),
        (Some(address), Some(ready)) if ready.status == ConditionStatus::True => {
            Cluster::Bootstrap(address)
        }
        (Some(_), Some(ready)) => Cluster::NotReady(format!(
            "StreamCluster {namespace}/{name} is not Ready ({}: {})",
            ready.reason, ready.message
        )),
        (Some(_), None) => Cluster::NotReady(format!(
            "StreamCluster {namespace}/{name} reports no Ready condition yet"
        )),
    })
}

async fn publish(context: &Context, topic: &Topic, kind: EventType, reason: &str, note: String) {
    let event = Event {
        type_: kind,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(error) = context
        .recorder
        .publish(&event, &topic.object_ref(&()))
        .await
    {
        tracing::warn!(topic = %key(topic), %error, reason, "cannot publish event");
    }
}

async fn observe(admin: &mut AdminClient, topic: &Topic) -> Result<Option<Observed>, KafkaError> {
    let name = topic.name_any();
    let Some(description) = admin.describe_topic(&name).await? else {
        return Ok(None);
    };
    let keys = topic.spec.config.keys().map(String::as_str);
    let config = admin.describe_configs(&name, keys).await?;
    Ok(Some(Observed {
        description,
        config,
    }))
}

/// Writes the status for `verdict` (and logs what it says).
async fn report(
    context: &Context,
    topic: &Topic,
    observed: Option<&Observed>,
    drift: BTreeMap<String, String>,
    verdict: &Verdict,
) -> Result<()> {
    // RFC 3339 in whole seconds, as Kubernetes writes its own times.
    let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let partitions = observed.map(|observed| observed.description.partitions);
    let status = status::status(
        topic.status.as_ref(),
        topic.metadata.generation,
        partitions,
        drift,
        verdict,
        &now,
    );
    if topic.status.as_ref() == Some(&status) {
        // Nothing new to say: spare the API server a write per resync.
        return Ok(());
    }
    tracing::info!(topic = %key(topic), reason = verdict.reason(), "topic status");
    let namespace = topic.namespace().unwrap_or_default();
    let api: Api<Topic> = Api::namespaced(context.client.clone(), &namespace);
    status::write(&api, &topic.name_any(), &status).await
}

async fn apply(topic: &Topic, context: &Context) -> Result<Action> {
    let resync = Action::requeue(context.config.resync_interval);
    let namespace = topic.namespace().unwrap_or_default();
    let bootstrap = match resolve(context, &namespace, &topic.spec.cluster_ref).await? {
        Cluster::Bootstrap(address) => address,
        Cluster::Gone(message) => {
            let verdict = Verdict::Waiting {
                reason: "ClusterNotFound",
                message,
            };
            report(context, topic, None, BTreeMap::new(), &verdict).await?;
            return Ok(resync);
        }
        Cluster::NotReady(message) => {
            let verdict = Verdict::Waiting {
                reason: "ClusterNotReady",
                message,
            };
            report(context, topic, None, BTreeMap::new(), &verdict).await?;
            return Ok(resync);
        }
    };
    let mut admin = match AdminClient::connect(&bootstrap, context.config.kafka_timeout).await {
        Ok(admin) => admin,
        Err(error) => {
            let verdict = Verdict::Waiting {
                reason: "BrokersUnreachable",
                message: error.to_string(),
            };
            report(context, topic, None, BTreeMap::new(), &verdict).await?;
            return Err(error.into());
        }
    };
    let before = observe(&mut admin, topic).await?;
    let steps = plan(&topic.spec, before.as_ref());
    if let Some(verdict) = change(context, topic, &mut admin, &steps).await? {
        report(context, topic, before.as_ref(), steps.drift, &verdict).await?;
        return Ok(resync);
    }
    // What is true now, after the changes.
    let after = observe(&mut admin, topic).await?;
    let remaining = plan(&topic.spec, after.as_ref());
    let verdict = verdict_of(&remaining);
    let previous_reason = status::ready_reason(topic.status.as_ref()).map(str::to_owned);
    if let Some(refusal) = remaining.refusals.first()
        && previous_reason.as_deref() != Some(refusal.reason())
    {
        publish(
            context,
            topic,
            EventType::Warning,
            refusal.reason(),
            refusal.message(),
        )
        .await;
    }
    report(context, topic, after.as_ref(), remaining.drift, &verdict).await?;
    Ok(resync)
}

fn verdict_of(remaining: &Plan) -> Verdict {
    if let Some(refusal) = remaining.refusals.first() {
        let message = remaining
            .refusals
            .iter()
            .map(|refusal| refusal.message())
            .collect::<Vec<_>>()
            .join("; ");
        return Verdict::Refused {
            reason: refusal.reason(),
            message,
        };
    }
    if remaining.create || remaining.add_partitions.is_some() {
        return Verdict::Waiting {
            reason: "Applying",
            message: "the brokers do not show the change yet".to_owned(),
        };
    }
    if !remaining.drift.is_empty() {
        let keys: Vec<&str> = remaining.drift.keys().map(String::as_str).collect();
        return Verdict::Refused {
            reason: "ConfigRejected",
            message: format!("the brokers keep other values for {}", keys.join(", ")),
        };
    }
    Verdict::Ready
}

/// Makes the planned changes. `Some(verdict)` when the brokers refused one,
/// which is then the topic's state until the declaration changes.
async fn change(
    context: &Context,
    topic: &Topic,
    admin: &mut AdminClient,
    steps: &Plan,
) -> Result<Option<Verdict>> {
    let name = topic.name_any();
    let spec = &topic.spec;
    if steps.create {
        let created = admin
            .create_topic(
                &name,
                spec.partitions,
                spec.replication_factor,
                &spec.config,
            )
            .await;
        match created {
            Ok(true) => {
                let note = format!(
                    "created with {} partitions, replication factor {} and {} declared settings",
                    spec.partitions,
                    spec.replication_factor,
                    spec.config.len()
                );
                publish(context, topic, EventType::Normal, "Created", note).await;
            }
            Ok(false) => tracing::info!(topic = %key(topic), "topic already exists, adopting it"),
            Err(error @ KafkaError::Refused { .. }) => {
                publish(
                    context,
                    topic,
                    EventType::Warning,
                    "CreateRefused",
                    error.to_string(),
                )
                .await;
                return Ok(Some(Verdict::Refused {
                    reason: "CreateRefused",
                    message: error.to_string(),
                }));
            }
            Err(error) => return Err(error.into()),
        }
    }
    if let Some(count) = steps.add_partitions {
        match admin.create_partitions(&name, count).await {
            Ok(()) => {
                let note = format!("partitions raised to {count}");
                publish(context, topic, EventType::Normal, "PartitionsAdded", note).await;
            }
            Err(error @ KafkaError::Refused { .. }) => {
                publish(
                    context,
                    topic,
                    EventType::Warning,
                    "PartitionsRefused",
                    error.to_string(),
                )
                .await;
                return Ok(Some(Verdict::Refused {
                    reason: "PartitionsRefused",
                    message: error.to_string(),
                }));
            }
            Err(error) => return Err(error.into()),
        }
    }
    if !steps.set_config.is_empty() {
        let changes: Vec<String> = steps
            .set_config
            .iter()
            .map(|(key, declared)| {
                let found = steps.drift.get(key).map(String::as_str).unwrap_or_default();
                format!("{key}: {found:?} -> {declared:?}")
            })
            .collect();
        match admin.set_configs(&name, &steps.set_config).await {
            Ok(()) => {
                let note = format!("declared settings restored: {}", changes.join(", "));
                publish(
                    context,
                    topic,
                    EventType::Normal,
                    "ConfigDriftRepaired",
                    note,
                )
                .await;
            }
            Err(error @ KafkaError::Refused { .. }) => {
                publish(
                    context,
                    topic,
                    EventType::Warning,
                    "ConfigRejected",
                    error.to_string(),
                )
                .await;
                return Ok(Some(Verdict::Refused {
                    reason: "ConfigRejected",
                    message: error.to_string(),
                }));
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(None)
}

async fn cleanup(topic: &Topic, context: &Context) -> Result<Action> {
    let namespace = topic.namespace().unwrap_or_default();
    let cluster = &topic.spec.cluster_ref;
    let bootstrap = match resolve(context, &namespace, cluster).await? {
        Cluster::Bootstrap(address) => address,
        Cluster::Gone(message) => {
            // Nothing left to delete the topic from.
            tracing::info!(topic = %key(topic), message, "cluster gone, releasing the topic");
            return Ok(Action::await_change());
        }
        Cluster::NotReady(_) => {
            return Err(Error::ClusterNotReady {
                namespace,
                name: cluster.clone(),
            });
        }
    };
    let mut admin = AdminClient::connect(&bootstrap, context.config.kafka_timeout).await?;
    let name = topic.name_any();
    let deleted = admin.delete_topic(&name).await?;
    let note = if deleted {
        "deleted from the brokers".to_owned()
    } else {
        "was not on the brokers".to_owned()
    };
    tracing::info!(topic = %key(topic), deleted, "topic resource deleted");
    publish(context, topic, EventType::Normal, "Deleted", note).await;
    Ok(Action::await_change())
}
