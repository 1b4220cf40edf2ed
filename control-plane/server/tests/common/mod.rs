//! Drives the router with `oneshot`, against the fresh database
//! `#[sqlx::test]` gives each test.

#![allow(dead_code, unreachable_pub)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use fjord_control_plane::{AppState, IntentSigner, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

/// The seed every test signs intents with.
pub const SEED: [u8; 32] = [42; 32];

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    /// Asserts the status, and that an error body is a problem of `kind`.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.body
        );
        &self.body
    }

    #[track_caller]
    pub fn expect_problem(&self, status: StatusCode, kind: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.body
        );
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or("")),
            Some("application/problem+json"),
            "problems are application/problem+json"
        );
        assert_eq!(
            self.body["type"],
            format!("/problems/{kind}"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status.as_u16());
        &self.body
    }

    pub fn etag(&self) -> String {
        self.headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Debug, Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub pool: PgPool,
    listener: std::sync::Arc<StopOnDrop>,
}

/// Stops the intent listener with the test, so it returns its connection
/// and `#[sqlx::test]` can close the pool at once.
#[derive(Debug)]
struct StopOnDrop(tokio::task::JoinHandle<()>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TestApp {
    /// An app whose intent listener is already LISTENing.
    pub async fn new(pool: PgPool) -> anyhow::Result<Self> {
        Self::with_state(pool, |_| {}).await
    }

    /// An app whose state `configure` adjusted first (e.g. AWS settings).
    pub async fn with_state(
        pool: PgPool,
        configure: impl FnOnce(&mut AppState),
    ) -> anyhow::Result<Self> {
        let mut state = AppState::new(pool.clone(), IntentSigner::from_seed(&SEED));
        configure(&mut state);
        let listener = state.intents.listen(&pool).await?;
        Ok(Self {
            router: app(state.clone()),
            state,
            pool,
            listener: std::sync::Arc::new(StopOnDrop(listener)),
        })
    }

    /// A new organization; returns its admin key's secret.
    pub async fn organization(&self, name: &str) -> anyhow::Result<String> {
        fjord_control_plane::admin::create_organization(&self.pool, name).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Response> {
        let (status, headers, bytes) = self.send_raw(method, path, token, body, headers).await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Like [`Self::send`], with the body as sent (not decoded).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, HeaderMap, axum::body::Bytes)> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&body)?)
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(request.body(body)?).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, headers, bytes))
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Response> {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Response> {
        self.send(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Response> {
        self.send(Method::PATCH, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Response> {
        self.send(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> anyhow::Result<Response> {
        self.send(Method::DELETE, path, Some(token), None, &[])
            .await
    }
}

/// The ids of one organization's fully populated inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub key: String,
    pub api_key_id: String,
    pub cloud_account_id: String,
    pub environment_id: String,
    pub registration_token: String,
    pub cluster_id: String,
    pub topic_id: String,
}

fn id(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

/// Creates an organization with one of everything.
pub async fn populate(app: &TestApp, name: &str) -> anyhow::Result<Inventory> {
    let key = app.organization(name).await?;
    let api_key = app
        .post(
            "/v1/api-keys",
            &key,
            json!({"name": "ci", "scope": "read-only"}),
        )
        .await?;
    let api_key_id = id(
        &api_key.expect(StatusCode::CREATED)["api_key"],
        "api_key_id",
    );
    let account = app
        .post(
            "/v1/cloud-accounts",
            &key,
            json!({"name": "prod", "aws_account_id": "123456789012",
                   "role_arn": "arn:aws:iam::123456789012:role/fjord"}),
        )
        .await?;
    let cloud_account_id = id(account.expect(StatusCode::CREATED), "cloud_account_id");
    let environment = app
        .post(
            "/v1/environments",
            &key,
            json!({"name": "eu", "cloud_account_id": cloud_account_id, "region": "eu-west-1"}),
        )
        .await?;
    let created = environment.expect(StatusCode::CREATED);
    let environment_id = id(&created["environment"], "environment_id");
    let registration_token = id(created, "registration_token");
    let cluster = app
        .post(
            "/v1/clusters",
            &key,
            json!({"environment_id": environment_id, "name": "orders", "version": "0.1.0",
                   "broker_count": 3, "storage_gib": 100}),
        )
        .await?;
    let cluster_id = id(cluster.expect(StatusCode::CREATED), "cluster_id");
    let topic = app
        .post(
            "/v1/topics",
            &key,
            json!({"cluster_id": cluster_id, "name": "payments", "partitions": 6,
                   "replication_factor": 3, "config": {"retention.ms": "86400000"}}),
        )
        .await?;
    let topic_id = id(topic.expect(StatusCode::CREATED), "topic_id");
    Ok(Inventory {
        key,
        api_key_id,
        cloud_account_id,
        environment_id,
        registration_token,
        cluster_id,
        topic_id,
    })
}

/// Registers the agent of an environment; returns (credential, access token).
pub async fn connect_agent(
    app: &TestApp,
    registration_token: &str,
) -> anyhow::Result<(String, String)> {
    let registered = app
        .send(
            Method::POST,
            "/v1/agent/register",
            None,
            Some(json!({"registration_token": registration_token, "agent_version": "0.1.0"})),
            &[],
        )
        .await?;
    let credential = registered.expect(StatusCode::CREATED)["agent_credential"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = app
        .send(
            Method::POST,
            "/v1/agent/token",
            Some(&credential),
            None,
            &[],
        )
        .await?;
    let access = token.expect(StatusCode::CREATED)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((credential, access))
}

/// Moves the checks of cluster creations and deletions an hour out, so a
/// test that runs jobs one at a time runs only the ones it is about.
pub async fn park_cluster_operations(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "update job set run_after = now() + interval '1 hour'
         where kind in ('cluster.create', 'cluster.delete') and state = 'queued'",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The pinned key of `GET /v1/signing-key`'s answer.
pub fn pinned(key: &fjord_api::SigningKey) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    use base64::Engine as _;
    let public: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&key.public_key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("public key is not 32 bytes"))?;
    Ok(ed25519_dalek::VerifyingKey::from_bytes(&public)?)
}

/// What an agent does with a full intent: compute its document's content
/// hash from its objects, verify the signature over the statement with the
/// pinned key.
pub fn verify_intent(
    key: &fjord_api::SigningKey,
    intent: &fjord_api::Intent,
) -> anyhow::Result<fjord_api::IntentDocument> {
    let document = intent.document.clone();
    anyhow::ensure!(document.format == fjord_api::INTENT_FORMAT, "format");
    anyhow::ensure!(document.generation == intent.generation, "generation");
    anyhow::ensure!(document.content_hash == intent.content_hash, "hash");
    let hashes = fjord_api::ObjectHashes::of(&document.clusters);
    hashes.verify_signature(
        &pinned(key)?,
        document.organization_id,
        document.environment_id,
        document.generation,
        &intent.content_hash,
        &intent.signature,
    )?;
    Ok(document)
}

/// What an agent does with a delta: apply it to the held document's object
/// hashes, check their root and the signature, then apply it to the
/// document.
pub fn verify_delta(
    key: &ed25519_dalek::VerifyingKey,
    held: &fjord_api::IntentDocument,
    delta: &fjord_api::IntentDelta,
) -> anyhow::Result<fjord_api::IntentDocument> {
    let hashes = fjord_api::ObjectHashes::of(&held.clusters).apply(delta)?;
    hashes.verify_signature(
        key,
        held.organization_id,
        held.environment_id,
        delta.generation,
        &delta.content_hash,
        &delta.signature,
    )?;
    let document = held.apply(delta)?;
    assert_eq!(fjord_api::ObjectHashes::of(&document.clusters), hashes);
    Ok(document)
}

/// A signed-in console session: the cookie to send and the CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl Browser {
    /// Signs `email` in; fails unless the answer is 201.
    pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> anyhow::Result<Self> {
        Self::sign_in_with(app, json!({"email": email, "password": password})).await
    }

    /// Signs `email` in to `organization`.
    pub async fn sign_in_to(
        app: &TestApp,
        email: &str,
        password: &str,
        organization: &str,
    ) -> anyhow::Result<Self> {
        let body = json!({"email": email, "password": password, "organization": organization});
        Self::sign_in_with(app, body).await
    }

    async fn sign_in_with(app: &TestApp, body: Value) -> anyhow::Result<Self> {
        let response = app
            .send(Method::POST, "/v1/session", None, Some(body), &[])
            .await?;
        let body = response.expect(StatusCode::CREATED);
        let set_cookie = response
            .headers
            .get(header::SET_COOKIE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
        anyhow::ensure!(
            cookie.starts_with("fjord_session=fjs_"),
            "no session cookie: {set_cookie}"
        );
        Ok(Self {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Sends with the cookie and the CSRF token, as the console does.
    pub async fn send(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Response> {
        app.send(
            method,
            path,
            None,
            body,
            &[("cookie", &self.cookie), ("x-csrf-token", &self.csrf)],
        )
        .await
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> anyhow::Result<Response> {
        self.send(app, Method::GET, path, None).await
    }
}

/// Adds a user with a generated password to `organization`; returns the
/// password.
pub async fn add_user(
    app: &TestApp,
    organization: &str,
    email: &str,
    role: &str,
) -> anyhow::Result<String> {
    fjord_control_plane::admin::create_user(&app.pool, organization, email, role)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{email} already existed"))
}
