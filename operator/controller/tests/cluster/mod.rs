//! Shared by the cluster controller's tests against the in-memory API
//! server: the server with kube-sim's StatefulSet controller, a stand-in
//! kubelet that marks Pods running and ready after a short start, brokers'
//! admin API answering from those Pods, and polling helpers.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub(crate) mod kafka;
pub(crate) mod real;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use fjord_crd::{ConditionStatus, ConditionType, StorageSpec, StreamCluster, StreamClusterSpec};
use fjord_kube_sim::{ApiServer, statefulset};
use fjord_metadata::BrokerId;
use fjord_operator::cluster::admin::{
    BrokerAdmin, BrokerHealth, ClusterHealth, Decommission, LiveSetting, LiveSettings, RestartProbe,
};
use fjord_operator::cluster::status::find;
use fjord_operator::cluster::{self, Config};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, CustomResourceExt};
use serde_json::json;
use tokio::task::JoinHandle;

/// How long a "started" Pod takes to turn ready.
const WARMUP: Duration = Duration::from_millis(300);

/// An API server with the StatefulSet controller and a stand-in kubelet.
pub(crate) struct Harness {
    pub(crate) client: Client,
    pub(crate) namespace: String,
    pub(crate) brokers: Arc<FakeBrokers>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Harness {
    pub(crate) async fn start(namespace: &str) -> Self {
        // The operator's logs, shown when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("fjord_operator=debug")
            .with_test_writer()
            .try_init();
        let server = ApiServer::default();
        let client = server.client();
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &StreamCluster::crd())
            .await
            .unwrap();
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
        let tasks = vec![
            tokio::spawn(statefulset::run(client.clone())),
            tokio::spawn(kubelet(client.clone(), namespace.to_owned())),
        ];
        let brokers = Arc::new(FakeBrokers::new(client.clone(), namespace));
        Self {
            client,
            namespace: namespace.to_owned(),
            brokers,
            tasks,
        }
    }

    /// The controller's configuration for this harness.
    pub(crate) fn config(&self) -> Config {
        Config {
            namespace: Some(self.namespace.clone()),
            admin: self.brokers.clone(),
            pod_addresses: Arc::new(|_: &str, pod: &str| {
                let ordinal = pod.rsplit_once('-').map_or("0", |(_, o)| o);
                format!("10.9.0.{ordinal}")
            }),
            busy_interval: Duration::from_millis(100),
            error_backoff: Duration::from_millis(100),
            error_backoff_max: Duration::from_secs(2),
            ..Config::default()
        }
    }

    /// Starts the cluster controller; abort the handle to stop it.
    pub(crate) fn start_operator(&self) -> JoinHandle<()> {
        let client = self.client.clone();
        let config = self.config();
        tokio::spawn(async move {
            if let Err(error) = cluster::run(client, config).await {
                panic!("cluster controller failed: {error}");
            }
        })
    }

