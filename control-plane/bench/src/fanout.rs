//! How long a new intent takes to reach many long-polling agents: `n`
//! simulated agents of one environment (one connection each) wait on
//! `GET /v1/agent/intents`; once the server counts them all as waiting,
//! one cluster change is made, and each agent's latency runs from sending
//! that change to having read the new generation's body.
//!
//! Each agent count runs twice: agents asking for the full intent, and
//! agents holding the previous generation that ask for a delta
//! (`delta=true`) and verify it as an agent must before it counts as
//! received: the held object hashes with the delta applied must have the
//! delta's content hash, and the ed25519 signature must verify over the
//! new generation's statement with the pinned key.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use fjord_api::{INTENT_DELTA_JSON, Intent, IntentDelta, IntentDocument, ObjectHashes, SigningKey};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::report::{FanoutResult, Latencies};
use crate::setup::{Inventory, text};

/// Agents started at once while ramping up; the server's pool has 16
/// connections and each new long-poll makes two queries.
const RAMP_BATCH: usize = 500;

/// Topics the fan-out environment's cluster has before fan-out: a full
/// run's write phases leave about this many, so `--fanout-only` sends an
/// intent of the same size (~125 KiB of JSON).
const TOPICS: usize = 360;

/// What the agents ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The whole intent.
    Full,
    /// The change from the generation they hold (`delta=true`).
    Delta,
    /// Diagnostic (`--unverified-deltas`): deltas read and decoded but not
    /// verified, so the agents' CPU hides less of the server's part. Not
    /// how an agent may treat a delta.
    DeltaUnverified,
}

impl Mode {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Delta => "delta",
            Self::DeltaUnverified => "delta-unverified",
        }
    }
}

