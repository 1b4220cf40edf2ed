//! What runs, as the control plane's status report: per cluster the phase,
//! version, ready brokers, conditions, the metrics the resources show and
//! the throughput the brokers' `/metrics` show and the consumer lag the
//! brokers answer through the Kafka protocol.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use k8s_openapi::api::core::v1::Pod;

use fjord_api::{AgentStatusReport, BROKERS_PER_CLUSTER_MAX, ClusterStatusReport, Condition};
use fjord_crd::{BrokerState, StreamCluster, StreamClusterPhase, Topic};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use uuid::Uuid;

use super::config::names;
use super::lag;
use super::scrape::{self, Rates};
use super::transport::Transport;
use crate::Result;
use crate::cluster::render::INSTANCE_LABEL;

/// Reads each broker's admin `/metrics` and keeps the rates' baselines.
#[derive(Debug)]
pub(crate) struct Scraper {
    http: Transport,
    port: u16,
    rates: Rates,
}

impl Scraper {
    /// Scrapes port `port` of each broker Pod (plain http inside the cluster).
    pub(crate) fn new(port: u16) -> Result<Self> {
        Ok(Self {
            http: Transport::new(None, Duration::from_secs(5), 4 << 20)?,
            port,
            rates: Rates::default(),
        })
    }

    /// The throughput of `cluster`'s brokers: only keys some broker gave a
    /// rate for. A broker that does not answer is left out this time.
    async fn throughput(
        &mut self,
        client: &Client,
        namespace: &str,
        cluster: &str,
    ) -> BTreeMap<String, f64> {
        let params = ListParams::default().labels(&format!("{INSTANCE_LABEL}={cluster}"));
        let pods = match Api::<Pod>::namespaced(client.clone(), namespace)
            .list(&params)
            .await
        {
            Ok(pods) => pods,
            Err(error) => {
                tracing::debug!(%error, cluster, "cannot list the broker pods");
                return BTreeMap::new();
            }
        };
        let mut scrapes = Vec::new();
        for pod in &pods {
            let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()) else {
                continue;
            };
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_owned()
            };
            let url = format!("http://{host}:{}/metrics", self.port);
            let Ok(request) = Request::get(&url).body(Full::<Bytes>::default()) else {
                continue;
            };
            match self.http.send(request).await {
                Ok(answer) if answer.status == StatusCode::OK => {
                    let text = String::from_utf8_lossy(&answer.body);
                    scrapes.push((url, scrape::parse(&text)));
                }
                Ok(answer) => {
                    tracing::debug!(%url, status = %answer.status, "broker metrics not served");
                }
                Err(error) => tracing::debug!(%url, %error, "broker metrics unreachable"),
            }
        }
        self.rates.update(cluster, Instant::now(), &scrapes)
    }
}

/// Reads the agent's StreamClusters and Topics in `namespace`.
pub(crate) async fn observe(
    client: &Client,
    namespace: &str,
    observed_generation: i64,
    agent_version: &str,
    scraper: &mut Scraper,
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
    let mut reports = Vec::new();
    for cluster in &clusters {
        let Some(cluster_id) = cluster
            .labels()
            .get(names::CLUSTER_ID_LABEL)
            .and_then(|id| id.parse().ok())
        else {
            continue;
        };
        let name = cluster.name_any();
        let mut report = cluster_report(cluster, cluster_id, per_cluster.get(&name));
        let throughput = scraper.throughput(client, namespace, &name).await;
        report.metrics.extend(throughput);
        if let Some(lag) = cluster_lag(cluster).await {
            report.metrics.insert(lag::CONSUMER_LAG_KEY.to_owned(), lag);
        }
        reports.push(report);
    }
    let clusters = reports;
    Ok(AgentStatusReport {
        observed_generation,
        agent_version: Some(agent_version.to_owned()),
        clusters,
    })
}