    pub(crate) fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

/// A StreamCluster of `brokers` brokers that restarts without pausing.
pub(crate) fn stream_cluster(name: &str, brokers: u16, version: &str) -> StreamCluster {
    let mut cluster = StreamCluster::new(
        name,
        StreamClusterSpec {
            version: version.into(),
            brokers,
            storage: StorageSpec {
                size: "1Gi".into(),
                storage_class_name: None,
            },
            ..StreamClusterSpec::default()
        },
    );
    cluster.spec.rollout.pause_seconds = 0;
    cluster.spec.rollout.health_timeout_seconds = 30;
    cluster
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Plays the kubelet: a Pod is running and ready `WARMUP` after it appears.
async fn kubelet(client: Client, namespace: String) {
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let mut first_seen: BTreeMap<String, Instant> = BTreeMap::new();
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list.items {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                if pod.metadata.deletion_timestamp.is_some() || ready(&pod) {
                    continue;
                }
                let seen = *first_seen.entry(uid).or_insert_with(Instant::now);
                if seen.elapsed() < WARMUP {
                    continue;
                }
                let ordinal = name.rsplit_once('-').map_or("0", |(_, o)| o);
                let status = json!({ "status": {
                    "phase": "Running",
                    "podIP": format!("10.9.0.{ordinal}"),
                    "conditions": [{ "type": "Ready", "status": "True" }],
                }});
                let _ = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The brokers' admin API, answered from the Pods: a broker serves when
/// its Pod is ready. Records every maintenance change.
pub(crate) struct FakeBrokers {
    pods: Api<Pod>,
    pub(crate) state: Mutex<FakeState>,
}

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    pub(crate) maintenance: BTreeMap<u32, bool>,
    /// Set: every restart probe says unsafe with this partition.
    pub(crate) at_risk: Option<String>,
    pub(crate) calls: Vec<String>,
    /// Brokers the stand-in controller knows (every broker once serving,
    /// until removed).
    pub(crate) registered: std::collections::BTreeSet<u32>,
    pub(crate) decommissioning: std::collections::BTreeSet<u32>,
    /// Live settings set per admin endpoint (unset: the broker default).
    pub(crate) live: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Set: every live change is refused with this message.
    pub(crate) live_refusal: Option<String>,
}

/// The stand-in brokers' built-in defaults of the live settings.
fn live_defaults() -> serde_json::Map<String, serde_json::Value> {
    let defaults = json!({
        "auto-create-topics": true,
        "default-partitions": 1,
        "default-replication-factor": 1,
        "message-bytes-max": 1_048_588,
    });
    defaults.as_object().cloned().unwrap_or_default()
}

impl FakeBrokers {
    fn new(client: Client, namespace: &str) -> Self {
        Self {
            pods: Api::namespaced(client, namespace),
            state: Mutex::new(FakeState::default()),
        }
    }

    async fn serving(&self) -> Vec<u32> {
        let Ok(list) = self.pods.list(&ListParams::default()).await else {
            return Vec::new();
        };
        list.items
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none() && ready(pod))
            .filter_map(|pod| pod.metadata.name.as_ref()?.rsplit_once('-')?.1.parse().ok())
            .collect()
    }

    async fn pod_count(&self) -> usize {
        self.pods
            .list(&ListParams::default())
            .await
            .map_or(0, |list| list.items.len())
    }
}

impl BrokerAdmin for FakeBrokers {
    fn health<'a>(
        &'a self,
        _endpoint: &'a str,
    ) -> BoxFuture<'a, fjord_operator::Result<ClusterHealth>> {
        Box::pin(async move {
            let serving = self.serving().await;
            let total = self.pod_count().await;
            let mut state = self.state.lock().unwrap();
            state.registered.extend(serving.iter().copied());
            let brokers = state
                .registered
                .iter()
                .map(|id| BrokerHealth {
                    id: *id,
                    state: if serving.contains(id) {
                        "serving"
                    } else {
                        "fenced"
                    }
                    .into(),
                    maintenance: state.maintenance.get(id).copied().unwrap_or(false),
                    leaderships: 0,
                })
                .collect();
            let all_serving = state.registered.iter().all(|id| serving.contains(id));
            Ok(ClusterHealth {
                healthy: serving.len() == total && all_serving,
                controller: Some(1),
                brokers,
                under_replicated: Vec::new(),
            })
        })
    }

