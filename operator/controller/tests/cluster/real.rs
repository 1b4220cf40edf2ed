//! Real `fjord-broker` processes under kube-sim's process kubelet: the
//! binary, a namespace of its own, and a testbed with the operator's
//! configuration for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fjord_crd::StreamCluster;
use fjord_kube_sim::kubelet::KubeletConfig;
use fjord_kube_sim::kubelet::address::pod_address;
use fjord_kube_sim::kubelet::backoff::RestartBackoff;
use fjord_kube_sim::kubelet::image::ImageTable;
use fjord_kube_sim::testbed::Testbed;
use fjord_operator::cluster::Config;
use k8s_openapi::api::core::v1::Pod;
use kube::CustomResourceExt;

/// `FJORD_BROKER_BIN`, or `fjord-broker` in this test binary's profile directory.
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

/// A namespace no other run on this machine uses (Pod addresses derive from it).
pub(crate) fn unique_namespace(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Ready and not being deleted.
pub(crate) fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// kube-sim's API server and process kubelet running `fjord/broker` as the
/// built broker (state under `state`), and the operator's configuration
/// for it (loopback Pod addresses, quick re-reconciles while busy).
pub(crate) async fn testbed(state: &std::path::Path, namespace: &str) -> (Testbed, Config) {
    let mut images = ImageTable::default();
    images.insert("fjord/broker", broker_binary());
    let mut kubelet_config = KubeletConfig::new(state.join("kubelet"), images);
    kubelet_config.backoff = RestartBackoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(5),
        reset_after: Duration::from_secs(60),
    };
    let testbed = Testbed::start(kubelet_config, &[StreamCluster::crd()], namespace)
        .await
        .unwrap();
    let config = Config {
        namespace: Some(namespace.to_owned()),
        pod_addresses: Arc::new(|namespace: &str, pod: &str| {
            pod_address(namespace, pod, |_| false).to_string()
        }),
        busy_interval: Duration::from_millis(500),
        ..Config::default()
    };
    (testbed, config)
}
