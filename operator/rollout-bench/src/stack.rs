//! One StreamCluster on the in-process testbed (API server, StatefulSet
//! controller, process kubelet running real `fjord-broker` processes) with
//! the operator's cluster controller, as the operator's broker tests run it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fjord_crd::{ConditionStatus, ConditionType, StorageSpec, StreamCluster, StreamClusterSpec};
use fjord_kube_sim::kubelet::KubeletConfig;
use fjord_kube_sim::kubelet::address::pod_address;
use fjord_kube_sim::kubelet::backoff::RestartBackoff;
use fjord_kube_sim::kubelet::image::ImageTable;
use fjord_kube_sim::testbed::Testbed;
use fjord_operator::cluster::Config;
use fjord_operator::cluster::status::find;
use kube::Api;
use kube::CustomResourceExt;
use kube::api::{Patch, PatchParams, PostParams};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::json;
use tokio::task::JoinHandle;

const NAME: &str = "bench";
pub(crate) const FIRST_VERSION: &str = "0.1.0";
pub(crate) const NEXT_VERSION: &str = "0.2.0";

/// A running cluster; dropping it stops the operator, the kubelet and
/// with them every broker process.
#[derive(Debug)]
pub(crate) struct Cluster {
    // Field order: the operator stops before the testbed goes.
    operator: JoinHandle<()>,
    testbed: Testbed,
    namespace: String,
    brokers: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.operator.abort();
    }
}

impl Cluster {
    /// Starts the testbed and the operator and creates a StreamCluster of
    /// `brokers` brokers on [`FIRST_VERSION`], rolling with `pause` between
    /// restarts.
    pub(crate) async fn start(
        broker_bin: &Path,
        dir: &Path,
        brokers: u16,
        pause: Duration,
    ) -> anyhow::Result<Self> {
        // Pod addresses derive from the namespace: one no other run uses.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("clock before 1970")?
            .subsec_nanos();
        let namespace = format!("rollout-{}-{nanos}", std::process::id());
        let mut images = ImageTable::default();
        images.insert("fjord/broker", broker_bin.to_owned());
        let mut kubelet = KubeletConfig::new(dir.join(&namespace), images);
        kubelet.backoff = RestartBackoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(60),
        };
        let testbed = Testbed::start(kubelet, &[StreamCluster::crd()], &namespace).await?;
        let config = Config {
            namespace: Some(namespace.clone()),
            pod_addresses: Arc::new(|namespace: &str, pod: &str| {
                pod_address(namespace, pod, |_| false).to_string()
            }),
            busy_interval: Duration::from_millis(500),
            ..Config::default()
        };
        let client = testbed.client.clone();
        let operator = tokio::spawn(async move {
            if let Err(error) = fjord_operator::cluster::run(client, config).await {
                eprintln!("the cluster controller failed: {error}");
            }
        });
        let mut spec = StreamClusterSpec {
            version: FIRST_VERSION.into(),
            brokers,
            storage: StorageSpec {
                size: "1Gi".into(),
                storage_class_name: None,
            },
            ..StreamClusterSpec::default()
        };
        spec.rollout.pause_seconds = u32::try_from(pause.as_secs()).unwrap_or(u32::MAX);
        spec.rollout.health_timeout_seconds = 120;
        let cluster = Self {
            operator,
            testbed,
            namespace,
            brokers,
        };
        cluster
            .clusters()
            .create(&PostParams::default(), &StreamCluster::new(NAME, spec))
            .await?;
        Ok(cluster)
    }

    fn clusters(&self) -> Api<StreamCluster> {
        Api::namespaced(self.testbed.client.clone(), &self.namespace)
    }

    /// Every broker's Kafka address.
    pub(crate) fn bootstrap(&self) -> String {
        (1..=self.brokers)
            .map(|id| {
                let address = pod_address(&self.namespace, &format!("{NAME}-{id}"), |_| false);
                format!("{address}:9092")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until the cluster is Stable with every broker on `version`.
    pub(crate) async fn stable(&self, version: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(cluster) = self.clusters().get(NAME).await
                && let Some(status) = cluster.status.as_ref()
                && find(status, ConditionType::Stable)
                    .is_some_and(|c| c.status == ConditionStatus::True)
                && status.current_version.as_deref() == Some(version)
                && status.observed_generation == cluster.metadata.generation
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the cluster was not Stable on {version} within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Asks for [`NEXT_VERSION`]; the roll starts now.
    pub(crate) async fn upgrade(&self) -> anyhow::Result<()> {
        let patch = json!({ "spec": { "version": NEXT_VERSION } });
        self.clusters()
            .patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Creates `topic` with replication factor min(3, brokers), retrying
    /// while the brokers settle.
    pub(crate) async fn create_topic(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .context("create the admin client")?;
        let replication = i32::from(self.brokers.min(3));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
            let outcome = admin.create_topics([&new], &options).await;
            match outcome.as_deref() {
                Ok([Ok(_)]) => return Ok(()),
                other if Instant::now() >= deadline => bail!("create topic {topic}: {other:?}"),
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
}
