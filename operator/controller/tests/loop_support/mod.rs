//! The whole BYOC loop in one test process: a real control plane on a fresh
//! database (agent_support), kube-sim's testbed (API server, StatefulSet
//! controller, process kubelet running real `fjord-broker` processes, also
//! served over HTTP for kubectl), and the operator's cluster and topic
//! controllers and agent, configured as `fjord-operator run --pod-addresses
//! kube-sim` configures them. Tests drive it through the REST API, as a
//! user would.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each journey uses a different part"
)]

pub mod unready;

use std::path::PathBuf;
use std::time::Duration;

use fjord_crd::StreamCluster;
use fjord_kube_sim::kubelet::KubeletConfig;
use fjord_kube_sim::kubelet::backoff::RestartBackoff;
use fjord_kube_sim::kubelet::image::ImageTable;
use fjord_kube_sim::testbed::Testbed;
use fjord_kube_sim::{kubeconfig_yaml, serve};
use fjord_operator::agent::PinnedKey;
use fjord_operator::cluster::loopback::PodAddressMode;
use kube::Api;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::agent_support::control_plane::SEED;
use crate::agent_support::{ControlPlane, PATIENCE, User, agent_config, eventually};
use fjord_control_plane::{AppState, IntentSigner};

/// The roll health timeout the test operator caps every cluster's at.
pub const ROLL_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a cluster may take to start or roll on this shared machine.
pub const CLUSTER_PATIENCE: Duration = Duration::from_secs(240);

/// `FJORD_BROKER_BIN`, or `fjord-broker` in this test binary's profile directory.
pub fn broker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FJORD_BROKER_BIN") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().expect("the test binary has a path");
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in <profile>/deps");
    let binary = profile.join("fjord-broker");
    assert!(
        binary.exists(),
        "no {}: build it (cargo build -p fjord-broker) or set FJORD_BROKER_BIN",
        binary.display()
    );
    binary
}

/// A namespace (and so Pod addresses) no other run on this machine uses.
fn unique_namespace() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!("loop-{}-{nanos}", std::process::id())
}

