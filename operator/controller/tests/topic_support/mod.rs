//! Shared by the Topic controller tests: a real `fjord-broker` process, the
//! in-memory API server with the CRDs and a StreamCluster, the controller
//! running against both, and what a user would look at (conditions, Events,
//! the topic's configuration through the Kafka protocol, `kcat -L`).
//!
//! Needs a built `fjord-broker` beside the test binary (`cargo build -p
//! fjord-broker`; `cargo xtask test` builds the workspace) or
//! `FJORD_BROKER_BIN`, and Debian's `kcat` (or `KCAT`).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(dead_code, reason = "not every test file uses every helper")]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fjord_crd::{ConditionStatus, StorageSpec, StreamCluster, StreamClusterSpec, Topic, TopicSpec};
use fjord_kube_sim::ApiServer;
use fjord_operator::runtime::ControllerMetrics;
use fjord_operator::topic;
use fjord_operator::topic::admin::AdminClient;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;

pub(crate) const NAMESPACE: &str = "default";
pub(crate) const CLUSTER: &str = "demo";

/// `FJORD_BROKER_BIN`, or `fjord-broker` in the profile directory this test
/// binary was built into (`target/<profile>/deps/<test>`).
pub(crate) fn broker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FJORD_BROKER_BIN") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().unwrap();
    let profile = test.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile.join("fjord-broker");
    assert!(
        binary.exists(),
        "no {}: build it (cargo build -p fjord-broker) or set FJORD_BROKER_BIN",
        binary.display()
    );
    binary
}

pub(crate) fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// One broker process, killed on drop.
pub(crate) struct Broker {
    pub(crate) kafka: SocketAddr,
    child: Child,
    _data: tempfile::TempDir,
}

impl Broker {
    pub(crate) async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let (kafka, admin) = (free_address(), free_address());
        let child = Command::new(broker_binary())
            .arg("--data-dir")
            .arg(data.path())
            .args(["--listen", &kafka.to_string()])
            .args(["--admin-listen", &admin.to_string()])
            .args(["--auto-create-topics", "false"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut broker = Self {
            kafka,
            child,
            _data: data,
        };
        eventually("the broker listens", || {
            let up = TcpStream::connect(kafka).is_ok();
            assert!(broker.child.try_wait().unwrap().is_none(), "broker exited");
            async move { up.then_some(()) }
        })
        .await;
        broker
    }

    pub(crate) async fn admin(&self) -> AdminClient {
        AdminClient::connect(&self.kafka.to_string(), Duration::from_secs(10))
            .await
            .unwrap()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 100 ms for up to 60 s.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) struct Harness {
    pub(crate) server: ApiServer,
    pub(crate) broker: Broker,
    pub(crate) topics: Api<Topic>,
    /// The controller's counters (reconciles, errors).
    pub(crate) metrics: ControllerMetrics,
    controller: JoinHandle<fjord_operator::Result<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

pub(crate) async fn install_crds(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fjord_crd::crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
}

pub(crate) async fn create_cluster(client: &kube::Client, bootstrap: Option<String>) {
    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let cluster = StreamCluster::new(
        CLUSTER,
        StreamClusterSpec {
            version: "0.1.0".into(),
            brokers: 1,
            storage: StorageSpec {
                size: "1Gi".into(),
                storage_class_name: None,
            },
            ..Default::default()
        },
    );
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .unwrap();
    if let Some(address) = bootstrap {
        set_bootstrap(client, &address).await;
    }
}

/// What the cluster controller does once the brokers serve.
pub(crate) async fn set_bootstrap(client: &kube::Client, address: &str) {
    set_cluster_status(client, address, true).await;
}

/// The cluster's bootstrap address and its `Ready` condition, as the cluster
/// controller writes them (the address is known before the brokers serve).
pub(crate) async fn set_cluster_status(client: &kube::Client, address: &str, ready: bool) {
    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let (phase, brokers, condition, reason) = if ready {
        ("Ready", 1, "True", "BrokersReady")
    } else {
        ("Provisioning", 0, "False", "BrokersUnready")
    };
    let ready_condition = json!({"type": "Ready", "status": condition, "reason": reason,
        "message": format!("{brokers} of 1 brokers ready"),
        "lastTransitionTime": "2026-01-01T00:00:00Z"});
    let status = json!({"status": {"phase": phase, "readyBrokers": brokers,
        "bootstrapAddress": address, "conditions": [ready_condition]}});
    clusters
        .patch_status(CLUSTER, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

pub(crate) async fn harness(with_bootstrap: bool) -> Harness {
    let server = ApiServer::default();
    let client = server.client();
    install_crds(&client).await;
    let broker = Broker::start().await;
    create_cluster(&client, with_bootstrap.then(|| broker.kafka.to_string())).await;
    let config = topic::Config {
        resync_interval: Duration::from_millis(500),
        backoff_first: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        ..topic::Config::new("test-operator")
    };
    let metrics = config.metrics.clone();
    let controller = tokio::spawn(topic::run(client.clone(), config));
    Harness {
        topics: Api::namespaced(client, NAMESPACE),
        server,
        broker,
        metrics,
        controller,
    }
}

pub(crate) fn topic_resource(name: &str, partitions: u32, config: &[(&str, &str)]) -> Topic {
    Topic::new(
        name,
        TopicSpec {
            cluster_ref: CLUSTER.into(),
            partitions,
            replication_factor: 1,
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
    )
}

/// The Ready condition's status and reason once the status describes the
/// latest generation.
pub(crate) async fn ready(topics: &Api<Topic>, name: &str) -> Option<(ConditionStatus, String)> {
    let topic = topics.get(name).await.ok()?;
    let status = topic.status.as_ref()?;
    if status.observed_generation != topic.metadata.generation {
        return None;
    }
    let ready = status
        .conditions
        .iter()
        .find(|c| c.condition_type == "Ready")?;
    Some((ready.status, ready.reason.clone()))
}

pub(crate) async fn wait_ready(topics: &Api<Topic>, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !matches!(ready(topics, name).await, Some((ConditionStatus::True, _))) {
        if tokio::time::Instant::now() > deadline {
            // Show what the operator last wrote.
            let topic = topics.get(name).await.ok();
            panic!("topic {name} not Ready within 60 s: {topic:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn event_reasons(server: &ApiServer) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(server.client(), NAMESPACE);
    let list = events.list(&Default::default()).await.unwrap();
    list.items
        .into_iter()
        .filter_map(|event| event.reason)
        .collect()
}

pub(crate) async fn configs(
    broker: &Broker,
    topic: &str,
    keys: &[&str],
) -> BTreeMap<String, String> {
    let mut admin = broker.admin().await;
    admin
        .describe_configs(topic, keys.iter().copied())
        .await
        .unwrap()
}

/// `kcat -L` as a user would run it: the topic's partition count.
pub(crate) fn kcat_partitions(broker: &Broker, topic: &str) -> usize {
    let kcat = std::env::var("KCAT").unwrap_or_else(|_| "kcat".to_owned());
    let output = Command::new(kcat)
        .args([
            "-b",
            &broker.kafka.to_string(),
            "-L",
            "-t",
            topic,
            "-m",
            "10",
        ])
        .output()
        .expect("kcat runs (Debian package kcat; cargo xtask test installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains(&format!("topic \"{topic}\"")))
        .unwrap_or_else(|| panic!("kcat does not list {topic}: {text}"));
    // `  topic "orders" with 3 partitions:`
    line.split_whitespace()
        .skip_while(|word| *word != "with")
        .nth(1)
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the partition count in {line:?}"))
}
