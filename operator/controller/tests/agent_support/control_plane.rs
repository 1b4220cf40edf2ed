//! The control plane under test, served over HTTP on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use fjord_control_plane::{AppState, IntentSigner, app};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The seed the control plane signs intents with.
pub const SEED: [u8; 32] = [42; 32];

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (without_query, query) = url
        .split_once('?')
        .map_or((url, None), |(a, b)| (a, Some(b)));
    let scheme_end = without_query
        .find("://")
        .context("DATABASE_URL has no scheme")?
        + 3;
    let authority_end = without_query[scheme_end..]
        .find('/')
        .map_or(without_query.len(), |slash| scheme_end + slash);
    let mut result = format!("{}/{database}", &without_query[..authority_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    Ok(result)
}

/// One replica: an app state with its intent listener, served on `address`.
#[derive(Debug)]
pub struct Replica {
    pub address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
    listener: tokio::task::JoinHandle<()>,
}

impl Replica {
    /// Serves on `address` (port 0: any).
    pub async fn start(pool: &PgPool, address: SocketAddr) -> anyhow::Result<Self> {
        let mut state = AppState::new(pool.clone(), IntentSigner::from_seed(&SEED));
        state.agent.disconnected_after = Duration::from_secs(2);
        let listener = state.intents.listen(pool).await?;
        let socket = tokio::net::TcpListener::bind(address).await?;
        let address = socket.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let _ = axum::serve(socket, app(state))
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            address,
            stop: Some(stop),
            serving: Some(serving),
            listener,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops serving: new connections are refused; open long-polls end
    /// within their wait.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), serving).await;
        }
        self.listener.abort();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(serving) = &self.serving {
            serving.abort();
        }
        self.listener.abort();
    }
}

/// A control plane on its own database.
#[derive(Debug)]
pub struct ControlPlane {
    pub pool: PgPool,
    database: String,
    server: PgPool,
    /// Where the agent connects; tests stop and restart it.
    pub agent_replica: Replica,
    /// Where the user's API calls go; always up.
    pub user_replica: Replica,
}

impl ControlPlane {
    pub async fn start() -> anyhow::Result<Self> {
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let database = format!("fjord_agent_test_{}", uuid::Uuid::now_v7().simple());
        let server = fjord_store::connect(&url, 1).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {database}")))
            .execute(&server)
            .await
            .with_context(|| format!("cannot create database {database}"))?;
        let pool = fjord_store::connect(&with_database(&url, &database)?, 8).await?;
        fjord_store::migrate(&pool).await?;
        let any: SocketAddr = "127.0.0.1:0".parse()?;
        let agent_replica = Replica::start(&pool, any).await?;
        let user_replica = Replica::start(&pool, any).await?;
        Ok(Self {
            pool,
            database,
            server,
            agent_replica,
            user_replica,
        })
    }

    /// Stops the agent's replica (the agent finds nothing at its address).
    pub async fn cut_agent_off(&mut self) {
        self.agent_replica.stop().await;
    }

    /// Serves the agent's replica again at the same address.
    pub async fn reconnect_agent(&mut self) -> anyhow::Result<()> {
        let address = self.agent_replica.address;
        self.agent_replica = Replica::start(&self.pool, address).await?;
        Ok(())
    }

    /// A new organization with a cloud account; its admin user.
    pub async fn user(&self, name: &str) -> anyhow::Result<User> {
        let key = fjord_control_plane::admin::create_organization(&self.pool, name).await?;
        let user = User {
            http: reqwest::Client::new(),
            base: self.user_replica.url(),
            key,
        };
        let account = user
            .call(
                Method::POST,
                "/v1/cloud-accounts",
                Some(json!({"name": "prod", "aws_account_id": "123456789012",
                            "role_arn": "arn:aws:iam::123456789012:role/fjord"})),
            )
            .await?;
        anyhow::ensure!(account.0 == 201, "cloud account: {}", account.1);
        Ok(user)
    }

    /// Drops the database (call at the end of a test).
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.agent_replica.stop().await;
        self.user_replica.stop().await;
        self.pool.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.database
        )))
        .execute(&self.server)
        .await?;
        Ok(())
    }
}

/// A user of the public REST API with an admin key.
#[derive(Debug, Clone)]
pub struct User {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl User {
    /// One call; returns the status and the JSON body (null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status, body))
    }

    /// Calls and expects `status`; returns the body.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> anyhow::Result<Value> {
        let (got, body) = self.call(method.clone(), path, body).await?;
        anyhow::ensure!(got == status, "{method} {path}: {got} {body}");
        Ok(body)
    }

    /// A new environment: (environment id, registration token).
    pub async fn environment(&self, name: &str) -> anyhow::Result<(String, String)> {
        let accounts = self
            .expect(Method::GET, "/v1/cloud-accounts", None, 200)
            .await?;
        let account = accounts["items"][0]["cloud_account_id"].clone();
        let created = self
            .expect(
                Method::POST,
                "/v1/environments",
                Some(json!({"name": name, "cloud_account_id": account, "region": "eu-west-1"})),
                201,
            )
            .await?;
        Ok((
            created["environment"]["environment_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            created["registration_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ))
    }

    /// The environment as the vendor sees it.
    pub async fn environment_view(&self, environment_id: &str) -> anyhow::Result<Value> {
        self.expect(
            Method::GET,
            &format!("/v1/environments/{environment_id}"),
            None,
            200,
        )
        .await
    }

    /// A cluster of `version` with one topic `payments` (6 partitions);
    /// returns (cluster id, topic id).
    pub async fn cluster(
        &self,
        environment_id: &str,
        name: &str,
        version: &str,
    ) -> anyhow::Result<(String, String)> {
        let cluster = self
            .expect(
                Method::POST,
                "/v1/clusters",
                Some(
                    json!({"environment_id": environment_id, "name": name, "version": version,
                            "broker_count": 3, "storage_gib": 100}),
                ),
                201,
            )
            .await?;
        let cluster_id = cluster["cluster_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let topic = self
            .expect(
                Method::POST,
                "/v1/topics",
                Some(
                    json!({"cluster_id": cluster_id, "name": "payments", "partitions": 6,
                            "replication_factor": 3, "config": {"retention.ms": "86400000"}}),
                ),
                201,
            )
            .await?;
        let topic_id = topic["topic_id"].as_str().unwrap_or_default().to_owned();
        Ok((cluster_id, topic_id))
    }

    /// The signing key as `GET /v1/signing-key` shows it (public, no auth).
    pub async fn signing_key(&self) -> anyhow::Result<(String, String)> {
        let key: Value = self
            .http
            .get(format!("{}/v1/signing-key", self.base))
            .send()
            .await?
            .json()
            .await?;
        Ok((
            key["public_key"].as_str().unwrap_or_default().to_owned(),
            key["key_id"].as_str().unwrap_or_default().to_owned(),
        ))
    }
}
