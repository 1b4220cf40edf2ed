//! Journey 4's watcher: how many brokers of each cluster were down at once
//! at worst, and, for that moment, which Pods were not Ready and why, so a
//! failure names them instead of only counting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use tokio::task::JoinHandle;

/// The worst moment seen: brokers of one cluster down at once, and what
/// each of those Pods looked like then.
#[derive(Debug, Default)]
pub struct Unready {
    pub worst: usize,
    pub at_worst: Vec<String>,
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// One Pod that is not Ready: its name, whether it is being deleted, its
/// phase and each container's state.
fn describe(pod: &Pod) -> String {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let deleting = if pod.metadata.deletion_timestamp.is_some() {
        " (deleting)"
    } else {
        ""
    };
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    let containers: Vec<String> = status
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let state = c.state.unwrap_or_default();
            let now = if let Some(waiting) = state.waiting {
                format!("waiting {}", waiting.reason.unwrap_or_default())
            } else if let Some(ended) = state.terminated {
                format!("terminated {}", ended.exit_code)
            } else {
                "running".to_owned()
            };
            format!(
                "{} {now}, ready {}, restarts {}",
                c.name, c.ready, c.restart_count
            )
        })
        .collect();
    format!("{name}{deleting}: {phase} [{}]", containers.join("; "))
}

/// Lists the Pods every 50 ms until `stop`; `clusters` are the Pod name
/// prefixes of the clusters, each of `brokers` Pods.
pub fn watch(
    pods: Api<Pod>,
    clusters: &[&str],
    brokers: usize,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Unready> {
    let clusters: Vec<String> = clusters.iter().map(|c| (*c).to_owned()).collect();
    tokio::spawn(async move {
        let mut seen = Unready::default();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for cluster in &clusters {
                    let prefix = format!("{cluster}-");
                    let members: Vec<&Pod> = list
                        .items
                        .iter()
                        .filter(|pod| {
                            pod.metadata
                                .name
                                .as_deref()
                                .is_some_and(|n| n.starts_with(&prefix))
                        })
                        .collect();
                    let up = members.iter().filter(|pod| is_ready(pod)).count();
                    let down = brokers.saturating_sub(up);
                    if down > seen.worst {
                        let mut at_worst: Vec<String> = members
                            .iter()
                            .filter(|pod| !is_ready(pod))
                            .map(|pod| describe(pod))
                            .collect();
                        let missing = brokers.saturating_sub(members.len());
                        if missing > 0 {
                            at_worst.push(format!("{missing} Pod(s) of {cluster} missing"));
                        }
                        seen = Unready {
                            worst: down,
                            at_worst,
                        };
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seen
    })
}
