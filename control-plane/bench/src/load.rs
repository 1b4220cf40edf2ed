//! Typical reads and writes at a fixed offered rate (open loop: latency
//! counts from each request's scheduled start) and at the most a fixed
//! number of concurrent clients get through (closed loop).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

use crate::Plan;
use crate::report::{Latencies, LoadResult};
use crate::setup::Inventory;

/// What one request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    GetCluster,
    ListClusters,
    CreateTopic,
    PatchCluster,
}

impl Operation {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::GetCluster => "get cluster",
            Self::ListClusters => "list clusters",
            Self::CreateTopic => "create topic",
            Self::PatchCluster => "patch cluster",
        }
    }

    fn is_read(self) -> bool {
        matches!(self, Self::GetCluster | Self::ListClusters)
    }
}

/// Unique suffixes for created topics and changed configs.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

async fn call(inventory: &Inventory, operation: Operation) -> anyhow::Result<()> {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let cluster_id = &inventory.cluster_ids[usize::try_from(n)? % inventory.cluster_ids.len()];
    let (method, path, body) = match operation {
        Operation::GetCluster => (Method::GET, format!("/v1/clusters/{cluster_id}"), None),
        Operation::ListClusters => (Method::GET, "/v1/clusters?limit=50".to_owned(), None),
        Operation::CreateTopic => (
            Method::POST,
            "/v1/topics".to_owned(),
            Some(
                json!({"cluster_id": cluster_id, "name": format!("topic-{n}"),
                   "partitions": 6, "replication_factor": 3}),
            ),
        ),
        Operation::PatchCluster => (
            Method::PATCH,
            format!("/v1/clusters/{cluster_id}"),
            Some(json!({"config": {"retention.ms": n.to_string()}})),
        ),
    };
    inventory.send(method, &path, body).await.map(drop)
}

/// Every operation at its fixed rate, then at the most throughput.
pub(crate) async fn run_all(inventory: &Inventory, plan: &Plan) -> anyhow::Result<Vec<LoadResult>> {
    let operations = [
        Operation::GetCluster,
        Operation::ListClusters,
        Operation::CreateTopic,
        Operation::PatchCluster,
    ];
    let mut results = Vec::new();
    for operation in operations {
        let rate = if operation.is_read() {
            plan.read_rate
        } else {
            plan.write_rate
        };
        results.push(open_loop(inventory, operation, rate, plan.phase).await);
        results.push(closed_loop(inventory, operation, plan.concurrency, plan.phase).await);
    }
    Ok(results)
}

/// Starts a request every `1 / rate` seconds whatever the server does.
async fn open_loop(
    inventory: &Inventory,
    operation: Operation,
    rate: f64,
    phase: Duration,
) -> LoadResult {
    eprintln!("{}: {rate} req/s for {phase:?}", operation.name());
    let start = Instant::now();
    let total = (rate * phase.as_secs_f64()).round() as u64;
    let mut tasks = Vec::new();
    for index in 0..total {
        let scheduled = start + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(scheduled).await;
        let inventory = inventory.clone();
        tasks.push(tokio::spawn(async move {
            let result = call(&inventory, operation).await;
            (scheduled.elapsed(), result)
        }));
    }
    let outcomes = collect(tasks).await;
    LoadResult::new(
        operation.name(),
        format!("{rate} req/s"),
        outcomes,
        start.elapsed(),
    )
}

/// `concurrency` clients, each sending its next request when the last one
/// is answered.
async fn closed_loop(
    inventory: &Inventory,
    operation: Operation,
    concurrency: usize,
    phase: Duration,
) -> LoadResult {
    eprintln!(
        "{}: max throughput, {concurrency} clients for {phase:?}",
        operation.name()
    );
    let start = Instant::now();
    let deadline = start + phase;
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let inventory = inventory.clone();
            let outcomes = Arc::clone(&outcomes);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let result = call(&inventory, operation).await;
                    mine.push((sent.elapsed(), result));
                }
                outcomes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(mine);
            })
        })
        .collect();
    futures::future::join_all(clients).await;
    let outcomes = std::mem::take(
        &mut *outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    LoadResult::new(
        operation.name(),
        "max".to_owned(),
        outcomes,
        start.elapsed(),
    )
}

type Outcome = (Duration, anyhow::Result<()>);

async fn collect(tasks: Vec<tokio::task::JoinHandle<Outcome>>) -> Vec<Outcome> {
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.unwrap_or_else(|error| (Duration::ZERO, Err(error.into()))))
        .collect()
}

/// Sorted latencies and the first error.
pub(crate) fn summarize(outcomes: Vec<Outcome>) -> (Latencies, usize, Option<String>) {
    let mut latencies = Vec::with_capacity(outcomes.len());
    let mut errors = 0;
    let mut first_error = None;
    for (latency, result) in outcomes {
        match result {
            Ok(()) => latencies.push(latency),
            Err(error) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    (Latencies::new(latencies), errors, first_error)
}