    fn restart_probe<'a>(
        &'a self,
        _endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, fjord_operator::Result<RestartProbe>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            state.calls.push(format!("probe {}", broker.0));
            Ok(RestartProbe {
                safe: state.at_risk.is_none(),
                at_risk: state.at_risk.iter().cloned().collect(),
                catching_up: Vec::new(),
            })
        })
    }

    fn set_maintenance<'a>(
        &'a self,
        _endpoint: &'a str,
        broker: BrokerId,
        on: bool,
    ) -> BoxFuture<'a, fjord_operator::Result<()>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            state.calls.push(format!("maintenance {} {on}", broker.0));
            state.maintenance.insert(broker.0, on);
            Ok(())
        })
    }

    fn decommission<'a>(
        &'a self,
        _endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, fjord_operator::Result<Option<Decommission>>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap();
            Ok(Self::decommission_state(&state, broker))
        })
    }

    fn start_decommission<'a>(
        &'a self,
        _endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, fjord_operator::Result<Decommission>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            state.calls.push(format!("decommission {}", broker.0));
            state.decommissioning.insert(broker.0);
            Ok(Decommission {
                decommissioning: true,
                replicas: 2,
            })
        })
    }

    fn live_settings<'a>(
        &'a self,
        endpoint: &'a str,
    ) -> BoxFuture<'a, fjord_operator::Result<LiveSettings>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap();
            let set = state.live.get(endpoint).cloned().unwrap_or_default();
            let settings = live_defaults()
                .into_iter()
                .map(|(key, default)| {
                    let value = set.get(&key).cloned().unwrap_or_else(|| default.clone());
                    let source = if set.contains_key(&key) {
                        "dynamic"
                    } else {
                        "static"
                    };
                    let setting = LiveSetting {
                        value,
                        source: source.into(),
                        default,
                    };
                    (key, setting)
                })
                .collect();
            Ok(LiveSettings { settings })
        })
    }

    fn set_live_settings<'a>(
        &'a self,
        endpoint: &'a str,
        change: &'a serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'a, fjord_operator::Result<()>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            let text = serde_json::Value::Object(change.clone()).to_string();
            state.calls.push(format!("live {endpoint} {text}"));
            if let Some(problem) = state.live_refusal.clone() {
                return Err(fjord_operator::Error::BrokerAdmin {
                    endpoint: endpoint.to_owned(),
                    problem,
                });
            }
            let set = state.live.entry(endpoint.to_owned()).or_default();
            set.extend(change.clone());
            Ok(())
        })
    }

    fn remove_broker<'a>(
        &'a self,
        _endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, fjord_operator::Result<bool>> {
        Box::pin(async move {
            let serving = self.serving().await;
            let mut state = self.state.lock().unwrap();
            let removable =
                state.decommissioning.contains(&broker.0) && !serving.contains(&broker.0);
            if removable {
                state.calls.push(format!("remove {}", broker.0));
                state.registered.remove(&broker.0);
            }
            Ok(removable)
        })
    }
}

impl FakeBrokers {
    fn decommission_state(state: &FakeState, broker: BrokerId) -> Option<Decommission> {
        state.registered.contains(&broker.0).then(|| Decommission {
            decommissioning: state.decommissioning.contains(&broker.0),
            replicas: 0,
        })
    }
}

/// Polls `check` until it returns `Some`, or fails the test after `limit`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) const LIMIT: Duration = Duration::from_secs(30);

pub(crate) fn condition(cluster: &StreamCluster, kind: ConditionType) -> Option<ConditionStatus> {
    find(cluster.status.as_ref()?, kind).map(|c| c.status)
}

pub(crate) async fn stable(clusters: &Api<StreamCluster>, name: &str) -> StreamCluster {
    eventually("the cluster to be Stable", LIMIT, || async {
        let cluster = clusters.get(name).await.ok()?;
        let generation = cluster.metadata.generation;
        let status = cluster.status.as_ref()?;
        (condition(&cluster, ConditionType::Stable) == Some(ConditionStatus::True)
            && status.observed_generation == generation)
            .then_some(cluster)
    })
    .await
}

pub(crate) async fn event_reasons(harness: &Harness) -> Vec<String> {
    harness
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|event| event.reason)
        .collect()
}

pub(crate) fn watch_unavailable(
    harness: &Harness,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let pods = harness.api::<Pod>();
    tokio::spawn(async move {
        let mut worst = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                let ready = list
                    .items
                    .iter()
                    .filter(|pod| {
                        pod.metadata.deletion_timestamp.is_none()
                            && pod
                                .status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| {
                                    c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                                })
                    })
                    .count();
                worst = worst.max(3usize.saturating_sub(ready));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worst
    })
}
