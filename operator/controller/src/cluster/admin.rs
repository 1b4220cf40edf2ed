//! The brokers' admin API as the cluster controller uses it (health, restart
//! probe, maintenance; `data-plane/broker/src/cluster/http.rs`; live
//! settings, `data-plane/broker/src/live/http.rs`), behind a trait so
//! reconcile tests can stand in for the brokers.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use fjord_metadata::BrokerId;
use futures::future::BoxFuture;
use serde::Deserialize;

use crate::{Error, Result};

/// `GET /v1/cluster/health`, the parts the controller reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ClusterHealth {
    /// Every broker serving, nothing under-replicated, leaderless or offline,
    /// a controller leader, and the answering broker serving.
    pub healthy: bool,
    /// The controller group's leader.
    #[serde(default)]
    pub controller: Option<u32>,
    #[serde(default)]
    pub brokers: Vec<BrokerHealth>,
    #[serde(default)]
    pub under_replicated: Vec<String>,
}

/// One broker in [`ClusterHealth`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BrokerHealth {
    pub id: u32,
    /// `catching_up`, `fenced` or `serving`.
    pub state: String,
    #[serde(default)]
    pub maintenance: bool,
    #[serde(default)]
    pub leaderships: usize,
}

/// `GET /v1/brokers/{id}/restart-probe`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RestartProbe {
    pub safe: bool,
    #[serde(default)]
    pub at_risk: Vec<String>,
    #[serde(default)]
    pub catching_up: Vec<u32>,
}

impl RestartProbe {
    /// Why the restart is not safe, for a person; `None` when it is.
    pub fn unsafe_reason(&self, broker: BrokerId) -> Option<String> {
        if self.safe {
            return None;
        }
        let mut parts = Vec::new();
        if !self.at_risk.is_empty() {
            parts.push(format!(
                "restarting broker {} would leave {} without a quorum",
                broker.0,
                self.at_risk.join(", ")
            ));
        }
        if !self.catching_up.is_empty() {
            let ids: Vec<String> = self.catching_up.iter().map(u32::to_string).collect();
            parts.push(format!("broker {} still catching up", ids.join(", ")));
        }
        if parts.is_empty() {
            parts.push(format!("restarting broker {} is not safe", broker.0));
        }
        Some(parts.join("; "))
    }
}

/// `GET|PUT /v1/brokers/{id}/decommission`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Decommission {
    pub decommissioning: bool,
    /// Partitions still listing the broker as a replica (0: it may go).
    pub replicas: usize,
}

/// One setting of `GET /v1/config`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LiveSetting {
    pub value: serde_json::Value,
    /// `static` (read at start) or `dynamic` (set through the admin API).
    pub source: String,
    /// What the broker would have with the setting unset.
    pub default: serde_json::Value,
}

/// `GET /v1/config`: one broker's live settings, by config-file key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LiveSettings {
    pub settings: BTreeMap<String, LiveSetting>,
}

/// What the controller asks of the brokers. `endpoint` is a broker's admin
/// base URL (`http://10.0.0.1:9644`); any serving broker answers for all.
pub trait BrokerAdmin: Send + Sync {
    fn health<'a>(&'a self, endpoint: &'a str) -> BoxFuture<'a, Result<ClusterHealth>>;
    fn restart_probe<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<RestartProbe>>;
    fn set_maintenance<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
        on: bool,
    ) -> BoxFuture<'a, Result<()>>;
    /// The broker's decommission; `None` when the brokers do not know it.
    fn decommission<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<Option<Decommission>>>;
    /// Starts moving every replica off the broker.
    fn start_decommission<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<Decommission>>;
    /// Forgets a decommissioned broker that hosts nothing and is stopped;
    /// `false` when the brokers refuse (it still hosts replicas).
    fn remove_broker<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<bool>>;
    /// The live settings of the broker at `endpoint` (each broker answers
    /// for itself only).
    fn live_settings<'a>(&'a self, endpoint: &'a str) -> BoxFuture<'a, Result<LiveSettings>>;
    /// Sets live settings on the broker at `endpoint`, all or none.
    fn set_live_settings<'a>(
        &'a self,
        endpoint: &'a str,
        change: &'a serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'a, Result<()>>;
}

