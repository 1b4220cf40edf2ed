//! How long a new intent takes to reach many long-polling agents: `n`
//! simulated agents of one environment (one connection each) wait on
//! `GET /v1/agent/intents`; once the server counts them all as waiting,
//! one cluster change is made, and each agent's latency runs from sending
//! that change to having read the new generation's body.

use std::io::Read as _;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::report::{FanoutResult, Latencies};
use crate::setup::{Inventory, text};

/// Agents started at once while ramping up; the server's pool has 16
/// connections and each new long-poll makes two queries.
const RAMP_BATCH: usize = 500;

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
    text(&token, "access_token")
}

pub(crate) async fn run(
    inventory: &Inventory,
    token: &str,
    agents: usize,
) -> anyhow::Result<FanoutResult> {
    eprintln!("intent fan-out: starting {agents} long-polling agents");
    // One client per run so its connections close with it.
    let client = Client::builder()
        .timeout(crate::server::LONG_POLL + Duration::from_secs(60))
        .build()?;
    let url = format!("{}/v1/agent/intents", inventory.base);
    let generation = latest_generation(&client, &url, token).await?;
    let mut tasks = Vec::with_capacity(agents);
    while tasks.len() < agents {
        for _ in 0..RAMP_BATCH.min(agents - tasks.len()) {
            let (client, url, token) = (client.clone(), url.clone(), token.to_owned());
            tasks.push(tokio::spawn(async move {
                poll(&client, &url, &token, generation).await
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
        latencies: Latencies::new(latencies),
        read: Latencies::new(read),
        change,
    })
}

async fn latest_generation(client: &Client, url: &str, token: &str) -> anyhow::Result<i64> {
    let intent: Value = client
        .get(format!("{url}?after=0&wait_seconds=0"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    intent["generation"]
        .as_i64()
        .with_context(|| format!("no generation in {intent}"))
}

/// What the simulated agents decode of an intent.
#[derive(Debug, serde::Deserialize)]
struct Received {
    generation: i64,
}

/// One agent: long-polls until a generation above `after` arrives; returns
/// when its compressed body was read and when it was inflated. Asks for
/// gzip, as agents should. Retries what fails while ramping up.
async fn poll(
    client: &Client,
    url: &str,
    token: &str,
    after: i64,
) -> anyhow::Result<(Instant, Instant)> {
    let mut failures = 0;
    loop {
        let response = client
            .get(format!(
                "{url}?after={after}&wait_seconds={}",
                crate::server::LONG_POLL.as_secs()
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
                let compressed = response.bytes().await?;
                let body_read = Instant::now();
                let mut body = Vec::with_capacity(compressed.len() * 8);
                flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut body)?;
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
