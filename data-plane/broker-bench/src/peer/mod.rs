//! `--peer` (`cargo xtask bench peer`): the same librdkafka load against a
//! single durable Fjord broker and against tansu 0.6.0, a Rust Kafka-API
//! broker, with its memory engine (not durable) and its SQLite engine, in
//! one run. Each case starts a fresh broker, creates its topic through the
//! Kafka admin API (CreateTopics, which both brokers serve), and runs
//! `load.rs` on it: `--peer-producers` producers with acks=all,
//! `linger.ms=5`, 1 KiB records, one consumer reading everything
//! concurrently, idempotence off and on. The cases of one load run back to
//! back (Fjord, tansu memory, tansu SQLite) so their ratios come from
//! neighbouring minutes of a shared machine.
//!
//! Reported per case: produce MB/s, produce p50/p99, end-to-end MB/s, and
//! CPU seconds per GB of the broker process (and of the clients). Per load:
//! Fjord's ratios to tansu memory, checked against issue 21's target
//! (throughput >= 1.0x, broker CPU per GB <= 0.8x), and to tansu SQLite.

mod report;
#[cfg(test)]
mod report_test;
mod tansu;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{Broker, cpu_seconds, create_topic, load, start_broker};
use report::{Case, CaseKey, Measured};
use tansu::Engine;

#[derive(clap::Args, Debug)]
// Its own group name: `latency::Options` is flattened beside it.
#[group(id = "peer_options")]
pub(crate) struct Options {
    /// Compare a single durable broker with tansu 0.6.0's memory and SQLite
    /// engines under the same load (`cargo xtask bench peer`).
    #[arg(long, conflicts_with_all = ["cluster", "secure_only", "latency"])]
    pub(crate) peer: bool,
    /// The `tansu` binary (0.6.0, built with `--features dynostore,libsql`);
    /// needed when a tansu engine is among `--peer-brokers`.
    #[arg(long, requires = "peer")]
    pub(crate) tansu_bin: Option<PathBuf>,
    /// Producers of each case.
    #[arg(long, default_value_t = 4, requires = "peer")]
    pub(crate) peer_producers: usize,
    /// Partition counts, one topic (and one set of cases) each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "4,100",
        requires = "peer"
    )]
    pub(crate) peer_partitions: Vec<i32>,
    /// Brokers to run, in this order within each load.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fjord,tansu-memory,tansu-sqlite",
        requires = "peer"
    )]
    pub(crate) peer_brokers: Vec<Peer>,
}

/// A broker of the comparison.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// `fjord-broker`, one broker, durable (acks=all waits for the fsync).
    Fjord,
    /// tansu with `memory://`: nothing reaches a disk.
    TansuMemory,
    /// tansu with `sqlite://` (libSQL): a database file.
    TansuSqlite,
}

impl Peer {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Fjord => "fjord",
            Peer::TansuMemory => "tansu-memory",
            Peer::TansuSqlite => "tansu-sqlite",
        }
    }

    fn engine(self) -> Option<Engine> {
        match self {
            Peer::Fjord => None,
            Peer::TansuMemory => Some(Engine::Memory),
            Peer::TansuSqlite => Some(Engine::Sqlite),
        }
    }
}

/// The validated options: what to run, and with which binaries.
#[derive(Debug, PartialEq)]
pub(crate) struct Plan {
    pub(crate) fjord_bin: PathBuf,
    pub(crate) tansu_bin: Option<PathBuf>,
    pub(crate) producers: usize,
    pub(crate) records: u64,
    pub(crate) keys: Vec<CaseKey>,
}

impl Plan {
    /// Checks the options (no I/O) and lists the cases in the order they
    /// run: per partition count, idempotence off then on, each broker.
    pub(crate) fn new(fjord_bin: &Path, options: &Options, records: u64) -> anyhow::Result<Plan> {
        if options.peer_producers == 0 {
            bail!("--peer-producers must be at least 1");
        }
        if options.peer_partitions.is_empty() || options.peer_partitions.iter().any(|&n| n < 1) {
            bail!("--peer-partitions needs partition counts of at least 1");
        }
        if options.peer_brokers.is_empty() {
            bail!("--peer-brokers needs at least one broker");
        }
        if records < options.peer_producers as u64 {
            bail!(
                "{records} records per case cannot be shared by {} producers",
                options.peer_producers
            );
        }
        let needs_tansu = options
            .peer_brokers
            .iter()
            .any(|peer| peer.engine().is_some());
        if needs_tansu && options.tansu_bin.is_none() {
            bail!("--peer with a tansu engine needs --tansu-bin");
        }
        let mut keys = Vec::new();
        for &partitions in &options.peer_partitions {
            for idempotent in [false, true] {
                for &peer in &options.peer_brokers {
                    keys.push(CaseKey {
                        peer,
                        partitions,
                        idempotent,
                    });
                }
            }
        }
        Ok(Plan {
            fjord_bin: fjord_bin.to_owned(),
            tansu_bin: options.tansu_bin.clone().filter(|_| needs_tansu),
            producers: options.peer_producers,
            records,
            keys,
        })
    }
}