/// The running loop; dropping it stops the operator, the kubelet's brokers
/// and the API server.
pub struct Loop {
    /// `None` only once [`Loop::finish`] took it.
    control: Option<ControlPlane>,
    pub user: User,
    pub environment_id: String,
    pub namespace: String,
    pub testbed: Testbed,
    pub kubeconfig: PathBuf,
    pub state: tempfile::TempDir,
    token: String,
    key: PinnedKey,
    operator: Vec<JoinHandle<()>>,
    /// The control plane's job workers (rollouts, cluster operations).
    workers: Vec<JoinHandle<()>>,
    stop_http: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Loop {
    fn drop(&mut self) {
        for task in self.operator.iter().chain(&self.workers) {
            task.abort();
        }
        if let Some(stop) = self.stop_http.take() {
            let _ = stop.send(());
        }
    }
}

impl Loop {
    /// Journey 1's start: an organization with a cloud account, the
    /// environment `local` and its registration token; a Kubernetes cluster
    /// whose kubelet runs `images` (`fjord/broker`, every tag, is the built
    /// broker unless `images` says otherwise for a tag).
    pub async fn start(extra_images: &[(&str, PathBuf)]) -> Self {
        let control = ControlPlane::start().await.unwrap();
        for version in ["0.1.0", "0.2.0", "0.3.0"] {
            fjord_control_plane::admin::add_release(&control.pool, version, "stable", "")
                .await
                .unwrap();
        }
        // Job workers drive rollouts, as `fjord-control-plane` runs them.
        let state = AppState::new(control.pool.clone(), IntentSigner::from_seed(&SEED));
        let workers = fjord_control_plane::jobs::spawn_workers(&state, 1);
        let user = control.user("acme").await.unwrap();
        let (environment_id, token) = user.environment("local").await.unwrap();
        let (public_key, key_id) = user.signing_key().await.unwrap();
        let namespace = unique_namespace();
        let state = tempfile::tempdir().unwrap();
        let mut images = ImageTable::default();
        images.insert("fjord/broker", broker_binary());
        for (image, path) in extra_images {
            images.insert(*image, path.clone());
        }
        let mut kubelet = KubeletConfig::new(state.path().join("kubelet"), images);
        kubelet.backoff = RestartBackoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(60),
        };
        let testbed = Testbed::start(kubelet, &fjord_crd::crds(), &namespace)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(testbed.server.clone(), listener, async move {
            let _ = stopped.await;
        }));
        let kubeconfig = state.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&url)).unwrap();
        Self {
            control: Some(control),
            user,
            environment_id,
            namespace,
            testbed,
            kubeconfig,
            state,
            token,
            key: PinnedKey { public_key, key_id },
            operator: Vec::new(),
            workers,
            stop_http: Some(stop_http),
        }
    }

    /// `fjord-operator run --pod-addresses kube-sim` in process: the cluster
    /// and topic controllers and the agent (registering with the token).
    pub fn start_operator(&mut self) {
        let client = self.testbed.client.clone();
        let mode = PodAddressMode::KubeSim;
        let cluster = fjord_operator::cluster::Config {
            namespace: Some(self.namespace.clone()),
            pod_addresses: mode.pod_addresses(),
            pod_address_mode: mode,
            busy_interval: Duration::from_millis(500),
            // As the dev stack's --roll-pause-seconds-max and
            // --roll-health-timeout-seconds-max.
            roll_pause_max: Some(Duration::from_secs(2)),
            roll_health_timeout_max: Some(ROLL_HEALTH_TIMEOUT),
            ..fjord_operator::cluster::Config::default()
        };
        let topic = fjord_operator::topic::Config {
            namespace: Some(self.namespace.clone()),
            backoff_max: Duration::from_secs(5),
            ..fjord_operator::topic::Config::new("loop-test")
        };
        let mut agent = agent_config(&self.control().agent_replica.url(), &self.namespace);
        agent.registration_token = Some(self.token.clone());
        agent.pinned_key = Some(self.key.clone());
        let (first, second) = (client.clone(), client.clone());
        self.operator.push(tokio::spawn(async move {
            if let Err(error) = fjord_operator::cluster::run(first, cluster).await {
                panic!("cluster controller failed: {error}");
            }
        }));
        self.operator.push(tokio::spawn(async move {
            if let Err(error) = fjord_operator::topic::run(second, topic).await {
                panic!("topic controller failed: {error}");
            }
        }));
        self.operator.push(tokio::spawn(async move {
            if let Err(error) = fjord_operator::agent::run(client, agent).await {
                panic!("agent failed: {error}");
            }
        }));
    }

    /// `POST /v1/clusters`; the cluster id.
    pub async fn create_cluster(&self, name: &str, version: &str, brokers: u16) -> String {
        let body = json!({"environment_id": self.environment_id, "name": name,
                          "version": version, "broker_count": brokers, "storage_gib": 1});
        let cluster = self
            .user
            .expect(Method::POST, "/v1/clusters", Some(body), 201)
            .await
            .unwrap();
        cluster["cluster_id"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/topics` with replication factor 3; the topic id.
    pub async fn create_topic(&self, cluster_id: &str, name: &str, partitions: i32) -> String {
        let body = json!({"cluster_id": cluster_id, "name": name, "partitions": partitions,
                          "replication_factor": 3});
        let topic = self
            .user
            .expect(Method::POST, "/v1/topics", Some(body), 201)
            .await
            .unwrap();
        topic["topic_id"].as_str().unwrap().to_owned()
    }

    /// `GET /v1/clusters/{id}`.
    pub async fn cluster_view(&self, cluster_id: &str) -> Value {
        self.user
            .expect(
                Method::GET,
                &format!("/v1/clusters/{cluster_id}"),
                None,
                200,
            )
            .await
            .unwrap()
    }

    /// Waits until the API reports the cluster ready with `brokers` brokers
    /// at `version`; returns its bootstrap address.
    pub async fn ready(&self, cluster_id: &str, brokers: i32, version: &str) -> String {
        eventually(
            &format!("cluster {cluster_id} ready with {brokers} brokers at {version}"),
            CLUSTER_PATIENCE,
            || async move {
                let status = self.cluster_view(cluster_id).await["status"].clone();
                (status["phase"] == "ready"
                    && status["brokers_ready"] == brokers
                    && status["observed_version"] == version)
                    .then_some(())
            },
        )
        .await;
        self.bootstrap(cluster_id).await
    }

    /// The bootstrap address: from the API when it reports one, else from
    /// the StreamCluster's status.
    pub async fn bootstrap(&self, cluster_id: &str) -> String {
        let view = self.cluster_view(cluster_id).await;
        if let Some(address) = view["status"]["bootstrap_address"].as_str() {
            return address.to_owned();
        }
        let name = view["name"].as_str().unwrap().to_owned();
        let clusters: Api<StreamCluster> =
            Api::namespaced(self.testbed.client.clone(), &self.namespace);
        eventually("a bootstrap address", PATIENCE, || {
            let clusters = clusters.clone();
            let name = name.clone();
            async move { clusters.get(&name).await.ok()?.status?.bootstrap_address }
        })
        .await
    }

    /// Waits until the environment's connection is `state`.
    pub async fn connection(&self, state: &str) {
        eventually(
            &format!("the environment {state}"),
            PATIENCE,
            || async move {
                let view = self
                    .user
                    .environment_view(&self.environment_id)
                    .await
                    .ok()?;
                (view["connection"]["state"] == state).then_some(())
            },
        )
        .await;
    }

    /// Runs kubectl against the served API; returns stdout.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let program = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
        let output = tokio::process::Command::new(&program)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|error| panic!("cannot run {program}: {error} (set KUBECTL)"));
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn control(&self) -> &ControlPlane {
        self.control
            .as_ref()
            .expect("the control plane runs until finish")
    }

    pub fn control_mut(&mut self) -> &mut ControlPlane {
        self.control
            .as_mut()
            .expect("the control plane runs until finish")
    }

    /// Ends the run: the operator and brokers stop, the database goes.
    pub async fn finish(mut self) {
        for task in self.operator.drain(..).chain(self.workers.drain(..)) {
            task.abort();
        }
        if let Some(control) = self.control.take() {
            control.finish().await.unwrap();
        }
    }
}