/// The admin API over HTTP.
#[derive(Clone)]
pub struct HttpBrokerAdmin {
    client: reqwest::Client,
}

impl fmt::Debug for HttpBrokerAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpBrokerAdmin").finish_non_exhaustive()
    }
}

impl Default for HttpBrokerAdmin {
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

impl HttpBrokerAdmin {
    /// A client whose requests give up after `timeout` (setting maintenance
    /// waits for the controller to commit it).
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, endpoint: &str, path: &str) -> Result<T> {
        self.call(reqwest::Method::GET, endpoint, path).await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        endpoint: &str,
        path: &str,
    ) -> Result<T> {
        let url = format!("{endpoint}{path}");
        let failed = |problem: String| Error::BrokerAdmin {
            endpoint: url.clone(),
            problem,
        };
        let response = self
            .client
            .request(method, &url)
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(failed(format!("{status}: {}", body.trim())));
        }
        response
            .json()
            .await
            .map_err(|error| failed(error.to_string()))
    }
}

impl HttpBrokerAdmin {
    /// Sends `body`; success is any 2xx, whatever it answers.
    async fn send_json(
        &self,
        method: reqwest::Method,
        url: String,
        body: &impl serde::Serialize,
    ) -> Result<()> {
        let failed = |problem: String| Error::BrokerAdmin {
            endpoint: url.clone(),
            problem,
        };
        let response = self
            .client
            .request(method, &url)
            .json(body)
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = response.text().await.unwrap_or_default();
            Err(failed(format!("{status}: {}", body.trim())))
        }
    }
}

impl BrokerAdmin for HttpBrokerAdmin {
    fn live_settings<'a>(&'a self, endpoint: &'a str) -> BoxFuture<'a, Result<LiveSettings>> {
        Box::pin(self.get(endpoint, "/v1/config"))
    }

    fn set_live_settings<'a>(
        &'a self,
        endpoint: &'a str,
        change: &'a serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let url = format!("{endpoint}/v1/config");
            self.send_json(reqwest::Method::PATCH, url, change).await
        })
    }

    fn health<'a>(&'a self, endpoint: &'a str) -> BoxFuture<'a, Result<ClusterHealth>> {
        Box::pin(self.get(endpoint, "/v1/cluster/health"))
    }

    fn restart_probe<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<RestartProbe>> {
        Box::pin(async move {
            self.get(endpoint, &format!("/v1/brokers/{}/restart-probe", broker.0))
                .await
        })
    }

    fn set_maintenance<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
        on: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let url = format!("{endpoint}/v1/brokers/{}/maintenance", broker.0);
            let body = serde_json::json!({ "on": on });
            self.send_json(reqwest::Method::PUT, url, &body).await
        })
    }

    fn decommission<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<Option<Decommission>>> {
        Box::pin(async move {
            let url = format!("{endpoint}/v1/brokers/{}/decommission", broker.0);
            let failed = |problem: String| Error::BrokerAdmin {
                endpoint: url.clone(),
                problem,
            };
            let response = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|error| failed(error.to_string()))?;
            match response.status() {
                reqwest::StatusCode::NOT_FOUND => Ok(None),
                status if status.is_success() => response
                    .json()
                    .await
                    .map(Some)
                    .map_err(|error| failed(error.to_string())),
                status => Err(failed(status.to_string())),
            }
        })
    }

    fn start_decommission<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<Decommission>> {
        Box::pin(async move {
            let path = format!("/v1/brokers/{}/decommission", broker.0);
            self.call(reqwest::Method::PUT, endpoint, &path).await
        })
    }

    fn remove_broker<'a>(
        &'a self,
        endpoint: &'a str,
        broker: BrokerId,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let url = format!("{endpoint}/v1/brokers/{}", broker.0);
            let response =
                self.client
                    .delete(&url)
                    .send()
                    .await
                    .map_err(|error| Error::BrokerAdmin {
                        endpoint: url.clone(),
                        problem: error.to_string(),
                    })?;
            match response.status() {
                status if status.is_success() => Ok(true),
                reqwest::StatusCode::NOT_FOUND => Ok(true),
                reqwest::StatusCode::CONFLICT => Ok(false),
                status => Err(Error::BrokerAdmin {
                    endpoint: url,
                    problem: status.to_string(),
                }),
            }
        })
    }
}
