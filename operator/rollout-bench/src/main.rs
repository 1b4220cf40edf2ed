//! `fjord-rollout-bench`: how long the operator takes to roll a
//! StreamCluster to a new version, and what producers see meanwhile.
//!
//! For each `--brokers` size it starts the in-process testbed (API server,
//! StatefulSet controller, process kubelet running real `fjord-broker`
//! processes) and the operator's cluster controller, waits for the cluster
//! to be Stable, creates a topic (rf = min(3, brokers)), starts a
//! fixed-rate idempotent `acks=all` producer on librdkafka, measures a
//! baseline window, then changes the version and measures until the
//! cluster is Stable on it. Records are assigned to a window by their send
//! time; the table shows the roll's duration, produce errors and p50/p99
//! acknowledgement latency before and during the roll, and their ratios.
//! Run it with `cargo xtask bench rollout` (release build).

mod load;
mod report;
mod stack;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use crate::load::RateProducer;
use crate::report::{Phase, Run, print_table};
use crate::stack::{Cluster, FIRST_VERSION, NEXT_VERSION};

const TOPIC: &str = "rollout";

#[derive(Parser, Debug)]
#[command(about = "Time a StreamCluster version roll under a fixed-rate producer")]
struct Arguments {
    /// The `fjord-broker` binary the kubelet runs for every version.
    #[arg(long)]
    broker_bin: PathBuf,
    /// State directory for the kubelet and the brokers (emptied first).
    #[arg(long, default_value = "target/bench/rollout-data")]
    dir: PathBuf,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench/rollout.json")]
    json: PathBuf,
    /// Cluster sizes to roll, one run each.
    #[arg(long, value_delimiter = ',', default_value = "3,6")]
    brokers: Vec<u16>,
    /// Records a second the producer sends (1 KiB each).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// The rollout policy's pause between broker restarts.
    #[arg(long, default_value_t = 5)]
    pause_seconds: u64,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// A 10 s baseline instead of 30 s: a smoke run.
    #[arg(long)]
    quick: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    // librdkafka reports every refused connection while a broker restarts.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,librdkafka=off,rdkafka=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    anyhow::ensure!(
        arguments.broker_bin.is_file(),
        "no broker binary at {}",
        arguments.broker_bin.display()
    );
    anyhow::ensure!(
        !arguments.brokers.is_empty(),
        "name at least one cluster size"
    );
    anyhow::ensure!(
        arguments.brokers.iter().all(|n| *n >= 1),
        "a cluster has at least one broker"
    );
    anyhow::ensure!(
        arguments.partitions >= 1,
        "a topic has at least one partition"
    );
    if arguments.dir.exists() {
        std::fs::remove_dir_all(&arguments.dir)
            .with_context(|| format!("empty {}", arguments.dir.display()))?;
    }
    std::fs::create_dir_all(&arguments.dir)?;
    let baseline = Duration::from_secs(if arguments.quick { 10 } else { 30 });
    let mut runs = Vec::new();
    for &brokers in &arguments.brokers {
        runs.push(run(&arguments, brokers, baseline).await?);
    }
    print_table(&runs);
    let json = serde_json::json!({
        "rate_per_second": arguments.rate,
        "pause_seconds": arguments.pause_seconds,
        "partitions": arguments.partitions,
        "baseline_seconds": baseline.as_secs(),
        "runs": runs.iter().map(Run::json).collect::<Vec<_>>(),
    });
    if let Some(parent) = arguments.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&arguments.json, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("write {}", arguments.json.display()))?;
    println!("results in {}", arguments.json.display());
    Ok(())
}

async fn run(arguments: &Arguments, brokers: u16, baseline: Duration) -> anyhow::Result<Run> {
    println!("== {brokers} brokers: starting the cluster on {FIRST_VERSION}");
    let cluster = Cluster::start(
        &arguments.broker_bin,
        &arguments.dir,
        brokers,
        Duration::from_secs(arguments.pause_seconds),
    )
    .await?;
    let boot = Duration::from_secs(60 + 20 * u64::from(brokers));
    cluster.stable(FIRST_VERSION, boot).await?;
    cluster.create_topic(TOPIC, arguments.partitions).await?;
    println!(
        "   Stable; producing {} records/s to {TOPIC} ({} partitions)",
        arguments.rate, arguments.partitions
    );
    let producer = RateProducer::start(
        &cluster.bootstrap(),
        TOPIC,
        arguments.partitions,
        arguments.rate,
    )?;
    // The client's first metadata and connections are not the baseline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before_start = Instant::now();
    println!("   baseline for {}s", baseline.as_secs());
    tokio::time::sleep(baseline).await;
    let roll_start = Instant::now();
    println!("   rolling to {NEXT_VERSION}");
    cluster.upgrade().await?;
    // Generous: each broker restarts, catches up and is waited for.
    let limit = Duration::from_secs((120 + arguments.pause_seconds) * u64::from(brokers) + 120);
    let rolled = cluster.stable(NEXT_VERSION, limit).await;
    let roll_end = Instant::now();
    let samples = tokio::task::spawn_blocking(move || producer.finish()).await??;
    drop(cluster);
    // The kubelet stops its brokers as its task is dropped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rolled?;
    let result = Run {
        brokers,
        roll: roll_end - roll_start,
        before: Phase::of(&samples, before_start, roll_start),
        during: Phase::of(&samples, roll_start, roll_end),
    };
    println!(
        "   rolled in {:.1}s; {} records sent during the roll, {} errors",
        result.roll.as_secs_f64(),
        result.during.records,
        result.during.errors
    );
    Ok(result)
}
