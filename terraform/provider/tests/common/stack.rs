//! The control plane, served on 127.0.0.1 from the test's runtime.

use std::time::Duration;

use anyhow::Context;
use fjord_control_plane::{AppState, IntentSigner, app, jobs};
use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;
use terraform_provider_fjord::Client;
use tokio::task::JoinHandle;

use super::terraform::Workspace;

/// The release the tests' clusters start on, and the one they move to.
pub const RELEASE_OLD: &str = "0.3.0";
pub const RELEASE_NEW: &str = "0.4.0";

#[derive(Debug)]
pub struct Stack {
    pub url: String,
    pub api_key: String,
    pub http: reqwest::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Stack {
    /// Serves the API with one job worker (rollouts), an organization and
    /// two releases in the catalog.
    pub async fn start(pool: PgPool) -> anyhow::Result<Self> {
        let mut state = AppState::new(pool.clone(), IntentSigner::from_seed(&[7; 32]));
        state.jobs.idle_poll = std::time::Duration::from_millis(200);
        state.jobs.rollout_tick = std::time::Duration::from_millis(300);
        state.jobs.cluster_poll = std::time::Duration::from_millis(300);
        let mut tasks = vec![state.intents.listen(&pool).await?];
        tasks.extend(jobs::spawn_workers(&state, 1));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = app(state);
        tasks.push(tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("control plane stopped: {error}");
            }
        }));
        let api_key = fjord_control_plane::admin::create_organization(&pool, "acme").await?;
        for version in [RELEASE_OLD, RELEASE_NEW] {
            fjord_control_plane::admin::add_release(&pool, version, "stable", "test release")
                .await?;
        }
        Ok(Self {
            url,
            api_key,
            http: reqwest::Client::new(),
            tasks,
        })
    }

    /// A call to the REST API with the organization's admin key; returns
    /// the status and the JSON body (null if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.context("calling the control plane")?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status, body))
    }

    /// A Terraform working directory whose provider talks to this stack
    /// with the organization's admin key.
    pub fn workspace(&self) -> anyhow::Result<Workspace> {
        Workspace::new(&self.url, &self.api_key)
    }

    /// [`Stack::start`] and a Terraform working directory against it.
    pub async fn with_workspace(pool: PgPool) -> anyhow::Result<(Self, Workspace)> {
        let stack = Self::start(pool).await?;
        let workspace = stack.workspace()?;
        Ok((stack, workspace))
    }

    /// [`Stack::start`] and the provider's API client against it, with the
    /// organization's admin key; waits poll every second.
    pub async fn with_client(pool: PgPool) -> anyhow::Result<(Self, Client)> {
        let stack = Self::start(pool).await?;
        let client = Client::new(&stack.url, &stack.api_key, Duration::from_secs(1))?;
        Ok((stack, client))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.call(Method::GET, path, None).await?;
        anyhow::ensure!(status == 200, "GET {path}: {status} {body}");
        Ok(body)
    }
}
