//! fjord-storage-bench: the storage core against the raw disk it runs on.
//!
//! Everything is measured in one run on one directory: each log case right
//! after its raw baseline (sequential 1 MiB writes with `fdatasync` issued as
//! the flush policy would issue them), fetch beside page-cache reads and a
//! plain memory copy, then open times. Results
//! are printed as a table and written as JSON; each log figure is also given as
//! a ratio of its baseline, since absolute numbers on shared machines mean
//! little. `--quick` keeps the whole run under about a minute.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod raw;
mod report;

use anyhow::{Context, Result};
use clap::Parser;
use fjord_storage::batch::build_batch;
use fjord_storage::{
    ByteSize, Disk, DurableOffset, FlushPolicy, JournalConfig, LeaderEpoch, Log, LogConfig, Offset,
    Preallocate, StdMedium, Timestamp,
};
use serde_json::{Value, json};

pub(crate) const MIB: u64 = 1024 * 1024;
const RECORD_BYTES: usize = 1024;
/// Bytes a group-commit producer keeps awaiting durability (Kafka's default
/// producer buffer.memory).
const IN_FLIGHT_BYTES: u64 = 32 * MIB;

#[derive(Parser, Debug)]
#[command(about = "Benchmark fjord-storage against the raw disk, in the same run")]
struct Arguments {
    /// Directory on the disk under test (emptied first).
    #[arg(long, default_value = "target/fjord-storage-bench")]
    dir: PathBuf,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/fjord-storage-bench.json")]
    json: PathBuf,
    /// Small sizes for a smoke check (about a minute): 32 MiB or half a second
    /// per case, and 1, 20 and 200 partitions instead of 1, 100 and 2,000
    /// (creating a partition costs about five fsyncs).
    #[arg(long)]
    quick: bool,
    /// Run only the append cases whose "policy/batch KiB/partitions" name
    /// contains this (e.g. "never/16/100").
    #[arg(long)]
    only: Option<String>,
    /// The open-file cache size of each disk (below the partition count, every
    /// append of a round-robin load reopens its segment file).
    #[arg(long, default_value_t = 1024)]
    open_files: usize,
    /// How append cases preallocate segments: none, set-len or fallocate.
    #[arg(long, default_value = "fallocate")]
    preallocate: String,
}

fn preallocate_from(name: &str) -> Result<Preallocate> {
    match name {
        "none" => Ok(Preallocate::None),
        "set-len" => Ok(Preallocate::SetLen),
        "fallocate" => Ok(Preallocate::Fallocate),
        other => anyhow::bail!("unknown preallocation {other}"),
    }
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub(crate) bytes_per_case: u64,
    pub(crate) seconds_per_case: f64,
    pub(crate) recovery_bytes: u64,
    pub(crate) partitions: [usize; 3],
}

#[derive(Debug, Clone, Copy)]
struct Policy {
    name: &'static str,
    flush: FlushPolicy,
    /// Bytes between syncs in the raw baseline (None: never sync).
    raw_sync_every: Option<u64>,
}

fn policies() -> [Policy; 4] {
    let group_bytes = 4 * MIB;
    [
        Policy {
            name: "every-append",
            flush: FlushPolicy::EveryAppend,
            raw_sync_every: Some(MIB),
        },
        Policy {
            name: "group-commit",
            flush: FlushPolicy::GroupCommit {
                interval: Duration::from_millis(2),
                bytes: ByteSize(group_bytes),
            },
            raw_sync_every: Some(group_bytes),
        },
        Policy {
            // The per-disk journal (JOURNAL.md): its raw baseline is the
            // same background-synced sequential write as group commit's.
            name: "journal",
            flush: FlushPolicy::Journal(JournalConfig::default()),
            raw_sync_every: Some(group_bytes),
        },
        Policy {
            name: "never",
            flush: FlushPolicy::Never,
            raw_sync_every: None,
        },
    ]
}

pub(crate) fn mb_per_second(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / MIB as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn log_config(segment_bytes: ByteSize, preallocate: Preallocate) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_age: None,
        retention_bytes: None,
        retention_age: None,
        preallocate,
        ..LogConfig::default()
    }
}

