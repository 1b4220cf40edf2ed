//! Plays an environment's agent through the control plane's agent API:
//! registers with the one-time token, follows intents and reports each
//! cluster `creating` (or `upgrading`) for [`SETTLE`] after its spec
//! changes, then `ready` at the desired version with every broker ready.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use fjord_api::{AccessToken, AgentRegistration, BrokerStatus, ClusterStatusReport, Intent};
use serde_json::json;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How long a cluster takes to settle after its spec changes.
pub const SETTLE: Duration = Duration::from_millis(1500);

#[derive(Debug)]
pub struct Agent {
    task: JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the agent runs for one cluster.
#[derive(Debug)]
struct Running {
    version: String,
    broker_count: i32,
    /// The version it ran before the latest change (None while creating).
    previous_version: Option<String>,
    changed_at: Instant,
}

impl Agent {
    pub async fn register(url: &str, registration_token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let registration: AgentRegistration = http
            .post(format!("{url}/v1/agent/register"))
            .json(&json!({"registration_token": registration_token, "agent_version": "test-agent"}))
            .send()
            .await?
            .error_for_status()
            .context("registering the agent")?
            .json()
            .await?;
        let token: AccessToken = http
            .post(format!("{url}/v1/agent/token"))
            .bearer_auth(&registration.agent_credential)
            .send()
            .await?
            .error_for_status()
            .context("getting an access token")?
            .json()
            .await?;
        let url = url.to_owned();
        let task = tokio::spawn(async move {
            if let Err(error) = follow(http, url, token.access_token).await {
                eprintln!("test agent stopped: {error:#}");
            }
        });
        Ok(Self { task })
    }
}

async fn follow(http: reqwest::Client, url: String, token: String) -> anyhow::Result<()> {
    let mut generation = 0_i64;
    let mut running: BTreeMap<Uuid, Running> = BTreeMap::new();
    loop {
        let response = http
            .get(format!(
                "{url}/v1/agent/intents?after={generation}&wait_seconds=1"
            ))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
        if response.status() == reqwest::StatusCode::OK {
            let intent: Intent = response.json().await?;
            generation = intent.generation;
            let wanted: Vec<Uuid> = intent
                .document
                .clusters
                .iter()
                .map(|c| c.cluster_id)
                .collect();
            running.retain(|id, _| wanted.contains(id));
            for cluster in intent.document.clusters {
                let entry = running
                    .entry(cluster.cluster_id)
                    .or_insert_with(|| Running {
                        version: cluster.version.clone(),
                        broker_count: cluster.broker_count,
                        previous_version: None,
                        changed_at: Instant::now(),
                    });
                if entry.version != cluster.version || entry.broker_count != cluster.broker_count {
                    let settled = entry.changed_at.elapsed() >= SETTLE;
                    entry.previous_version = if settled {
                        Some(entry.version.clone())
                    } else {
                        entry.previous_version.clone()
                    };
                    entry.version = cluster.version;
                    entry.broker_count = cluster.broker_count;
                    entry.changed_at = Instant::now();
                }
            }
        }
        let clusters = running
            .iter()
            .map(|(id, cluster)| {
                let settled = cluster.changed_at.elapsed() >= SETTLE;
                let (phase, version) = match (settled, &cluster.previous_version) {
                    (true, _) => ("ready", Some(cluster.version.clone())),
                    (false, None) => ("creating", None),
                    (false, Some(previous)) => ("upgrading", Some(previous.clone())),
                };
                ClusterStatusReport {
                    cluster_id: *id,
                    phase: phase.to_owned(),
                    version: version.clone(),
                    brokers_ready: Some(if settled { cluster.broker_count } else { 0 }),
                    conditions: Vec::new(),
                    metrics: BTreeMap::new(),
                    brokers: (0..cluster.broker_count)
                        .map(|broker_id| BrokerStatus {
                            broker_id,
                            version: version.clone(),
                            state: if settled { "serving" } else { "starting" }.to_owned(),
                            ready: settled,
                            rack: None,
                        })
                        .collect(),
                    bootstrap_address: Some(format!("{id}.fjord.test:9092")),
                }
            })
            .collect::<Vec<_>>();
        http.post(format!("{url}/v1/agent/status"))
            .bearer_auth(&token)
            .json(&json!({"observed_generation": generation, "agent_version": "test-agent", "clusters": clusters}))
            .send()
            .await?
            .error_for_status()
            .context("reporting status")?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
