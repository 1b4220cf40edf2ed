//! The inventory the bench works on, created through the API.

use anyhow::{Context, bail};
use reqwest::{Client, Method};
use serde_json::{Value, json};

/// Environments (one cluster each) that writes spread over, so topic
/// creation does not grow one intent without bound.
const ENVIRONMENTS: usize = 8;

/// What the bench reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct Inventory {
    pub(crate) client: Client,
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) cluster_ids: Vec<String>,
    /// The first environment's one-time registration token.
    pub(crate) registration_token: String,
}

impl Inventory {
    pub(crate) async fn create(base: &str, key: &str) -> anyhow::Result<Self> {
        let client = Client::builder().pool_max_idle_per_host(256).build()?;
        let mut inventory = Self {
            client,
            base: base.to_owned(),
            key: key.to_owned(),
            cluster_ids: Vec::new(),
            registration_token: String::new(),
        };
        let account = inventory
            .send(
                Method::POST,
                "/v1/cloud-accounts",
                Some(json!({"name": "bench", "aws_account_id": "123456789012",
                       "role_arn": "arn:aws:iam::123456789012:role/fjord"})),
            )
            .await?;
        for index in 0..ENVIRONMENTS {
            let environment = inventory
                .send(
                    Method::POST,
                    "/v1/environments",
                    Some(
                        json!({"name": format!("env-{index}"), "region": "eu-west-1",
                           "cloud_account_id": account["cloud_account_id"]}),
                    ),
                )
                .await?;
            if index == 0 {
                inventory.registration_token = text(&environment, "registration_token")?;
            }
            let cluster = inventory
                .send(
                    Method::POST,
                    "/v1/clusters",
                    Some(
                        json!({"environment_id": environment["environment"]["environment_id"],
                           "name": "orders", "version": "0.1.0", "broker_count": 3,
                           "storage_gib": 100}),
                    ),
                )
                .await?;
            inventory.cluster_ids.push(text(&cluster, "cluster_id")?);
        }
        Ok(inventory)
    }

    /// One API call with the organization's key; the JSON body of a 2xx.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// A string field of a response.
pub(crate) fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {field} in {value}"))
}