/// What the run produced: the JSON report and how many cases failed.
pub(crate) struct Outcome {
    pub(crate) report: Value,
    pub(crate) failed: usize,
}

/// Runs every case of the plan under `dir`, prints the table and returns
/// the report. A case that fails is reported as failed and the others still
/// run; binaries that cannot run stop the run before the first case.
pub(crate) fn run(plan: &Plan, dir: &Path, quick: bool) -> anyhow::Result<Outcome> {
    let needs_fjord = plan.keys.iter().any(|key| key.peer == Peer::Fjord);
    if needs_fjord && !plan.fjord_bin.is_file() {
        bail!("no fjord-broker binary at {}", plan.fjord_bin.display());
    }
    let tansu_version = plan.tansu_bin.as_deref().map(tansu::version).transpose()?;
    eprintln!(
        "peer benchmark ({}): {} records of 1 KiB per case, {} producers, acks=all, linger.ms=5; tansu: {}",
        if quick { "quick" } else { "full" },
        plan.records,
        plan.producers,
        tansu_version.as_deref().unwrap_or("not run")
    );
    let mut cases = Vec::new();
    for key in &plan.keys {
        eprint!("{key} ... ");
        let outcome = run_case(plan, key, dir).map_err(|error| format!("{error:#}"));
        match &outcome {
            Ok(measured) => eprintln!(
                "{:.1} MB/s produce, p99 {:.2} ms, broker {} CPU s/GB",
                measured.produce_mb_per_s,
                measured.produce_p99_ms,
                measured
                    .broker_cpu_s_per_gb
                    .map_or_else(|| "?".to_owned(), |cpu| format!("{cpu:.2}"))
            ),
            Err(error) => eprintln!("failed: {error}"),
        }
        cases.push(Case { key: *key, outcome });
    }
    let _ = std::fs::remove_dir_all(dir);
    let comparisons = report::compare(&cases);
    println!(
        "peer comparison: {} producers, {} records of 1 KiB per case, acks=all; CPU in seconds per GB",
        plan.producers, plan.records
    );
    print!("{}", report::table(&cases, &comparisons));
    let mut json = report::json(&cases, &comparisons);
    json["quick"] = json!(quick);
    json["record_bytes"] = json!(load::RECORD_BYTES);
    json["records_per_case"] = json!(plan.records);
    json["producers"] = json!(plan.producers);
    json["acks"] = json!("all");
    json["linger_ms"] = json!(5);
    json["tansu_version"] = json!(tansu_version);
    let failed = cases.iter().filter(|case| case.outcome.is_err()).count();
    Ok(Outcome {
        report: json,
        failed,
    })
}

/// Starts the case's broker in its own directory, creates its topic and
/// runs the load, timing the broker's CPU around it.
fn run_case(plan: &Plan, key: &CaseKey, dir: &Path) -> anyhow::Result<Measured> {
    let case_dir = dir.join(format!(
        "{}-{}p-{}",
        key.peer.name(),
        key.partitions,
        if key.idempotent {
            "idempotent"
        } else {
            "plain"
        }
    ));
    let broker: Broker = match (key.peer.engine(), plan.tansu_bin.as_deref()) {
        (None, _) => start_broker(&plan.fjord_bin, &case_dir)?,
        (Some(engine), Some(tansu_bin)) => tansu::start(tansu_bin, &case_dir, engine)?,
        (Some(_), None) => bail!("no --tansu-bin for {}", key.peer.name()),
    };
    let topic = format!("peer-{}", key.partitions);
    create_topic(&broker.bootstrap, &topic, key.partitions, 1)
        .with_context(|| format!("creating {topic} on {}", key.peer.name()))?;
    let before = (broker.cpu_seconds(), cpu_seconds("self"));
    let result = load::run(&load::Case {
        bootstrap: &broker.bootstrap,
        topic: &topic,
        producers: plan.producers,
        partitions: key.partitions,
        records: plan.records,
        idempotent: key.idempotent,
    })?;
    let after = (broker.cpu_seconds(), cpu_seconds("self"));
    drop(broker);
    let gb = result.records as f64 * load::RECORD_BYTES as f64 / 1e9;
    let per_gb = |after: Option<f64>, before: Option<f64>| {
        report::ratio(
            after.zip(before).map(|(after, before)| after - before),
            Some(gb),
        )
    };
    Ok(Measured {
        records: result.records,
        produce_mb_per_s: result.produce_mb_per_s,
        end_to_end_mb_per_s: result.end_to_end_mb_per_s,
        produce_p50_ms: result.produce_ms[0],
        produce_p99_ms: result.produce_ms[1],
        broker_cpu_s_per_gb: per_gb(after.0, before.0),
        clients_cpu_s_per_gb: per_gb(after.1, before.1),
    })
}
