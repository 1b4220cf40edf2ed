//! `cargo xtask bench loop [--runs N]`: how long the BYOC loop takes on the
//! dev stack (debug binaries, kube-sim, real brokers). Per run: the time
//! from `POST /v1/clusters` (3 brokers) until the API reports the cluster
//! ready with three brokers, and the time from a `PATCH` of a topic's
//! partitions (3 -> 6) until `kcat -L` shows the new count on the brokers;
//! then the cluster is deleted. Prints p50/p99 (nearest rank) and writes
//! `target/bench/loop.json`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::build_binaries;
use super::kube::wait_for;
use super::rest::text;
use super::smoke::wait_for_partitions;
use super::stack::{CLUSTER_TIMEOUT, Stack};
use crate::postgres::Postgres;
use crate::{step, tools, web};

pub(crate) fn run(output: &Path, rest: &[String]) -> anyhow::Result<()> {
    let runs = match rest {
        [] => 5,
        [flag, count] if flag == "--runs" => count
            .parse::<usize>()
            .ok()
            .filter(|runs| *runs > 0)
            .context("--runs takes a positive count")?,
        other => bail!("unknown options {other:?}; usage: cargo xtask bench loop [--runs N]"),
    };
    tools::ensure_programs(&[("curl", "curl"), ("kcat", "kcat")])?;
    build_binaries(false)?;
    let console_dir = web::build_console(false)?;
    let postgres = Arc::new(Postgres::ensure()?);
    let stack = Stack::start(postgres, &console_dir)?;
    let api = stack.api()?;
    let mut ready = Vec::new();
    let mut patched = Vec::new();
    for run in 0..runs {
        let name = format!("bench-{run}");
        let started = Instant::now();
        let cluster = api.expect(
            "POST",
            "/v1/clusters",
            Some(
                &json!({"environment_id": stack.environment_id, "name": name,
                         "version": "0.1.0", "broker_count": 3, "storage_gib": 1}),
            ),
            201,
        )?;
        let cluster_id = text(&cluster, "/cluster_id")?;
        let path = format!("/v1/clusters/{cluster_id}");
        wait_for("the cluster ready", CLUSTER_TIMEOUT, || {
            let status = api.expect("GET", &path, None, 200)?["status"].clone();
            Ok((status["phase"] == "ready" && status["brokers_ready"] == 3).then_some(()))
        })?;
        ready.push(started.elapsed());
        let bootstrap = stack.bootstrap(&cluster_id)?;
        let topic_name = format!("bench-topic-{run}");
        let topic = api.expect(
            "POST",
            "/v1/topics",
            Some(
                &json!({"cluster_id": cluster_id, "name": topic_name, "partitions": 3,
                         "replication_factor": 3}),
            ),
            201,
        )?;
        wait_for_partitions(&bootstrap, &topic_name, 3)?;
        let started = Instant::now();
        api.expect(
            "PATCH",
            &format!("/v1/topics/{}", text(&topic, "/topic_id")?),
            Some(&json!({"partitions": 6})),
            200,
        )?;
        wait_for_partitions(&bootstrap, &topic_name, 6)?;
        patched.push(started.elapsed());
        step(&format!(
            "run {}/{runs}: ready after {:.1?}, topic change on the brokers after {:.1?}",
            run + 1,
            ready[run],
            patched[run]
        ));
        api.expect("DELETE", &path, None, 204)?;
        stack.wait_for_pods_gone(&name)?;
    }
    let figures = json!({
        "runs": runs,
        "create_to_ready_seconds": summary(&ready),
        "topic_patch_to_brokers_seconds": summary(&patched),
    });
    println!("loop benchmark ({runs} runs, debug binaries on kube-sim):");
    println!(
        "  POST /v1/clusters -> ready (3 brokers)   {}",
        line(&ready)
    );
    println!(
        "  PATCH topic -> change on the brokers     {}",
        line(&patched)
    );
    let file = output.join("loop.json");
    std::fs::write(&file, serde_json::to_string_pretty(&figures)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!("  written to {}", file.display());
    Ok(())
}

/// The nearest-rank percentile `p` (0..=100) of `samples`.
fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn summary(samples: &[Duration]) -> serde_json::Value {
    json!({
        "p50": percentile(samples, 50).as_secs_f64(),
        "p99": percentile(samples, 99).as_secs_f64(),
        "samples": samples.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
    })
}

fn line(samples: &[Duration]) -> String {
    format!(
        "p50 {:.1?}  p99 {:.1?}",
        percentile(samples, 50),
        percentile(samples, 99)
    )
}