/// Latencies in nanoseconds, sorted on demand; percentiles in milliseconds.
#[derive(Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    fn percentile(&mut self, quantile: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let index = ((self.0.len() as f64 - 1.0) * quantile).round() as usize;
        self.0[index] as f64 / 1_000_000.0
    }
}

struct AppendCase {
    open_files: usize,
    preallocate: Preallocate,
    policy: Policy,
    partitions: usize,
    batch_bytes: usize,
}

/// What one append case measured.
struct CaseResult {
    /// Acknowledged (durable) MB/s.
    mb_per_s: f64,
    latencies: Latencies,
    /// Journal only: MB/s until the segments too are synced (a checkpoint
    /// inside the timed region), since small appends are written twice.
    segments_synced_mb_per_s: Option<f64>,
}

/// Appends round-robin over the partitions; latency is append-to-durable
/// (append-to-return under `never`).
fn run_append_case(dir: &Path, scale: &Scale, case: &AppendCase) -> Result<CaseResult> {
    let case_dir = dir.join("log-case");
    let _ = std::fs::remove_dir_all(&case_dir);
    let disk = Disk::open(
        Arc::new(StdMedium),
        &case_dir,
        case.policy.flush,
        case.open_files,
    )?;
    let flusher = disk.start_flusher();
    let segment_bytes =
        ByteSize((scale.bytes_per_case / case.partitions as u64 + 2 * MIB).min(256 * MIB));
    let mut logs = Vec::with_capacity(case.partitions);
    for partition in 0..case.partitions {
        let path = case_dir.join(format!("bench-{partition}"));
        logs.push(Log::open(
            &disk,
            &path,
            log_config(segment_bytes, case.preallocate),
        )?);
    }
    // Steady state: the first append at a new leader epoch also writes and
    // syncs the epoch history (two fsyncs); do it before the clock starts.
    let warm_up = build_batch(1, Timestamp(1), RECORD_BYTES, 0x41);
    for log in &mut logs {
        log.append(&mut warm_up.clone(), LeaderEpoch(0))?;
    }
    if let Some(flush) = flusher.as_ref().map(|_| disk.flush_pending()) {
        flush?;
    }
    // Like a producer's buffer: at most IN_FLIGHT_BYTES awaiting durability,
    // so latency is measured at the disk's pace, not as an ever-growing queue.
    let in_flight_max = (IN_FLIGHT_BYTES as usize / case.batch_bytes).max(1);
    let records = (case.batch_bytes / RECORD_BYTES) as i32;
    let template = build_batch(records, Timestamp(1), case.batch_bytes - 61, 0x42);
    let mut latencies = Latencies::default();
    let mut waiting: VecDeque<(DurableOffset, Offset, Instant)> = VecDeque::new();
    let started = Instant::now();
    let mut written = 0u64;
    let mut next = 0usize;
    while written < scale.bytes_per_case && started.elapsed().as_secs_f64() < scale.seconds_per_case
    {
        let mut batch = template.clone();
        let t0 = Instant::now();
        let info = logs[next].append(&mut batch, LeaderEpoch(0))?;
        match case.policy.flush {
            FlushPolicy::GroupCommit { .. } | FlushPolicy::Journal(_) => {
                waiting.push_back((logs[next].durability(), info.log_end_offset, t0))
            }
            _ => latencies.0.push(t0.elapsed().as_nanos() as u64),
        }
        drain_durable(&mut waiting, &mut latencies, in_flight_max);
        written += batch.len() as u64;
        next = (next + 1) % case.partitions;
    }
    drain_durable(&mut waiting, &mut latencies, 0);
    let elapsed = started.elapsed();
    let segments_synced_mb_per_s = match case.policy.flush {
        FlushPolicy::Journal(_) => {
            disk.checkpoint()?;
            Some(mb_per_second(written, started.elapsed()))
        }
        _ => None,
    };
    drop(flusher);
    drop(logs);
    let _ = std::fs::remove_dir_all(&case_dir);
    Ok(CaseResult {
        mb_per_s: mb_per_second(written, elapsed),
        latencies,
        segments_synced_mb_per_s,
    })
}

