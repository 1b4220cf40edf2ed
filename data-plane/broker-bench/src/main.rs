//! `fjord-broker-bench`: produce and end-to-end throughput and latency of a
//! real broker process under librdkafka (the `rdkafka` crate), 1 KiB
//! records, acks=all, 1 and 16 producers x 1 and 100 partitions. The storage
//! core's raw append figure from the same run (`fjord-storage-bench`, run
//! just before by `cargo xtask bench broker`) is printed beside it, so the
//! protocol's overhead shows as a ratio.
//!
//! After them, the same load through a `SASL_SSL` listener (SCRAM-SHA-512)
//! and a `PLAINTEXT` one of a second broker, as ratios (`secure.rs`).
//!
//! `--cluster` measures replication instead (`cargo xtask bench cluster`,
//! see `cluster.rs`): the same load against one broker (rf=1) and against
//! `--brokers` brokers with the cluster flags (rf=3), as ratios.
//!
//! `--peer` compares one broker with tansu 0.6.0's memory and SQLite
//! engines under the same load (`cargo xtask bench peer`, see `peer/`).

mod cluster;
mod latency;
mod load;
mod peer;
mod secure;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "Benchmark the broker with librdkafka, beside the storage core's append rate")]
struct Arguments {
    /// The `fjord-broker` binary to start.
    #[arg(long)]
    broker_bin: PathBuf,
    /// Data directory for the broker (emptied first).
    #[arg(long, default_value = "target/bench/broker-data")]
    dir: PathBuf,
    /// `fjord-storage-bench` results of this run, for the baseline.
    #[arg(long)]
    storage_json: Option<PathBuf>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench/broker.json")]
    json: PathBuf,
    /// 16 MiB per case instead of 256 MiB: a smoke run of about a minute.
    #[arg(long)]
    quick: bool,
    /// Only the SASL_SSL against PLAINTEXT comparison (`secure.rs`).
    #[arg(long, conflicts_with = "cluster")]
    secure_only: bool,
    /// Measure replication instead: one broker with rf=1 against `--brokers`
    /// brokers started with the cluster flags and rf=min(3, brokers).
    #[arg(long)]
    cluster: bool,
    /// Brokers of the replicated side of `--cluster`.
    #[arg(long, default_value_t = 3, requires = "cluster")]
    brokers: usize,
    #[command(flatten)]
    latency: latency::Options,
    #[command(flatten)]
    peer: peer::Options,
}

pub(crate) struct Broker {
    child: Child,
    pub(crate) bootstrap: String,
    dir: PathBuf,
}

impl Broker {
    /// CPU seconds the broker process has used so far.
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(&self.child.id().to_string())
    }
}

/// CPU seconds (user and system) process `pid` (or `self`) has used so far,
/// from `/proc/PID/stat`; `None` where that cannot be read.
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from the third
    // on: utime and stime are the 14th and 15th, in clock ticks, which Linux
    // reports to user space in USER_HZ (100 per second).
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index - 3)?.parse::<u64>().ok();
    Some((ticks(14)? + ticks(15)?) as f64 / 100.0)
}

impl Drop for Broker {
    /// Stops the broker and removes its data, on success and on error.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

pub(crate) fn start_broker(binary: &Path, dir: &Path) -> anyhow::Result<Broker> {
    start_broker_around(binary, dir, &|_| Vec::new())
}

/// Starts a broker with extra flags made from its Kafka address.
pub(crate) fn start_broker_around(
    binary: &Path,
    dir: &Path,
    extra: &dyn Fn(SocketAddr) -> Vec<String>,
) -> anyhow::Result<Broker> {
    let _ = std::fs::remove_dir_all(dir);
    let (kafka, admin) = (free_address()?, free_address()?);
    let child = Command::new(binary)
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--listen",
            &kafka.to_string(),
            "--admin-listen",
            &admin.to_string(),
        ])
        .args(["--log", "warn"])
        .args(extra(kafka))
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let broker = Broker {
        child,
        bootstrap: kafka.to_string(),
        dir: dir.to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(kafka).is_err() {
        if Instant::now() > deadline {
            bail!("the broker did not listen on {kafka}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(broker)
}

pub(crate) fn create_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    replication: usize,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let replication = i32::try_from(replication).context("replication factor")?;
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
    let results = runtime.block_on(admin.create_topics([&topic], &AdminOptions::new()))?;
    for result in results {
        result.map_err(|(topic, error)| anyhow::anyhow!("creating {topic}: {error}"))?;
    }
    Ok(())
}

/// The storage core's group-commit append rate (16 KiB batches, one
/// partition) and the raw disk rate measured beside it.
fn storage_baseline(path: Option<&Path>) -> anyhow::Result<Option<(f64, f64)>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let report: Value = serde_json::from_str(&text)?;
    let row = report["append"].as_array().and_then(|rows| {
        rows.iter().find(|row| {
            row["policy"] == "group-commit" && row["batch_kib"] == 16 && row["partitions"] == 1
        })
    });
    Ok(row.and_then(|row| Some((row["mb_per_s"].as_f64()?, row["raw_mb_per_s"].as_f64()?))))
}

fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let bytes_per_case: u64 = if arguments.quick { 16 << 20 } else { 256 << 20 };
    let records = bytes_per_case / load::RECORD_BYTES as u64;
    if arguments.latency.latency {
        let report = latency::run(&arguments.broker_bin, &arguments.dir, &arguments.latency)?;
        return write_json(&arguments.json, &report);
    }
    if arguments.peer.peer {
        let plan = peer::Plan::new(&arguments.broker_bin, &arguments.peer, records)?;
        let outcome = peer::run(&plan, &arguments.dir, arguments.quick)?;
        write_json(&arguments.json, &outcome.report)?;
        if outcome.failed > 0 {
            bail!(
                "{} of {} peer cases failed (see the table above)",
                outcome.failed,
                plan.keys.len()
            );
        }
        return Ok(());
    }
    if arguments.cluster {
        let report = cluster::run(&cluster::Plan {
            broker_bin: &arguments.broker_bin,
            dir: &arguments.dir,
            brokers: arguments.brokers,
            records,
        })?;
        return write_json(&arguments.json, &report);
    }
    let mut report = json!({
        "quick": arguments.quick,
        "record_bytes": load::RECORD_BYTES,
    });
    if !arguments.secure_only {
        let (baseline, rows) = plaintext_cases(&arguments, records)?;
        report["storage_append_mb_per_s"] = json!(baseline.map(|(storage, _)| storage));
        report["raw_disk_mb_per_s"] = json!(baseline.map(|(_, raw)| raw));
        report["cases"] = json!(rows);
    }
    report["sasl_ssl"] = json!(secure::compare(
        &arguments.broker_bin,
        &arguments.dir.with_extension("secure"),
        records,
    )?);
    write_json(&arguments.json, &report)
}

