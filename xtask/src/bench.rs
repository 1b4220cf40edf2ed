//! `cargo xtask bench <name>`: benchmarks, in release mode, never part of
//! `cargo xtask test`. Each prints a table and writes JSON under
//! `target/bench/`; figures are ratios against a baseline measured in the
//! same run, because absolute numbers on a shared machine mean little.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::dev::cargo;
use crate::{process, step, target_dir};

const BENCHMARKS: &str = "storage, control-plane, broker, cluster, latency, peer, rollout, loop";

pub(crate) fn run(rest: &[String]) -> anyhow::Result<()> {
    let Some((name, passthrough)) = rest.split_first() else {
        bail!("name a benchmark: {BENCHMARKS}");
    };
    let output = target_dir().join("bench");
    std::fs::create_dir_all(&output)?;
    match name.as_str() {
        "storage" => {
            step("storage benchmark (release build); pass --quick for a one-minute smoke run");
            process::run(
                Command::new(cargo())
                    .args(["run", "--release", "--quiet", "-p", "fjord-storage"])
                    .args(["--bin", "fjord-storage-bench", "--"])
                    .arg("--dir")
                    .arg(output.join("storage-data"))
                    .arg("--json")
                    .arg(output.join("storage.json"))
                    .args(passthrough),
            )
        }
        "control-plane" => {
            step(
                "control-plane benchmark (release build); pass --quick for a one-minute smoke run",
            );
            // The bench creates and drops its own database on this server.
            let postgres = crate::postgres::Postgres::ensure()?;
            process::run(
                Command::new(cargo())
                    .args([
                        "run",
                        "--release",
                        "--quiet",
                        "-p",
                        "fjord-control-plane-bench",
                    ])
                    .arg("--")
                    .arg("--json")
                    .arg(output.join("control-plane.json"))
                    .args(passthrough)
                    .env("DATABASE_URL", &postgres.url),
            )
        }
        "broker" => broker(&output, passthrough),
        "cluster" => cluster(&output, passthrough),
        "latency" => latency(&output, passthrough),
        "peer" => peer(&output, passthrough),
        "rollout" => rollout(&output, passthrough),
        // The dev stack's loop (debug binaries): xtask/src/dev/bench.rs.
        "loop" => crate::dev::bench::run(&output, passthrough),
        other => bail!("unknown benchmark {other:?}; known: {BENCHMARKS}"),
    }
}

/// The broker under librdkafka, with the storage core's append rate measured
/// first in the same run as its baseline.
fn broker(output: &std::path::Path, passthrough: &[String]) -> anyhow::Result<()> {
    step(
        "broker benchmark (release build; librdkafka builds from source the first time); pass --quick for a smoke run",
    );
    // librdkafka's TLS (the SASL_SSL case) links the system's OpenSSL; the
    // case's certificate is made with the openssl command.
    crate::tools::ensure_libraries(&[("openssl", "libssl-dev")])?;
    crate::tools::ensure_programs(&[("openssl", "openssl")])?;
    process::run(Command::new(cargo()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "fjord-broker",
        "-p",
        "fjord-broker-bench",
    ]))?;
    step("storage core baseline: group commit, 16 KiB batches, 1 partition");
    let storage_json = output.join("broker-storage-baseline.json");
    process::run(
        Command::new(cargo())
            .args(["run", "--release", "--quiet", "-p", "fjord-storage"])
            .args(["--bin", "fjord-storage-bench", "--"])
            .arg("--dir")
            .arg(output.join("storage-data"))
            .arg("--json")
            .arg(&storage_json)
            // As the broker runs its logs: no preallocation.
            .args(["--only", "group-commit/16/1", "--preallocate", "none"])
            .args(passthrough.iter().filter(|arg| *arg == "--quick")),
    )?;
    step("broker under librdkafka");
    let release = target_dir().join("release");
    process::run(
        Command::new(release.join("fjord-broker-bench"))
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .arg("--dir")
            .arg(output.join("broker-data"))
            .arg("--storage-json")
            .arg(&storage_json)
            .arg("--json")
            .arg(output.join("broker.json"))
            .args(passthrough),
    )
}

/// Replication's cost: 3 brokers with a topic of rf=3 against one broker
/// with rf=1, in the same run, acks=all (`--brokers N`, `--quick` pass through).
fn cluster(output: &std::path::Path, passthrough: &[String]) -> anyhow::Result<()> {
    step(
        "cluster benchmark (release build; librdkafka builds from source the first time); pass --quick for a smoke run",
    );
    // The bench binary's librdkafka links the system's OpenSSL.
    crate::tools::ensure_libraries(&[("openssl", "libssl-dev")])?;
    process::run(Command::new(cargo()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "fjord-broker",
        "-p",
        "fjord-broker-bench",
    ]))?;
    step("1 broker rf=1, then the cluster rf=3, under librdkafka");
    let release = target_dir().join("release");
    process::run(
        Command::new(release.join("fjord-broker-bench"))
            .arg("--cluster")
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .arg("--dir")
            .arg(output.join("cluster-data"))
            .arg("--json")
            .arg(output.join("cluster.json"))
            .args(passthrough),
    )
}

