//! The Topic controller: keeps each `Topic` resource's Kafka topic on its
//! `StreamCluster` as declared, through the Kafka admin API (the algorithm
//! is in docs/operator.md, "Topic controller").
//!
//! - `admin/`: a small Kafka admin client over the `kafka-protocol` codec;
//! - `backoff.rs`: retry delays that cluster events do not escalate;
//! - `plan.rs`: what to do, from the declaration and the brokers' answer;
//! - `status.rs`: the status conditions and their server-side apply;
//! - `reconcile.rs`: one reconcile, its finalizer and its error policy.

pub mod admin;
mod backoff;
pub mod plan;
mod reconcile;
pub mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fjord_crd::{StreamCluster, Topic};
use futures::StreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::error::Result;
use crate::runtime::ControllerMetrics;

/// Field manager of every status the operator writes.
pub const FIELD_MANAGER: &str = "fjord-operator";
/// Finalizer that holds a Topic until its Kafka topic is deleted.
pub const FINALIZER: &str = "topics.fjord.dev";

/// Settings of the Topic controller.
#[derive(Debug, Clone)]
pub struct Config {
    /// Only Topics (and StreamClusters) of this namespace; all when `None`.
    pub namespace: Option<String>,
    /// Reported as the Events' `reportingInstance`.
    pub identity: String,
    /// How often a topic is compared with the brokers when nothing changed
    /// in Kubernetes (drift made through Kafka is found this way).
    pub resync_interval: Duration,
    /// Bound on each Kafka request.
    pub kafka_timeout: Duration,
    /// First and longest retry delay after a failed reconcile (doubling).
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    pub metrics: ControllerMetrics,
}

impl Config {
    /// Defaults: every namespace, resync every minute, 10 s per Kafka
    /// request, backoff from 1 s to 5 min.
    pub fn new(identity: &str) -> Self {
        Self {
            namespace: None,
            identity: identity.to_owned(),
            resync_interval: Duration::from_secs(60),
            kafka_timeout: Duration::from_secs(10),
            backoff_first: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            metrics: ControllerMetrics::default(),
        }
    }
}

/// What every reconcile shares.
pub(crate) struct Context {
    pub(crate) client: kube::Client,
    pub(crate) config: Config,
    pub(crate) recorder: Recorder,
    /// Consecutive failures per `namespace/name`, for the backoff.
    pub(crate) failures: Mutex<HashMap<String, backoff::Failures>>,
}

/// Runs the Topic controller until its future is dropped: reconciles every
/// Topic on change, on a change of its StreamCluster, and every
/// `resync_interval`.
pub async fn run(client: kube::Client, config: Config) -> Result<()> {
    let (topics, clusters): (Api<Topic>, Api<StreamCluster>) = match &config.namespace {
        Some(namespace) => (
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let controller = Controller::new(topics, watcher::Config::default());
    let store = controller.store();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(config.identity.clone()),
        },
    );
    let context = Arc::new(Context {
        client,
        config,
        recorder,
        failures: Mutex::new(HashMap::new()),
    });
    tracing::info!(namespace = ?context.config.namespace, "topic controller running");
    controller
        // A cluster that gets its bootstrap address (or goes away) wakes its topics.
        .watches(
            clusters,
            watcher::Config::default(),
            move |cluster: StreamCluster| {
                let namespace = cluster.namespace();
                let name = cluster.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|topic| {
                        topic.namespace() == namespace && topic.spec.cluster_ref == name
                    })
                    .map(|topic| ObjectRef::from_obj(&*topic))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile::reconcile, reconcile::error_policy, context)
        .for_each(|outcome| async move {
            match outcome {
                Ok((topic, _)) => tracing::debug!(%topic, "topic reconciled"),
                // Already logged and counted by the error policy.
                Err(error) => tracing::debug!(%error, "topic reconcile did not finish"),
            }
        })
        .await;
    Ok(())
}
