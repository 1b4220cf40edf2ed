//! Kafka clients for the real-broker tests: kcat, and the chaos run's
//! confluent-kafka clients (`data-plane/chaos/clients/chaos_clients.py`)
//! whose acknowledgements the chaos checker compares with a read-back.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use fjord_chaos::checker::Placed;

pub(crate) const TOPIC: &str = "orders";
pub(crate) const PARTITIONS: i32 = 3;

/// The chaos run's Kafka clients (confluent-kafka).
pub(crate) const CLIENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data-plane/chaos/clients/chaos_clients.py"
);

pub(crate) fn python() -> PathBuf {
    std::env::var_os("FJORD_TEST_PYTHON")
        .map(PathBuf::from)
        .expect("FJORD_TEST_PYTHON names a Python with confluent-kafka (cargo xtask test sets it)")
}

/// Runs a client to its end; its standard output lines.
pub(crate) fn run_client(python: &Path, args: &[&str]) -> Vec<String> {
    let output = Command::new(python)
        .arg(CLIENTS)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// An idempotent `acks=all` producer; its acknowledgements are the oracle.
pub(crate) struct Producer {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: std::thread::JoinHandle<(Vec<Placed>, Vec<String>)>,
}

impl Producer {
    pub(crate) fn start(python: &Path, bootstrap: &str) -> Self {
        Self::start_on(python, bootstrap, TOPIC)
    }

    /// As [`Self::start`], to `topic` (with [`PARTITIONS`] partitions).
    pub(crate) fn start_on(python: &Path, bootstrap: &str, topic: &str) -> Self {
        let mut child = Command::new(python)
            .arg(CLIENTS)
            .args([
                "produce",
                bootstrap,
                topic,
                "0",
                &PARTITIONS.to_string(),
                "200",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut failed = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(record) = line.strip_prefix("ack ") {
                    acked.push(Placed::parse(record).unwrap());
                } else if line.starts_with("fail ") || line.starts_with("incarnation ") {
                    failed.push(line);
                }
            }
            (acked, failed)
        });
        Self {
            child,
            stdin,
            reader,
        }
    }

    /// Stops producing, waits for the flush; the acknowledged records and
    /// the failures.
    pub(crate) fn finish(mut self) -> (Vec<Placed>, Vec<String>) {
        drop(self.stdin.take());
        let result = self.reader.join().unwrap();
        assert!(self.child.wait().unwrap().success());
        result
    }
}

/// The brokers `kcat -L` lists, by id.
pub(crate) fn kcat_brokers(bootstrap: &str) -> BTreeMap<u32, String> {
    let output = std::process::Command::new("kcat")
        .args(["-L", "-b", bootstrap, "-m", "5"])
        .output()
        .expect("kcat must be installed (cargo xtask test installs it)");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (id, address) = line.trim().strip_prefix("broker ")?.split_once(" at ")?;
            Some((
                id.parse().ok()?,
                address.split_whitespace().next()?.to_owned(),
            ))
        })
        .collect()
}

/// Every record of the topic, read from the start of each partition.
pub(crate) async fn read_back(python: &Path, bootstrap: &str) -> Vec<Placed> {
    read_back_from(python, bootstrap, TOPIC).await
}

/// As [`read_back`], of `topic`.
pub(crate) async fn read_back_from(python: &Path, bootstrap: &str, topic: &str) -> Vec<Placed> {
    let python = python.to_owned();
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    let lines = tokio::task::spawn_blocking(move || {
        run_client(
            &python,
            &["read", &bootstrap, &topic, &PARTITIONS.to_string()],
        )
    })
    .await
    .unwrap();
    lines
        .iter()
        .filter_map(|line| line.strip_prefix("rec "))
        .map(|record| Placed::parse(record).unwrap())
        .collect()
}

pub(crate) fn dump_logs(state: &std::path::Path) {
    let Ok(output) = std::process::Command::new("sh")
        .arg("-c")
        .arg("for f in $(find \"$1\" -name '*.log'); do echo \"== $f\"; tail -n 30 \"$f\"; done")
        .arg("sh")
        .arg(state)
        .output()
    else {
        return;
    };
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}