/// Records the latency of every append that became durable; blocks while
/// more than `keep_at_most` appends are waiting.
fn drain_durable(
    waiting: &mut VecDeque<(DurableOffset, Offset, Instant)>,
    latencies: &mut Latencies,
    keep_at_most: usize,
) {
    // Bounded by the queue length.
    while let Some((durable, end, t0)) = waiting.front() {
        let reached = if waiting.len() > keep_at_most {
            durable.wait_for(*end, Duration::from_secs(30))
        } else {
            durable.get() >= *end
        };
        if !reached {
            break;
        }
        latencies.0.push(t0.elapsed().as_nanos() as u64);
        waiting.pop_front();
    }
}

/// Fetch throughput from the page cache, with and without read verification.
fn fetch_case(dir: &Path, bytes: u64) -> Result<(f64, f64)> {
    let case_dir = dir.join("fetch");
    let _ = std::fs::remove_dir_all(&case_dir);
    let disk = Disk::new(Arc::new(StdMedium), FlushPolicy::Never, 64);
    let mut log = Log::open(
        &disk,
        &case_dir,
        log_config(ByteSize::gib(1), Preallocate::SetLen),
    )?;
    let template = build_batch(1024, Timestamp(1), MIB as usize - 61, 0x17);
    while log.size().0 < bytes {
        log.append(&mut template.clone(), LeaderEpoch(0))?;
    }
    let mut results = [0.0f64; 6];
    for (slot, verify) in [false, true, false, true, false, true]
        .into_iter()
        .enumerate()
    {
        let mut config = log_config(ByteSize::gib(1), Preallocate::SetLen);
        config.verify_reads = verify;
        log.set_config(config)?;
        let started = Instant::now();
        let mut next = Offset(0);
        let mut read = 0u64;
        let mut buffer = Vec::with_capacity(2 * MIB as usize);
        while next < log.log_end_offset() {
            next = log.read_into(next, ByteSize::mib(1), Offset(i64::MAX), &mut buffer)?;
            read += buffer.len() as u64;
        }
        results[slot] = mb_per_second(read, started.elapsed());
    }
    drop(log);
    let _ = std::fs::remove_dir_all(&case_dir);
    // Best of three passes each: the host is shared, the best pass is the
    // one least disturbed by other tenants.
    let best = |first: usize| {
        results[first]
            .max(results[first + 2])
            .max(results[first + 4])
    };
    Ok((best(1), best(0)))
}

/// Time to open a log of `bytes` after a clean and after an unclean shutdown.
fn recovery_case(dir: &Path, bytes: u64) -> Result<(f64, f64)> {
    let case_dir = dir.join("recovery");
    let _ = std::fs::remove_dir_all(&case_dir);
    let config = log_config(ByteSize(256 * MIB), Preallocate::SetLen);
    let disk = Disk::new(Arc::new(StdMedium), FlushPolicy::Never, 64);
    let mut log = Log::open(&disk, &case_dir, config.clone())?;
    let template = build_batch(16, Timestamp(1), 16 * 1024 - 61, 0x29);
    while log.size().0 < bytes {
        log.append(&mut template.clone(), LeaderEpoch(0))?;
    }
    log.close()?;
    let disk = Disk::new(Arc::new(StdMedium), FlushPolicy::Never, 64);
    let started = Instant::now();
    let log = Log::open(&disk, &case_dir, config.clone())?;
    let clean = started.elapsed();
    anyhow::ensure!(
        log.recovery_report().clean_shutdown,
        "expected a clean open"
    );
    drop(log); // no close: the next open is unclean
    let disk = Disk::new(Arc::new(StdMedium), FlushPolicy::Never, 64);
    let started = Instant::now();
    let log = Log::open(&disk, &case_dir, config)?;
    let unclean = started.elapsed();
    anyhow::ensure!(
        !log.recovery_report().clean_shutdown,
        "expected an unclean open"
    );
    drop(log);
    let _ = std::fs::remove_dir_all(&case_dir);
    Ok((clean.as_secs_f64() * 1000.0, unclean.as_secs_f64() * 1000.0))
}

