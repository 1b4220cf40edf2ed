//! The Topic controller against the in-memory API server and a real
//! `fjord-broker` process: topics are created with their configuration,
//! partitions added, a decrease refused with a condition, drift repaired
//! while undeclared settings stay, a rejected setting reported as drift,
//! the topic waits for its cluster, and deleting the resource deletes the
//! topic. The test plays the cluster controller: it writes the
//! StreamCluster's bootstrap address into its status.
//!
//! Needs a built `fjord-broker` beside this test binary (`cargo build -p
//! fjord-broker`; `cargo xtask test` builds the workspace) or
//! `FJORD_BROKER_BIN`, and Debian's `kcat` (or `KCAT`).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fjord_crd::{
    ConditionStatus, StorageSpec, StreamCluster, StreamClusterSpec, Topic, TopicSpec,
};
use fjord_kube_sim::ApiServer;
use fjord_operator::topic::admin::AdminClient;
use fjord_operator::topic::{self, FINALIZER};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::task::JoinHandle;

const NAMESPACE: &str = "default";
const CLUSTER: &str = "demo";

/// `FJORD_BROKER_BIN`, or `fjord-broker` in the profile directory this test
/// binary was built into (`target/<profile>/deps/<test>`).
fn broker_binary() -> PathBuf {
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

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// One broker process, killed on drop.
struct Broker {
    kafka: SocketAddr,
    child: Child,
    _data: tempfile::TempDir,
}

impl Broker {
    async fn start() -> Self {
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

    async fn admin(&self) -> AdminClient {
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
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Harness {
    server: ApiServer,
    broker: Broker,
    topics: Api<Topic>,
    controller: JoinHandle<fjord_operator::Result<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

async fn install_crds(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fjord_crd::crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
}

async fn create_cluster(client: &kube::Client, bootstrap: Option<String>) {
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
    clusters.create(&PostParams::default(), &cluster).await.unwrap();
    if let Some(address) = bootstrap {
        set_bootstrap(client, &address).await;
    }
}

/// What the cluster controller does once the brokers serve.
async fn set_bootstrap(client: &kube::Client, address: &str) {
    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let status = json!({"status": {"phase": "Ready", "readyBrokers": 1, "bootstrapAddress": address}});
    clusters
        .patch_status(CLUSTER, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

async fn harness(with_bootstrap: bool) -> Harness {
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
    let controller = tokio::spawn(topic::run(client.clone(), config));
    Harness {
        topics: Api::namespaced(client, NAMESPACE),
        server,
        broker,
        controller,
    }
}

fn topic_resource(name: &str, partitions: u32, config: &[(&str, &str)]) -> Topic {
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
async fn ready(topics: &Api<Topic>, name: &str) -> Option<(ConditionStatus, String)> {
    let topic = topics.get(name).await.ok()?;
    let status = topic.status.as_ref()?;
    if status.observed_generation != topic.metadata.generation {
        return None;
    }
    let ready = status.conditions.iter().find(|c| c.condition_type == "Ready")?;
    Some((ready.status, ready.reason.clone()))
}

async fn wait_ready(topics: &Api<Topic>, name: &str) {
    eventually("the topic is Ready", || async {
        matches!(ready(topics, name).await, Some((ConditionStatus::True, _))).then_some(())
    })
    .await;
}

async fn event_reasons(server: &ApiServer) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(server.client(), NAMESPACE);
    let list = events.list(&Default::default()).await.unwrap();
    list.items.into_iter().filter_map(|event| event.reason).collect()
}

async fn configs(broker: &Broker, topic: &str, keys: &[&str]) -> BTreeMap<String, String> {
    let mut admin = broker.admin().await;
    admin.describe_configs(topic, keys.iter().copied()).await.unwrap()
}

/// `kcat -L` as a user would run it: the topic's partition count.
fn kcat_partitions(broker: &Broker, topic: &str) -> usize {
    let kcat = std::env::var("KCAT").unwrap_or_else(|_| "kcat".to_owned());
    let output = Command::new(kcat)
        .args(["-b", &broker.kafka.to_string(), "-L", "-t", topic, "-m", "10"])
        .output()
        .expect("kcat runs (Debian package kcat; cargo xtask test installs it)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_is_created_with_its_declared_configuration() {
    let h = harness(true).await;
    let declared = [("retention.ms", "86400000"), ("cleanup.policy", "compact")];
    h.topics
        .create(&PostParams::default(), &topic_resource("orders", 3, &declared))
        .await
        .unwrap();
    wait_ready(&h.topics, "orders").await;

    assert_eq!(kcat_partitions(&h.broker, "orders"), 3);
    let found = configs(&h.broker, "orders", &["retention.ms", "cleanup.policy"]).await;
    assert_eq!(found.get("retention.ms").map(String::as_str), Some("86400000"));
    assert_eq!(found.get("cleanup.policy").map(String::as_str), Some("compact"));

    let topic = h.topics.get("orders").await.unwrap();
    assert!(topic.finalizers().contains(&FINALIZER.to_owned()));
    let status = topic.status.unwrap();
    assert_eq!(status.partitions, Some(3));
    assert!(status.drift.is_empty());
    let managers: Vec<String> = topic
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| entry.subresource.as_deref() == Some("status"))
        .filter_map(|entry| entry.manager)
        .collect();
    assert_eq!(managers, vec!["fjord-operator".to_owned()], "status by server-side apply");
    assert!(event_reasons(&h.server).await.contains(&"Created".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_added_and_a_decrease_is_refused_with_a_condition() {
    let h = harness(true).await;
    h.topics
        .create(&PostParams::default(), &topic_resource("events", 2, &[]))
        .await
        .unwrap();
    wait_ready(&h.topics, "events").await;

    let grow = json!({"spec": {"partitions": 5}});
    h.topics
        .patch("events", &PatchParams::default(), &Patch::Merge(&grow))
        .await
        .unwrap();
    wait_ready(&h.topics, "events").await;
    assert_eq!(kcat_partitions(&h.broker, "events"), 5);
    assert_eq!(h.topics.get("events").await.unwrap().status.unwrap().partitions, Some(5));

    // A real API server refuses this with the CRD's CEL rule; the operator
    // refuses it too, for servers or paths that do not.
    let shrink = json!({"spec": {"partitions": 1}});
    h.topics
        .patch("events", &PatchParams::default(), &Patch::Merge(&shrink))
        .await
        .unwrap();
    let (status, reason) = eventually("the decrease is refused", || async {
        ready(&h.topics, "events")
            .await
            .filter(|(status, _)| *status == ConditionStatus::False)
    })
    .await;
    assert_eq!((status, reason.as_str()), (ConditionStatus::False, "PartitionDecreaseRefused"));
    let topic = h.topics.get("events").await.unwrap();
    let degraded = topic
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.condition_type == "Degraded")
        .unwrap()
        .clone();
    assert_eq!(degraded.status, ConditionStatus::True);
    assert!(degraded.message.contains("cannot remove partitions"), "{}", degraded.message);
    assert_eq!(kcat_partitions(&h.broker, "events"), 5, "nothing removed");
    assert!(event_reasons(&h.server).await.contains(&"PartitionDecreaseRefused".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_undeclared_settings_stay_and_rejected_values_show_as_drift() {
    let h = harness(true).await;
    h.topics
        .create(
            &PostParams::default(),
            &topic_resource("audit", 1, &[("retention.ms", "86400000")]),
        )
        .await
        .unwrap();
    wait_ready(&h.topics, "audit").await;

    // Someone changes the topic behind the operator's back, through Kafka.
    let mut admin = h.broker.admin().await;
    let changed = BTreeMap::from([
        ("retention.ms".to_owned(), "1000".to_owned()),
        ("segment.bytes".to_owned(), "1048576".to_owned()),
    ]);
    admin.set_configs("audit", &changed).await.unwrap();

    eventually("the declared value is restored", || async {
        let found = configs(&h.broker, "audit", &["retention.ms"]).await;
        (found.get("retention.ms").map(String::as_str) == Some("86400000")).then_some(())
    })
    .await;
    let found = configs(&h.broker, "audit", &["segment.bytes"]).await;
    assert_eq!(
        found.get("segment.bytes").map(String::as_str),
        Some("1048576"),
        "an undeclared setting is left alone"
    );
    assert!(event_reasons(&h.server).await.contains(&"ConfigDriftRepaired".to_owned()));

    // A value the brokers refuse stays as drift in the status.
    let bad = json!({"spec": {"config": {"retention.ms": "forever"}}});
    h.topics
        .patch("audit", &PatchParams::default(), &Patch::Merge(&bad))
        .await
        .unwrap();
    let reason = eventually("the value is rejected", || async {
        ready(&h.topics, "audit")
            .await
            .filter(|(status, _)| *status == ConditionStatus::False)
            .map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "ConfigRejected");
    let drift = h.topics.get("audit").await.unwrap().status.unwrap().drift;
    assert_eq!(drift.get("retention.ms").map(String::as_str), Some("86400000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_waits_for_its_cluster_and_deleting_the_resource_deletes_the_topic() {
    let h = harness(false).await;
    h.topics
        .create(&PostParams::default(), &topic_resource("payments", 2, &[]))
        .await
        .unwrap();
    let reason = eventually("the topic waits", || async {
        ready(&h.topics, "payments").await.map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "ClusterNotReady");
    assert_eq!(h.broker.admin().await.describe_topic("payments").await.unwrap(), None);

    // The cluster becomes reachable: its watch wakes the topic.
    set_bootstrap(&h.server.client(), &h.broker.kafka.to_string()).await;
    wait_ready(&h.topics, "payments").await;
    assert_eq!(kcat_partitions(&h.broker, "payments"), 2);

    h.topics.delete("payments", &DeleteParams::default()).await.unwrap();
    eventually("the resource goes once the topic is deleted", || async {
        h.topics.get_opt("payments").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(h.broker.admin().await.describe_topic("payments").await.unwrap(), None);
}