/// The cluster's consumer lag through its bootstrap address; left out
/// (`None`) while it has none or its brokers do not answer.
async fn cluster_lag(cluster: &StreamCluster) -> Option<f64> {
    let bootstrap = cluster.status.as_ref()?.bootstrap_address.as_deref()?;
    match lag::consumer_lag(bootstrap, Duration::from_secs(5)).await {
        // Records, reported as the metrics map's number.
        #[allow(clippy::cast_precision_loss, reason = "a count far below 2^53")]
        Ok(records) => Some(records as f64),
        Err(error) => {
            tracing::debug!(%error, bootstrap, "cannot read the consumer lag");
            None
        }
    }
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
    let brokers = brokers(&status.brokers);
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
        brokers,
        bootstrap_address: status
            .bootstrap_address
            .filter(|address| fjord_api::validate::bootstrap_address("", address).is_ok()),
    }
}

/// Each broker of the StreamCluster's status, as the control plane takes
/// it: at most [`BROKERS_PER_CLUSTER_MAX`], each id once, bounded strings,
/// lowercase states. `ready`: up, serving or in maintenance mode (a broker
/// enters maintenance during a roll while up, leadership drained).
fn brokers(brokers: &[fjord_crd::BrokerStatus]) -> Vec<fjord_api::BrokerStatus> {
    brokers
        .iter()
        .filter_map(|broker| {
            let broker_id = i32::try_from(broker.id).ok()?;
            let (state, ready) = match broker.state {
                BrokerState::Pending => ("pending", false),
                BrokerState::Starting => ("starting", false),
                BrokerState::Serving => ("serving", true),
                BrokerState::Maintenance => ("maintenance", true),
                BrokerState::Restarting => ("restarting", false),
                BrokerState::Decommissioning => ("decommissioning", false),
                BrokerState::Failed => ("failed", false),
            };
            let status = fjord_api::BrokerStatus {
                broker_id,
                version: broker.version.as_deref().map(|v| bounded(v, 100)),
                state: state.to_owned(),
                ready,
                rack: broker
                    .rack
                    .as_deref()
                    .filter(|rack| !rack.is_empty())
                    .map(|rack| bounded(rack, 63)),
            };
            Some((broker_id, status))
        })
        .collect::<BTreeMap<_, _>>()
        .into_values()
        .take(BROKERS_PER_CLUSTER_MAX)
        .collect()
}

/// At most `max` characters and no control characters: what the control
/// plane accepts.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use fjord_crd::{BrokerState, BrokerStatus};

    use super::brokers;

    fn broker(id: u32, state: BrokerState) -> BrokerStatus {
        BrokerStatus {
            id,
            pod: format!("orders-{id}"),
            version: Some("0.1.0".to_owned()),
            state,
            rack: None,
        }
    }

    #[test]
    fn brokers_are_reported_by_id_in_lowercase_with_readiness() {
        let reported = brokers(&[
            broker(2, BrokerState::Starting),
            broker(0, BrokerState::Serving),
            broker(1, BrokerState::Maintenance),
        ]);
        let seen: Vec<_> = reported
            .iter()
            .map(|b| (b.broker_id, b.state.as_str(), b.ready))
            .collect();
        assert_eq!(
            seen,
            [
                (0, "serving", true),
                (1, "maintenance", true),
                (2, "starting", false)
            ]
        );
        assert!(fjord_api::BrokerStatus::validate(&reported[0]).is_ok());
    }

    #[test]
    fn what_the_control_plane_would_refuse_is_cut_or_left_out() {
        let mut long = broker(3, BrokerState::Failed);
        long.version = Some(format!("0.1.0\n{}", "x".repeat(300)));
        long.rack = Some(String::new());
        let mut many: Vec<_> = (0..300)
            .map(|id| broker(id, BrokerState::Pending))
            .collect();
        many.push(broker(u32::MAX, BrokerState::Serving));
        many.push(long);
        let reported = brokers(&many);
        assert_eq!(reported.len(), fjord_api::BROKERS_PER_CLUSTER_MAX);
        assert!(reported.iter().all(|b| b.broker_id < 300));
        let failed = brokers(&[many.pop().expect("pushed above")]);
        assert_eq!(
            failed[0].version.as_ref().map(|v| v.chars().count()),
            Some(100)
        );
        assert_eq!(failed[0].rack, None);
        assert_eq!(fjord_api::validate_brokers(&reported), Ok(()));
        assert_eq!(fjord_api::validate_brokers(&failed), Ok(()));
    }
}