fn main() -> Result<()> {
    let arguments = Arguments::parse();
    let scale = if arguments.quick {
        Scale {
            bytes_per_case: 32 * MIB,
            seconds_per_case: 0.5,
            recovery_bytes: 64 * MIB,
            partitions: [1, 20, 200],
        }
    } else {
        Scale {
            bytes_per_case: 512 * MIB,
            seconds_per_case: 5.0,
            recovery_bytes: 1024 * MIB,
            partitions: [1, 100, 2000],
        }
    };
    let preallocate = preallocate_from(&arguments.preallocate)?;
    let _ = std::fs::remove_dir_all(&arguments.dir);
    std::fs::create_dir_all(&arguments.dir)
        .with_context(|| format!("creating {}", arguments.dir.display()))?;
    let dir = arguments.dir.as_path();
    println!(
        "fjord-storage-bench in {} ({})",
        dir.display(),
        if arguments.quick { "quick" } else { "full" }
    );
    let rows = append_cases(
        dir,
        &scale,
        (preallocate, arguments.open_files),
        arguments.only.as_deref(),
    )?;
    eprint!("fetch from cache ... ");
    let fetch_bytes = scale.bytes_per_case.min(256 * MIB);
    let (cache_read, memory_read) = raw::raw_reads(dir, fetch_bytes)?;
    let (fetch_verified, fetch_unverified) = fetch_case(dir, fetch_bytes)?;
    let crc_rate = raw::crc_throughput(fetch_bytes);
    eprintln!("done");
    eprint!("recovery of {} MiB ... ", scale.recovery_bytes / MIB);
    let (clean_ms, unclean_ms) = recovery_case(dir, scale.recovery_bytes)?;
    eprintln!("done");
    let fetch = json!({
        "bytes": fetch_bytes, "memory_copy_mb_per_s": memory_read, "page_cache_read_mb_per_s": cache_read,
        "log_verified_mb_per_s": fetch_verified, "log_unverified_mb_per_s": fetch_unverified,
        "ratio_verified": fetch_verified / memory_read, "crc32c_mb_per_s": crc_rate, "ratio_unverified": fetch_unverified / memory_read,
    });
    let recovery = json!({ "bytes": scale.recovery_bytes, "clean_open_ms": clean_ms, "unclean_open_ms": unclean_ms });
    report::print_table(&rows, &fetch, &recovery);
    let report =
        json!({ "quick": arguments.quick, "append": rows, "fetch": fetch, "recovery": recovery });
    let mut out = std::fs::File::create(&arguments.json)
        .with_context(|| format!("creating {}", arguments.json.display()))?;
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    println!("json written to {}", arguments.json.display());
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// Every append case, each right after its own raw baseline so both see the
/// same neighbours on a shared disk.
fn append_cases(
    dir: &Path,
    scale: &Scale,
    (preallocate, open_files): (Preallocate, usize),
    only: Option<&str>,
) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for policy in policies() {
        for batch_bytes in [16 * 1024, MIB as usize] {
            for partitions in scale.partitions {
                let name = format!("{}/{}/{partitions}", policy.name, batch_bytes / 1024);
                if only.is_some_and(|only| !name.contains(only)) {
                    continue;
                }
                eprint!("{name}: raw ... ");
                let background = matches!(
                    policy.flush,
                    FlushPolicy::GroupCommit { .. } | FlushPolicy::Journal(_)
                );
                let raw = raw::raw_write(dir, scale, policy.raw_sync_every, background)?;
                eprint!("{raw:.0} MB/s, log ... ");
                let case = AppendCase {
                    open_files,
                    preallocate,
                    policy,
                    partitions,
                    batch_bytes,
                };
                let CaseResult {
                    mb_per_s: throughput,
                    mut latencies,
                    segments_synced_mb_per_s: synced,
                } = run_append_case(dir, scale, &case)?;
                eprintln!("{throughput:.0} MB/s");
                rows.push(json!({
                    "policy": policy.name, "batch_kib": batch_bytes / 1024, "partitions": partitions,
                    "mb_per_s": throughput, "raw_mb_per_s": raw, "ratio": throughput / raw,
                    "p50_ms": latencies.percentile(0.5), "p99_ms": latencies.percentile(0.99),
                    "p999_ms": latencies.percentile(0.999), "appends": latencies.0.len(),
                    "segments_synced_mb_per_s": synced, "segments_synced_ratio": synced.map(|s| s / raw),
                }));
            }
        }
    }
    Ok(rows)
}
