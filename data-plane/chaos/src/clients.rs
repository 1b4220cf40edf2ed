//! The Kafka clients of a run: `clients/chaos_clients.py` on confluent-kafka
//! (librdkafka), started from the Python that `FJORD_TEST_PYTHON` or
//! `--python` names. Producers stream their acknowledgements to the oracle.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::checker::Placed;
use crate::{Error, Result};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/chaos_clients.py");

fn client_error(what: &str, message: impl Into<String>) -> Error {
    Error::Client {
        what: what.to_owned(),
        message: message.into(),
    }
}

fn command(python: &Path, action: &str, bootstrap: &str) -> Command {
    let mut command = Command::new(python);
    command.arg(SCRIPT).args([action, bootstrap]);
    command
}

/// Runs a client to completion and returns its standard output lines.
fn run_to_end(what: &str, command: &mut Command) -> Result<Vec<String>> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| client_error(what, format!("cannot start: {error}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<_> = stderr.lines().rev().take(5).collect();
        return Err(client_error(
            what,
            format!("{}: {}", output.status, tail.join(" | ")),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

pub(crate) fn create_topic(
    python: &Path,
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    replication: usize,
) -> Result<()> {
    let lines = run_to_end(
        "create topic",
        command(python, "create", bootstrap).args([
            topic,
            &partitions.to_string(),
            &replication.to_string(),
        ]),
    )?;
    if lines != ["ok"] {
        return Err(client_error("create topic", format!("{lines:?}")));
    }
    Ok(())
}

/// Reads every partition from its start; records in offset order per partition.
pub(crate) fn read_all(
    python: &Path,
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<Vec<Placed>> {
    let lines = run_to_end(
        "reader",
        command(python, "read", bootstrap).args([topic, &partitions.to_string()]),
    )?;
    let mut records = Vec::new();
    let mut ended = None;
    for line in &lines {
        if let Some(record) = line.strip_prefix("rec ") {
            records.push(Placed::parse(record)?);
        } else if let Some(count) = line.strip_prefix("end ") {
            ended = count.parse::<usize>().ok();
        }
    }
    let mut last = std::collections::HashMap::new();
    for record in &records {
        if let Some(previous) = last.insert(record.partition, record.offset)
            && previous >= record.offset
        {
            let message = format!(
                "partition {} read offset {} after {previous}",
                record.partition, record.offset
            );
            return Err(client_error("reader", message));
        }
    }
    if ended != Some(records.len()) {
        return Err(client_error(
            "reader",
            format!("ended with {ended:?} after {} records", records.len()),
        ));
    }
    Ok(records)
}

/// What the producers have reported so far.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) acked: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Errors from the client's error callback (not records).
    pub(crate) client_errors: AtomicU64,
    pub(crate) restarts: AtomicU64,
    /// Records still unacknowledged when a producer gave up flushing.
    pub(crate) unflushed: AtomicU64,
}

/// The oracle: every acknowledged record, in memory and in a file.
#[derive(Debug)]
struct Oracle {
    records: Vec<Placed>,
    file: BufWriter<File>,
}

/// The producer processes, each with a thread copying its acknowledgements
/// into the oracle.
#[derive(Debug)]
pub(crate) struct Producers {
    children: Vec<(Child, Option<ChildStdin>)>,
    readers: Vec<JoinHandle<()>>,
    oracle: Arc<Mutex<Oracle>>,
    pub(crate) tally: Arc<Tally>,
    pub(crate) oracle_path: PathBuf,
}

pub(crate) struct ProducerPlan<'a> {
    pub(crate) python: &'a Path,
    pub(crate) bootstrap: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) partitions: i32,
    pub(crate) count: usize,
    pub(crate) rate: u32,
    pub(crate) oracle_path: PathBuf,
}

impl Producers {
    pub(crate) fn start(plan: &ProducerPlan<'_>) -> Result<Self> {
        let file = File::create(&plan.oracle_path).map_err(|source| Error::Io {
            path: plan.oracle_path.display().to_string(),
            source,
        })?;
        let oracle = Arc::new(Mutex::new(Oracle {
            records: Vec::new(),
            file: BufWriter::new(file),
        }));
        let tally = Arc::new(Tally::default());
        let mut producers = Self {
            children: Vec::new(),
            readers: Vec::new(),
            oracle,
            tally,
            oracle_path: plan.oracle_path.clone(),
        };
        for index in 0..plan.count {
            let mut child = command(plan.python, "produce", plan.bootstrap)
                .args([
                    plan.topic,
                    &index.to_string(),
                    &plan.partitions.to_string(),
                    &plan.rate.to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|error| client_error("producer", format!("cannot start: {error}")))?;
            let stdout = child.stdout.take().expect("stdout is piped");
            let stdin = child.stdin.take();
            let oracle = Arc::clone(&producers.oracle);
            let tally = Arc::clone(&producers.tally);
            producers.readers.push(std::thread::spawn(move || {
                follow(index, BufReader::new(stdout), &oracle, &tally);
            }));
            producers.children.push((child, stdin));
        }
        Ok(producers)
    }

    pub(crate) fn count(&self) -> usize {
        self.children.len()
    }

    /// Producers still running (all of them until [`Self::finish`]).
    pub(crate) fn running(&mut self) -> usize {
        let mut running = 0;
        for (child, _) in &mut self.children {
            if child.try_wait().ok().flatten().is_none() {
                running += 1;
            }
        }
        running
    }

    /// Closes every producer's stdin, waits until each has flushed and
    /// exited, and returns the oracle.
    pub(crate) fn finish(mut self) -> Result<Vec<Placed>> {
        for (_, stdin) in &mut self.children {
            drop(stdin.take());
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        for (child, _) in &mut self.children {
            let status = child
                .wait()
                .map_err(|error| client_error("producer", error.to_string()))?;
            if !status.success() {
                return Err(client_error("producer", format!("exited with {status}")));
            }
        }
        let mut oracle = self.oracle.lock().unwrap_or_else(PoisonError::into_inner);
        oracle.file.flush().map_err(|source| Error::Io {
            path: self.oracle_path.display().to_string(),
            source,
        })?;
        Ok(std::mem::take(&mut oracle.records))
    }
}

impl Drop for Producers {
    fn drop(&mut self) {
        for (child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies one producer's report lines into the oracle and the tally.
fn follow(index: usize, lines: impl BufRead, oracle: &Mutex<Oracle>, tally: &Tally) {
    for line in lines.lines() {
        let Ok(line) = line else { return };
        if let Some(acked) = line.strip_prefix("ack ") {
            match Placed::parse(acked) {
                Ok(record) => {
                    let mut oracle = oracle.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = writeln!(oracle.file, "{}", record.line());
                    oracle.records.push(record);
                    tally.acked.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => eprintln!("chaos: producer {index}: {error}"),
            }
        } else if line.starts_with("fail ") {
            tally.failed.fetch_add(1, Ordering::Relaxed);
        } else if line.starts_with("error ") {
            tally.client_errors.fetch_add(1, Ordering::Relaxed);
        } else if let Some(restart) = line.strip_prefix("incarnation ") {
            tally.restarts.fetch_add(1, Ordering::Relaxed);
            eprintln!("chaos: producer {index} starts incarnation {restart}");
        } else if let Some(unflushed) = line.strip_prefix("done ") {
            let unflushed = unflushed.parse().unwrap_or(0);
            tally.unflushed.fetch_add(unflushed, Ordering::Relaxed);
        }
    }
}
