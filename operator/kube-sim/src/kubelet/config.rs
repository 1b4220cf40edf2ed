//! The kubelet's settings.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::backoff::RestartBackoff;
use super::image::ImageTable;

/// The kubelet's settings.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// This node's name (`spec.nodeName` of the Pods it runs).
    pub node_name: String,
    /// Where volumes, Pod directories, logs and the hosts file live.
    pub state_dir: PathBuf,
    pub images: ImageTable,
    pub backoff: RestartBackoff,
    /// `status.hostIP` of every Pod.
    pub host_address: Ipv4Addr,
    /// A kubeconfig of the API server every container gets as `KUBECONFIG`
    /// (unless it sets its own): the process kubelet's stand-in for the
    /// ServiceAccount token a real kubelet mounts. `None`: no API access.
    pub pod_kubeconfig: Option<PathBuf>,
    /// Labels of this node's `Node` object (e.g. `topology.kubernetes.io/zone`),
    /// which the kubelet registers at start as a real one does.
    pub node_labels: BTreeMap<String, String>,
}

impl KubeletConfig {
    /// Defaults: node `fjord-kube-sim` without labels, host address
    /// 127.0.0.1, Kubernetes' restart backoff, no API access for containers.
    pub fn new(state_dir: impl Into<PathBuf>, images: ImageTable) -> Self {
        Self {
            node_name: "fjord-kube-sim".into(),
            state_dir: state_dir.into(),
            images,
            backoff: RestartBackoff::default(),
            host_address: Ipv4Addr::LOCALHOST,
            pod_kubeconfig: None,
            node_labels: BTreeMap::new(),
        }
    }
}
