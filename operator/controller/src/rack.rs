//! `fjord-operator broker-rack`: the init container of rack-aware brokers
//! (docs/operator.md, "Racks"). A Pod cannot read its node's labels through
//! the downward API, so this reads the Node named by `--node` (the downward
//! API's `spec.nodeName`) and writes the value of label `--label` to
//! `--output`, which the broker reads at start (`--rack-file`). A node
//! without the label gets an empty file (the broker then has no rack) and a
//! warning. API errors are retried with backoff until `--timeout-seconds`;
//! then the container fails and the kubelet runs it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};
use tracing::{info, warn};

use crate::{Error, Result};

/// Flags of `fjord-operator broker-rack`.
#[derive(Debug, Clone, clap::Args)]
pub struct RackArgs {
    /// The node the Pod runs on (`spec.nodeName` through the downward API).
    #[arg(long, env = "NODE_NAME")]
    pub node: String,
    /// The node label whose value is the rack (`spec.rackAwareness.topologyKey`).
    #[arg(long)]
    pub label: String,
    /// The file to write the rack to (the broker's `--rack-file`).
    #[arg(long)]
    pub output: PathBuf,
    /// How long API errors are retried before giving up.
    #[arg(long, default_value_t = 120)]
    pub timeout_seconds: u64,
}

/// The rack `node` is in: its value of label `key`, if set and not empty.
pub fn rack_of(node: &Node, key: &str) -> Option<String> {
    node.metadata
        .labels
        .as_ref()?
        .get(key)
        .filter(|value| !value.is_empty())
        .cloned()
}

/// Writes `rack` (or nothing) to `path` atomically: a temporary file in the
/// same directory, then a rename, so the broker never reads half a name.
pub fn write_rack_file(path: &Path, rack: Option<&str>) -> Result<()> {
    let error = |source| Error::RackFile {
        path: path.display().to_string(),
        source,
    };
    let temporary = path.with_extension("tmp");
    let mut text = rack.unwrap_or_default().to_owned();
    text.push('\n');
    std::fs::write(&temporary, text).map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

/// Reads the node's label (retrying API errors until the timeout) and
/// writes the rack file; returns the rack written.
pub async fn run(client: Client, args: &RackArgs) -> Result<Option<String>> {
    let nodes: Api<Node> = Api::all(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_seconds);
    let mut backoff = Duration::from_millis(250);
    let node = loop {
        match nodes.get(&args.node).await {
            Ok(node) => break node,
            Err(error) if tokio::time::Instant::now() + backoff < deadline => {
                warn!(node = %args.node, %error, ?backoff, "cannot read the node; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(error) => return Err(error.into()),
        }
    };
    let rack = rack_of(&node, &args.label);
    match &rack {
        Some(rack) => info!(node = %args.node, label = %args.label, %rack, "broker rack found"),
        None => {
            warn!(node = %args.node, label = %args.label, "the node has no such label: the broker has no rack")
        }
    }
    write_rack_file(&args.output, rack.as_deref())?;
    Ok(rack)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use std::collections::BTreeMap;

    use super::*;

    fn node(labels: &[(&str, &str)]) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some("node-a".into());
        node.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        );
        node
    }

    #[test]
    fn the_rack_is_the_nodes_value_of_the_topology_key() {
        let zone = "topology.kubernetes.io/zone";
        let labelled = node(&[(zone, "eu-west-1a"), ("kubernetes.io/os", "linux")]);
        assert_eq!(rack_of(&labelled, zone).as_deref(), Some("eu-west-1a"));
        assert_eq!(rack_of(&labelled, "rack"), None);
        assert_eq!(rack_of(&node(&[(zone, "")]), zone), None);
        assert_eq!(rack_of(&Node::default(), zone), None);
    }

    #[test]
    fn the_rack_file_holds_the_rack_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rack");
        write_rack_file(&path, Some("eu-west-1a")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "eu-west-1a\n");
        write_rack_file(&path, None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "\n");
        let missing = dir.path().join("no-such-dir/rack");
        assert!(write_rack_file(&missing, Some("a")).is_err());
    }
}