/// Produce and end-to-end latency at fixed offered loads (10, 50 and 80 %
/// of the measured maximum) on 3 brokers, rf=3, with the disk's `fdatasync`
/// and a loopback round trip as the floor (`--producers 4,50`, `--seconds`,
/// `--partitions` pass through).
fn latency(output: &std::path::Path, passthrough: &[String]) -> anyhow::Result<()> {
    step("latency benchmark (release build); pass --seconds 10 for a run of a few minutes");
    process::run(
        Command::new(cargo())
            .args(["build", "--release", "--quiet"])
            .args(["-p", "fjord-broker", "-p", "fjord-broker-bench"]),
    )?;
    let release = target_dir().join("release");
    process::run(
        Command::new(release.join("fjord-broker-bench"))
            .arg("--latency")
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .arg("--dir")
            .arg(output.join("latency-data"))
            .arg("--json")
            .arg(output.join("latency.json"))
            .args(passthrough),
    )
}

/// The peer broker of `bench peer`, built once into the target directory.
const TANSU_VERSION: &str = "0.6.0";
/// Its memory (`dynostore`) and SQLite (`libsql`) storage engines: the
/// default features enable none.
const TANSU_FEATURES: &str = "dynostore,libsql";
/// About how many crates a tansu build compiles, for the progress lines.
const TANSU_CRATES: usize = 820;

/// One durable Fjord broker against tansu 0.6.0's memory and SQLite engines
/// under the same librdkafka load, in one run (`--quick`,
/// `--peer-producers N`, `--peer-partitions 4,100`, `--peer-brokers
/// fjord,tansu-memory,tansu-sqlite` pass through).
fn peer(output: &Path, passthrough: &[String]) -> anyhow::Result<()> {
    step(
        "peer benchmark: Fjord against tansu (release build; librdkafka and tansu build from source the first time); pass --quick for a smoke run",
    );
    // The bench binary's librdkafka links the system's OpenSSL.
    crate::tools::ensure_libraries(&[("openssl", "libssl-dev")])?;
    let tansu = ensure_tansu()?;
    process::run(
        Command::new(cargo())
            .args(["build", "--release", "--quiet"])
            .args(["-p", "fjord-broker", "-p", "fjord-broker-bench"]),
    )?;
    step("fjord (one durable broker), tansu memory:// and tansu sqlite:// under the same load");
    let release = target_dir().join("release");
    process::run(
        Command::new(release.join("fjord-broker-bench"))
            .arg("--peer")
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .arg("--tansu-bin")
            .arg(&tansu)
            .arg("--dir")
            .arg(output.join("peer-data"))
            .arg("--json")
            .arg(output.join("peer.json"))
            .args(passthrough),
    )
}

/// The tansu binary under `target/peers/`, installed with `cargo install`
/// (its own lock file, its own target directory) unless already there.
fn ensure_tansu() -> anyhow::Result<PathBuf> {
    let peers = target_dir().join("peers");
    let root = peers.join(format!("tansu-{TANSU_VERSION}"));
    let binary = root.join("bin").join("tansu");
    if binary.is_file() {
        step(&format!(
            "tansu {TANSU_VERSION}: {} (built before)",
            binary.display()
        ));
        return Ok(binary);
    }
    std::fs::create_dir_all(&peers)?;
    let log_path = peers.join(format!("tansu-{TANSU_VERSION}-build.log"));
    step(&format!(
        "building tansu {TANSU_VERSION} with --features {TANSU_FEATURES} once (about {TANSU_CRATES} crates, 15-25 minutes on 2 cores); log: {}",
        log_path.display()
    ));
    let mut log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut child = Command::new(cargo())
        .args(["install", "tansu", "--version", TANSU_VERSION, "--locked"])
        .args(["--features", TANSU_FEATURES, "--root"])
        .arg(&root)
        .arg("--target-dir")
        .arg(peers.join("build"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cargo install tansu")?;
    let stderr = child.stderr.take().context("cargo install's stderr")?;
    let mut compiled = 0;
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading cargo install's output")?;
        writeln!(log, "{line}")?;
        if line.trim_start().starts_with("Compiling ") {
            compiled += 1;
            if compiled % 100 == 0 {
                step(&format!(
                    "tansu build: {compiled} of about {TANSU_CRATES} crates compiled"
                ));
            }
        }
    }
    let status = child.wait().context("waiting for cargo install tansu")?;
    if !status.success() || !binary.is_file() {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        bail!(
            "cargo install tansu {TANSU_VERSION} failed ({status}); full log {}; it ends:\n{}",
            log_path.display(),
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    step(&format!(
        "tansu {TANSU_VERSION} built: {}",
        binary.display()
    ));
    Ok(binary)
}

/// The operator rolling a StreamCluster's version on the in-process
/// testbed with real brokers, under a fixed-rate librdkafka producer: roll
/// time, and produce errors and latency during the roll as ratios to the
/// same run before it (`--brokers 3,6`, `--quick`, `--rate`,
/// `--pause-seconds` pass through).
fn rollout(output: &std::path::Path, passthrough: &[String]) -> anyhow::Result<()> {
    step(
        "rollout benchmark (release build; librdkafka builds from source the first time); pass --quick for a smoke run",
    );
    process::run(Command::new(cargo()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "fjord-broker",
        "-p",
        "fjord-rollout-bench",
    ]))?;
    step("a version roll of each cluster size under a fixed-rate producer");
    let release = target_dir().join("release");
    process::run(
        Command::new(release.join("fjord-rollout-bench"))
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .arg("--dir")
            .arg(output.join("rollout-data"))
            .arg("--json")
            .arg(output.join("rollout.json"))
            .args(passthrough),
    )
}
