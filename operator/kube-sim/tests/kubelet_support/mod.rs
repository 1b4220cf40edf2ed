//! Shared by the kubelet and StatefulSet controller tests: an API server
//! with the StatefulSet controller and a process kubelet running against
//! it, and small polling helpers.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use fjord_kube_sim::kubelet::backoff::RestartBackoff;
use fjord_kube_sim::kubelet::image::ImageTable;
use fjord_kube_sim::kubelet::{self, KubeletConfig, KubeletHandle};
use fjord_kube_sim::{ApiServer, statefulset};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::task::JoinHandle;

/// An API server, the StatefulSet controller and a kubelet.
pub(crate) struct Cluster {
    pub(crate) client: Client,
    pub(crate) kubelet: KubeletHandle,
    pub(crate) namespace: String,
    pub(crate) state: tempfile::TempDir,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            dump_logs(self.state.path());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A namespace no other test run on this machine uses, so Pod addresses
/// (which derive from namespace and name) never collide between runs.
pub(crate) fn unique_namespace(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

impl Cluster {
    pub(crate) async fn start(prefix: &str, images: ImageTable) -> Self {
        let server = ApiServer::default();
        let client = server.client();
        let state = tempfile::tempdir().unwrap();
        let mut config = KubeletConfig::new(state.path().join("kubelet"), images);
        // Restarts within a test's patience.
        config.backoff = RestartBackoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(60),
        };
        let (kubelet, run) = kubelet::start(client.clone(), config).unwrap();
        let kubelet_task = tokio::spawn(async move {
            if let Err(error) = run.await {
                panic!("kubelet failed: {error}");
            }
        });
        let controller_task = tokio::spawn(statefulset::run(client.clone()));
        let namespace = unique_namespace(prefix);
        let namespace_object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace_object)
            .await
            .unwrap();
        let tasks = vec![kubelet_task, controller_task];
        Self {
            client,
            kubelet,
            namespace,
            state,
            tasks,
        }
    }

    pub(crate) fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

/// Polls `check` until it returns `Some`, or fails the test after `limit`
/// saying what it waited for.
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
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Prints every container log under the kubelet's state directory (on a
/// failure, the first thing one wants to see).
pub(crate) fn dump_logs(state: &Path) {
    let Ok(output) = std::process::Command::new("sh")
        .arg("-c")
        .arg("for f in $(find \"$1\" -name '*.log'); do echo \"== $f\"; tail -n 30 \"$f\"; done")
        .arg("sh")
        .arg(state)
        .output()
    else {
        return;
    };
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}
