//! The kubelet's settings.

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
}

impl KubeletConfig {
    /// Defaults: node `fjord-kube-sim`, host address 127.0.0.1,
    /// Kubernetes' restart backoff.
    pub fn new(state_dir: impl Into<PathBuf>, images: ImageTable) -> Self {
        Self {
            node_name: "fjord-kube-sim".into(),
            state_dir: state_dir.into(),
            images,
            backoff: RestartBackoff::default(),
            host_address: Ipv4Addr::LOCALHOST,
        }
    }
}
