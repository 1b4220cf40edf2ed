//! `--latency` (`cargo xtask bench latency`): produce and end-to-end latency
//! at fixed offered loads, as the OpenMessaging Benchmark runs it. Three
//! brokers with the cluster flags, a topic of rf=3, librdkafka producers
//! with acks=all, idempotence and linger 1 ms. First the maximum
//! throughput (producers sending as fast as they can), then, for each
//! `--producers` count, fixed offered rates of 10 %, 50 % and 80 % of it.
//! The floor is measured in the same run: the disk's p99 `fdatasync` in the
//! brokers' data directory and a loopback TCP round trip. Issue 21's targets
//! are checked and printed as met or not.

mod floor;
mod phase;
mod report;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cluster::{Plan, start_cluster};
use crate::create_topic;
use crate::load::RECORD_BYTES;

/// Fractions of the measured maximum offered in the fixed-rate phases.
const LOADS: [f64; 3] = [0.1, 0.5, 0.8];
const BROKERS: usize = 3;
const REPLICATION: usize = 3;
/// Samples of each floor measurement (loopback takes ten times as many).
const FLOOR_SAMPLES: usize = 2000;

#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    /// Measure latency at fixed offered loads on three brokers, rf=3
    /// (`cargo xtask bench latency`).
    #[arg(long)]
    pub(crate) latency: bool,
    /// Producer counts of the fixed-rate phases (e.g. `4,50` to show
    /// flatness); the first also measures the maximum throughput.
    #[arg(long, value_delimiter = ',', default_value = "4", requires = "latency")]
    pub(crate) producers: Vec<usize>,
    /// Seconds each phase produces for.
    #[arg(long, default_value_t = 30, requires = "latency")]
    pub(crate) seconds: u64,
    /// Partitions of each phase's topic.
    #[arg(long, default_value_t = 3, requires = "latency")]
    pub(crate) partitions: i32,
}

/// p50, p99 and p99.9 in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
}

impl Percentiles {
    /// From samples in microseconds (sorted in place).
    pub(crate) fn of(micros: &mut [u64]) -> Percentiles {
        micros.sort_unstable();
        let at = |quantile: f64| {
            let Some(last) = micros.len().checked_sub(1) else {
                return f64::NAN;
            };
            let index = ((micros.len() as f64 * quantile) as usize).min(last);
            micros[index] as f64 / 1000.0
        };
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
        }
    }

    pub(crate) fn json(&self) -> Value {
        json!({"p50": self.p50, "p99": self.p99, "p999": self.p999})
    }
}

/// One fixed-rate phase's outcome, for the report.
pub(crate) struct Row {
    pub(crate) producers: usize,
    pub(crate) load: f64,
    pub(crate) offered_mb_per_s: f64,
    pub(crate) result: phase::PhaseResult,
}

pub(crate) fn run(broker_bin: &Path, dir: &Path, options: &Options) -> anyhow::Result<Value> {
    anyhow::ensure!(
        !options.producers.is_empty() && options.producers.iter().all(|count| *count > 0),
        "--producers needs at least one count above zero"
    );
    anyhow::ensure!(options.seconds > 0, "--seconds must be above zero");
    let duration = Duration::from_secs(options.seconds);
    eprintln!(
        "latency benchmark: {BROKERS} brokers, rf={REPLICATION}, {} partitions, acks=all, idempotent, linger {} ms, 1 KiB records, {} s per phase, producers {:?}",
        options.partitions,
        phase::LINGER_MS,
        options.seconds,
        options.producers
    );
    let plan = Plan {
        broker_bin,
        dir,
        brokers: BROKERS,
        records: 0,
    };
    let brokers = start_cluster(&plan).context("starting the cluster")?;
    let bootstrap: Vec<_> = brokers
        .iter()
        .map(|broker| broker.spec.addresses.kafka.to_string())
        .collect();
    let bootstrap = bootstrap.join(",");
    eprintln!(
        "  floor: fdatasync of 4 KiB appends in the brokers' data directory, loopback round trips"
    );
    let floor = floor::measure(&dir.join("cluster"), FLOOR_SAMPLES)?;
    eprintln!(
        "  floor: fdatasync p50 {:.3} ms p99 {:.3} ms; loopback p50 {:.3} ms p99 {:.3} ms",
        floor.fdatasync.p50, floor.fdatasync.p99, floor.loopback.p50, floor.loopback.p99
    );
    let first = options.producers[0];
    let maximum = run_phase(&bootstrap, options, first, None, duration, "max")?;
    let max_records_per_s = maximum.acknowledged_mb_per_s * 1e6 / RECORD_BYTES as f64;
    eprintln!(
        "  maximum: {:.1} MB/s with {first} producers (produce p99 {:.2} ms)",
        maximum.acknowledged_mb_per_s, maximum.produce.p99
    );
    let mut rows = Vec::new();
    for &producers in &options.producers {
        for load in LOADS {
            let rate = max_records_per_s * load;
            let label = format!("{producers}p@{:.0}%", load * 100.0);
            let result = run_phase(&bootstrap, options, producers, Some(rate), duration, &label)?;
            rows.push(Row {
                producers,
                load,
                offered_mb_per_s: rate * RECORD_BYTES as f64 / 1e6,
                result,
            });
        }
    }
    drop(brokers);
    let _ = std::fs::remove_dir_all(dir.join("cluster"));
    Ok(report::report(&floor, &maximum, first, &rows, options))
}

fn run_phase(
    bootstrap: &str,
    options: &Options,
    producers: usize,
    rate: Option<f64>,
    duration: Duration,
    label: &str,
) -> anyhow::Result<phase::PhaseResult> {
    let topic = format!("latency-{}", label.replace(['@', '%'], "-"));
    create_topic(bootstrap, &topic, options.partitions, REPLICATION)?;
    let offered = rate.map_or("as fast as possible".to_owned(), |rate| {
        format!("{:.1} MB/s offered", rate * RECORD_BYTES as f64 / 1e6)
    });
    eprintln!(
        "  {label}: {producers} producers, {offered}, {} s",
        duration.as_secs()
    );
    let result = phase::run(&phase::Phase {
        bootstrap,
        topic: &topic,
        partitions: options.partitions,
        producers,
        rate,
        duration,
        label,
    })?;
    eprintln!(
        "  {label}: {:.1} MB/s acknowledged; produce p50/p99/p99.9 {:.2}/{:.2}/{:.2} ms; end to end {:.2}/{:.2}/{:.2} ms",
        result.acknowledged_mb_per_s,
        result.produce.p50,
        result.produce.p99,
        result.produce.p999,
        result.end_to_end.p50,
        result.end_to_end.p99,
        result.end_to_end.p999
    );
    Ok(result)
}