/// Registers the first environment's agent; returns an access token.
pub(crate) async fn connect(inventory: &Inventory) -> anyhow::Result<String> {
    let client = &inventory.client;
    let registered: Value = client
        .post(format!("{}/v1/agent/register", inventory.base))
        .json(&json!({"registration_token": inventory.registration_token}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let credential = text(&registered, "agent_credential")?;
    let token: Value = client
        .post(format!("{}/v1/agent/token", inventory.base))
        .bearer_auth(credential)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = text(&token, "access_token")?;
    fill_topics(inventory, &token).await?;
    Ok(token)
}

/// Creates topics in the fan-out cluster until it has [`TOPICS`].
async fn fill_topics(inventory: &Inventory, token: &str) -> anyhow::Result<()> {
    let url = format!("{}/v1/agent/intents", inventory.base);
    let key = pinned_key(&inventory.client, &inventory.base).await?;
    let intent = latest(&inventory.client, &url, token, &key).await?;
    let have = intent
        .document
        .clusters
        .iter()
        .map(|c| c.topics.len())
        .sum::<usize>();
    eprintln!(
        "intent fan-out: {have} topics, creating {}",
        TOPICS.saturating_sub(have)
    );
    let names: Vec<usize> = (have..TOPICS).collect();
    for chunk in names.chunks(8) {
        let creates = chunk.iter().map(|index| {
            inventory.send(
                Method::POST,
                "/v1/topics",
                Some(json!({"cluster_id": inventory.cluster_ids[0],
                    "name": format!("fanout-{index}"), "partitions": 6,
                    "replication_factor": 3, "config": {"retention.ms": "86400000"}})),
            )
        });
        for created in futures::future::join_all(creates).await {
            created?;
        }
    }
    Ok(())
}

pub(crate) async fn run(
    inventory: &Inventory,
    token: &str,
    agents: usize,
    mode: Mode,
) -> anyhow::Result<FanoutResult> {
    eprintln!(
        "intent fan-out: starting {agents} long-polling agents ({})",
        mode.label()
    );
    // One client per run so its connections close with it.
    let client = Client::builder()
        .timeout(crate::server::LONG_POLL + Duration::from_secs(60))
        .build()?;
    let url = format!("{}/v1/agent/intents", inventory.base);
    // Every agent holds this generation, verified; they share one copy of
    // it and its object hashes here.
    let key = pinned_key(&client, &inventory.base).await?;
    let held = latest(&client, &url, token, &key).await?;
    let generation = held.document.generation;
    let held = Arc::new(held);
    let mut tasks = Vec::with_capacity(agents);
    while tasks.len() < agents {
        for _ in 0..RAMP_BATCH.min(agents - tasks.len()) {
            let (client, url, token) = (client.clone(), url.clone(), token.to_owned());
            let held = Arc::clone(&held);
            tasks.push(tokio::spawn(async move {
                poll(&client, &url, &token, mode, &held).await
            }));
        }
        wait_for_waiters(&client, &inventory.base, tasks.len()).await?;
    }
    eprintln!("intent fan-out: {agents} agents waiting, changing the cluster");
    let start = Instant::now();
    inventory
        .send(
            Method::PATCH,
            &format!("/v1/clusters/{}", inventory.cluster_ids[0]),
            Some(json!({"config": {"retention.ms": format!("{}", generation + 1)}})),
        )
        .await?;
    let change = start.elapsed();
    let mut latencies = Vec::with_capacity(agents);
    let mut read = Vec::with_capacity(agents);
    for task in futures::future::join_all(tasks).await {
        let (body_read, inflated) = task??;
        latencies.push(inflated.duration_since(start));
        read.push(body_read.duration_since(start));
    }
    Ok(FanoutResult {
        agents,
        mode: mode.label(),
        latencies: Latencies::new(latencies),
        read: Latencies::new(read),
        change,
    })
}

/// A verified generation as an agent holds it.
struct Held {
    key: VerifyingKey,
    document: IntentDocument,
    hashes: ObjectHashes,
}

impl Held {
    /// Verifies `delta` against this generation: the content hash of the
    /// object hashes with the delta applied, then the signature over the
    /// new generation's statement. (A real agent then applies the changes
    /// to its own document in place; these agents share one document, so
    /// they stop at verification.)
    fn verify(&self, delta: &IntentDelta) -> anyhow::Result<()> {
        ensure!(
            delta.from_generation == self.document.generation,
            "a delta from another generation"
        );
        let hashes = self.hashes.apply(delta)?;
        hashes.verify_signature(
            &self.key,
            self.document.organization_id,
            self.document.environment_id,
            delta.generation,
            &delta.content_hash,
            &delta.signature,
        )?;
        Ok(())
    }
}

/// The pinned key, from `GET /v1/signing-key`.
async fn pinned_key(client: &Client, base: &str) -> anyhow::Result<VerifyingKey> {
    let key: SigningKey = client
        .get(format!("{base}/v1/signing-key"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let public: [u8; 32] = STANDARD
        .decode(&key.public_key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the signing key is not 32 bytes"))?;
    Ok(VerifyingKey::from_bytes(&public)?)
}

/// The latest intent, verified.
async fn latest(
    client: &Client,
    url: &str,
    token: &str,
    key: &VerifyingKey,
) -> anyhow::Result<Held> {
    let body = client
        .get(format!("{url}?after=0&wait_seconds=0"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let intent: Intent = serde_json::from_slice(&body)?;
    let document = intent.document;
    let hashes = ObjectHashes::of(&document.clusters);
    hashes.verify_signature(
        key,
        document.organization_id,
        document.environment_id,
        document.generation,
        &intent.content_hash,
        &intent.signature,
    )?;
    Ok(Held {
        key: *key,
        document,
        hashes,
    })
}

/// What the simulated agents decode of a full intent.
#[derive(Debug, serde::Deserialize)]
struct Received {
    generation: i64,
}

/// One agent: long-polls until a generation above `after` arrives; returns
/// when its compressed body was read and when it was inflated (and, for a
/// delta, verified against `held`). Asks for gzip, as agents should.
/// Retries what fails while ramping up.
async fn poll(
    client: &Client,
    url: &str,
    token: &str,
    mode: Mode,
    held: &Held,
) -> anyhow::Result<(Instant, Instant)> {
    let after = held.document.generation;
    let mut failures = 0;
    let ask_delta = mode != Mode::Full;
    loop {
        let response = client
            .get(format!(
                "{url}?after={after}&wait_seconds={}&delta={}",
                crate::server::LONG_POLL.as_secs(),
                ask_delta
            ))
            .bearer_auth(token)
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .await;
        match response {
            Ok(response) if response.status() == StatusCode::OK => {
                // The whole body is read and decompressed and checked to be
                // JSON, but only the generation is decoded: 10,000 simulated
                // agents share the server's cores, and decoding every
                // document into a tree here would measure this client rather
                // than the fan-out.
                let gzip = response
                    .headers()
                    .get(CONTENT_ENCODING)
                    .is_some_and(|encoding| encoding == "gzip");
                ensure!(gzip, "the server ignored Accept-Encoding: gzip");
                let is_delta = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .is_some_and(|media_type| media_type == INTENT_DELTA_JSON);
                ensure!(
                    is_delta == ask_delta,
                    "delta asked: {ask_delta}, delta sent: {is_delta}"
                );
                let compressed = response.bytes().await?;
                let body_read = Instant::now();
                let mut body = Vec::with_capacity(compressed.len() * 8);
                flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut body)?;
                if ask_delta {
                    let delta: IntentDelta = serde_json::from_slice(&body)?;
                    ensure!(delta.generation > after, "an old delta came back");
                    if mode == Mode::Delta {
                        held.verify(&delta)?;
                    }
                    return Ok((body_read, Instant::now()));
                }
                let received = Instant::now();
                let intent: Received = serde_json::from_slice(&body)?;
                ensure!(
                    intent.generation > after,
                    "an old generation came back: {}",
                    intent.generation
                );
                return Ok((body_read, received));
            }
            Ok(response) if response.status() == StatusCode::NO_CONTENT => {}
            outcome => {
                failures += 1;
                if failures > 20 {
                    bail!("agent gave up: {outcome:?}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Waits until the server counts `count` waiting long-polls
/// (`fjord_intent_waiters` on `/metrics`).
async fn wait_for_waiters(client: &Client, base: &str, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let waiting = metrics
            .lines()
            .filter(|line| !line.starts_with('#') && line.contains("intent_waiters"))
            .filter_map(|line| line.split_whitespace().last()?.parse::<f64>().ok())
            .sum::<f64>();
        if waiting >= count as f64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {waiting} of {count} agents are waiting after a minute");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
