//! Starting tansu 0.6.0 for one case: `tansu broker` on a free loopback
//! port, with its memory engine (`memory://`, from the `dynostore` feature:
//! an in-process object store, nothing written to disk) or its SQLite engine
//! (`sqlite://`, from the `libsql` feature: a database file in the case's
//! directory, which is the process's working directory because tansu
//! resolves that URL against it).

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{Broker, free_address};

/// How long tansu may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of tansu's log quoted when it fails to start.
const LOG_TAIL_LINES: usize = 20;
/// Variables tansu reads for options this benchmark does not pass (the ones
/// it passes on the command line win over the environment anyway).
const IGNORED_ENVIRONMENT: [&str; 3] = [
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "DATA_LAKE",
];

/// A tansu storage engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Memory,
    Sqlite,
}

impl Engine {
    /// The `--storage-engine` URL.
    pub(crate) fn storage_url(self) -> &'static str {
        match self {
            Engine::Memory => "memory://tansu/",
            // Relative to the working directory: `<case dir>/tansu.db`.
            Engine::Sqlite => "sqlite://tansu.db",
        }
    }
}

/// `tansu --version`, which also proves the binary runs.
pub(crate) fn version(binary: &Path) -> anyhow::Result<String> {
    if !binary.is_file() {
        bail!(
            "no tansu binary at {} (`cargo xtask bench peer` builds tansu 0.6.0 with --features dynostore,libsql)",
            binary.display()
        );
    }
    let output = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} --version", binary.display()))?;
    if !output.status.success() {
        bail!(
            "{} --version failed with {}: {}",
            binary.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The command line of a tansu broker listening on (and advertising)
/// `address` with `engine`.
pub(crate) fn arguments(address: SocketAddr, engine: Engine) -> Vec<String> {
    vec![
        "broker".to_owned(),
        format!("--listener-url=tcp://{address}"),
        format!("--advertised-listener-url=tcp://{address}"),
        format!("--storage-engine={}", engine.storage_url()),
        "--cluster-id=fjord-peer-bench".to_owned(),
    ]
}

/// Starts tansu in `dir` (emptied first) and waits until it listens. Its
/// output goes to `dir/tansu.log`, quoted in the error when it exits or
/// does not listen in time.
pub(crate) fn start(binary: &Path, dir: &Path, engine: Engine) -> anyhow::Result<Broker> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let address = free_address()?;
    let log_path = dir.join("tansu.log");
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    // Absolute: the child runs in `dir`, where a relative path would not
    // resolve.
    let binary =
        std::path::absolute(binary).with_context(|| format!("resolving {}", binary.display()))?;
    let mut command = Command::new(&binary);
    command
        .args(arguments(address, engine))
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for name in IGNORED_ENVIRONMENT {
        command.env_remove(name);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut broker = Broker {
        child,
        bootstrap: address.to_string(),
        dir: dir.to_owned(),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = broker.child.try_wait()? {
            bail!(
                "tansu ({}) exited with {status} before listening on {address}; its log ends:\n{}",
                engine.storage_url(),
                log_tail(&log_path)
            );
        }
        if TcpStream::connect(address).is_ok() {
            return Ok(broker);
        }
        if Instant::now() > deadline {
            bail!(
                "tansu ({}) did not listen on {address} within {} s; its log ends:\n{}",
                engine.storage_url(),
                START_TIMEOUT.as_secs(),
                log_tail(&log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => last_lines(&text, LOG_TAIL_LINES),
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}

/// The last `count` lines of `text` (all of it when shorter), or a note
/// that it is empty.
pub(crate) fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(empty)".to_owned();
    }
    lines[lines.len().saturating_sub(count)..].join("\n")
}
