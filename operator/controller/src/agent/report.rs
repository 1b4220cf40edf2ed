//! What runs, as the control plane's status report: per cluster the phase,
//! version, ready brokers, conditions and the metrics the resources show.

use std::collections::BTreeMap;

use fjord_api::{AgentStatusReport, ClusterStatusReport, Condition};
use fjord_crd::{StreamCluster, StreamClusterPhase, Topic};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use uuid::Uuid;

use super::config::names;
use crate::Result;

/// Reads the agent's StreamClusters and Topics in `namespace`.
pub(crate) async fn observe(
    client: &Client,
    namespace: &str,
    observed_generation: i64,
    agent_version: &str,
) -> Result<AgentStatusReport> {
    let selector = format!("{}={}", names::MANAGED_BY_LABEL, names::MANAGED_BY_VALUE);
    let params = ListParams::default().labels(&selector);
    let clusters = Api::<StreamCluster>::namespaced(client.clone(), namespace)
        .list(&params)
        .await?;
    let topics = Api::<Topic>::namespaced(client.clone(), namespace)
        .list(&params)
        .await?;
    let mut per_cluster: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for topic in &topics {
        let entry = per_cluster
            .entry(topic.spec.cluster_ref.clone())
            .or_default();
        entry.0 += 1.0;
        entry.1 += f64::from(topic.spec.partitions);
    }
    let clusters = clusters
        .iter()
        .filter_map(|cluster| {
            let cluster_id = cluster
                .labels()
                .get(names::CLUSTER_ID_LABEL)?
                .parse()
                .ok()?;
            Some(cluster_report(
                cluster,
                cluster_id,
                per_cluster.get(&cluster.name_any()),
            ))
        })
        .collect();
    Ok(AgentStatusReport {
        observed_generation,
        agent_version: Some(agent_version.to_owned()),
        clusters,
    })
}

fn cluster_report(
    cluster: &StreamCluster,
    cluster_id: Uuid,
    topics: Option<&(f64, f64)>,
) -> ClusterStatusReport {
    let status = cluster.status.clone().unwrap_or_default();
    let phase = match status.phase {
        StreamClusterPhase::Pending => "pending",
        StreamClusterPhase::Provisioning => "provisioning",
        StreamClusterPhase::Ready => "ready",
        StreamClusterPhase::Upgrading => "upgrading",
        StreamClusterPhase::Degraded => "degraded",
        StreamClusterPhase::Failed => "failed",
    };
    let conditions = status
        .conditions
        .iter()
        .take(32)
        .map(|condition| Condition {
            condition_type: bounded(&condition.condition_type, 100),
            status: format!("{:?}", condition.status),
            reason: bounded(&condition.reason, 200),
            message: bounded(&condition.message, 2000),
        })
        .collect();
    let (topic_count, partitions) = topics.copied().unwrap_or_default();
    let metrics = BTreeMap::from([
        (
            "brokers_declared".to_owned(),
            f64::from(cluster.spec.brokers),
        ),
        ("brokers_ready".to_owned(), f64::from(status.ready_brokers)),
        ("topics".to_owned(), topic_count),
        ("partitions".to_owned(), partitions),
    ]);
    ClusterStatusReport {
        cluster_id,
        phase: phase.to_owned(),
        version: status.current_version.map(|version| bounded(&version, 100)),
        brokers_ready: Some(i32::from(status.ready_brokers)),
        conditions,
        metrics,
    }
}

/// At most `max` characters and no control characters: what the control
/// plane accepts.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}