/// The storage baseline and one row per plaintext case (1 and 16 producers
/// x 1 and 100 partitions), printed as a table.
type PlaintextCases = (Option<(f64, f64)>, Vec<Value>);

fn plaintext_cases(arguments: &Arguments, records: u64) -> anyhow::Result<PlaintextCases> {
    let baseline = storage_baseline(arguments.storage_json.as_deref())?;
    let broker = start_broker(&arguments.broker_bin, &arguments.dir)?;
    eprintln!(
        "broker benchmark ({}): {records} records of 1 KiB per case, acks=all",
        if arguments.quick { "quick" } else { "full" }
    );
    let mut rows = Vec::new();
    for producers in [1, 16] {
        for partitions in [1, 100] {
            let topic = format!("bench-{producers}p-{partitions}");
            eprint!("{producers} producers x {partitions} partitions ... ");
            create_topic(&broker.bootstrap, &topic, partitions, 1)?;
            let case = load::Case {
                bootstrap: &broker.bootstrap,
                topic: &topic,
                producers,
                partitions,
                records,
                idempotent: false,
            };
            let result = load::run(&case)?;
            eprintln!(
                "{:.1} MB/s produce, {:.1} MB/s end to end",
                result.produce_mb_per_s, result.end_to_end_mb_per_s
            );
            let storage_ratio = baseline.map(|(storage, _)| result.produce_mb_per_s / storage);
            rows.push(json!({
                "producers": producers, "partitions": partitions, "records": result.records,
                "produce_mb_per_s": result.produce_mb_per_s,
                "end_to_end_mb_per_s": result.end_to_end_mb_per_s,
                "produce_p50_ms": result.produce_ms[0], "produce_p99_ms": result.produce_ms[1],
                "produce_p999_ms": result.produce_ms[2],
                "end_to_end_p50_ms": result.end_to_end_ms[0],
                "end_to_end_p99_ms": result.end_to_end_ms[1],
                "end_to_end_p999_ms": result.end_to_end_ms[2],
                "connect_p50_ms": result.connect_ms[0],
                "connect_max_ms": result.connect_ms[1],
                "ratio_to_storage_append": storage_ratio,
            }));
        }
    }
    drop(broker);
    print_table(&rows, baseline);
    Ok((baseline, rows))
}

fn write_json(path: &Path, report: &Value) -> anyhow::Result<()> {
    let mut out =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    println!("json written to {}", path.display());
    Ok(())
}

fn print_table(rows: &[Value], baseline: Option<(f64, f64)>) {
    if let Some((storage, raw)) = baseline {
        println!(
            "storage core append (group commit, 16 KiB batches, 1 partition): {storage:.1} MB/s; raw disk {raw:.1} MB/s"
        );
    }
    println!(
        "{:>9} {:>10} {:>12} {:>8} {:>11} {:>10} {:>10} {:>11} {:>9} {:>9}",
        "producers",
        "partitions",
        "produce MB/s",
        "/storage",
        "e2e MB/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "e2e p50",
        "e2e p99"
    );
    for row in rows {
        let number = |key: &str| row[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:>9} {:>10} {:>12.1} {:>8.2} {:>11.1} {:>10.2} {:>10.2} {:>11.2} {:>9.0} {:>9.0}",
            row["producers"],
            row["partitions"],
            number("produce_mb_per_s"),
            number("ratio_to_storage_append"),
            number("end_to_end_mb_per_s"),
            number("produce_p50_ms"),
            number("produce_p99_ms"),
            number("produce_p999_ms"),
            number("end_to_end_p50_ms"),
            number("end_to_end_p99_ms"),
        );
    }
}
