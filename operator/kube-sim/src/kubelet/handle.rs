//! A handle on a running kubelet: faults and the DNS names, for tests and
//! tools in the same process.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use super::dns::DnsMap;
use super::mounts::HostLayout;
use crate::error::Result;

#[derive(Debug)]
pub(super) enum Command {
    Kill {
        namespace: String,
        name: String,
        reply: oneshot::Sender<bool>,
    },
}

/// A handle on a running kubelet, for tests and tools in the same process.
#[derive(Debug, Clone)]
pub struct KubeletHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) layout: HostLayout,
}

impl KubeletHandle {
    /// Kills Pod `namespace/name`'s processes (they restart, with
    /// `restartCount` + 1). False if this kubelet does not run that Pod.
    pub async fn kill(&self, namespace: &str, name: &str) -> bool {
        let (reply, answer) = oneshot::channel();
        let command = Command::Kill {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            reply,
        };
        if self.commands.send(command).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// The hosts file with the cluster's DNS names.
    pub fn hosts_file(&self) -> PathBuf {
        self.layout.hosts_file()
    }

    /// The cluster DNS names as they are now.
    pub fn dns(&self) -> Result<DnsMap> {
        DnsMap::read(&self.layout.hosts_file())
    }

    /// Where the kubelet keeps its state (volumes under `volumes/`).
    pub fn layout(&self) -> &HostLayout {
        &self.layout
    }
}
