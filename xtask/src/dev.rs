//! `cargo xtask dev`: the local platform in one command.
//!
//! Starts Postgres (or uses `DATABASE_URL`), the control plane serving the
//! console, and a cluster of three brokers (Raft-replicated topics); prints where everything is; stops it all on
//! Ctrl-C or as soon as any piece exits on its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::moto::Moto;
use crate::postgres::Postgres;
use crate::process::{self, Supervised};
use crate::{reject_unknown, step, target_dir, tools, web};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Brokers of the dev cluster.
const BROKERS: u16 = 3;

#[derive(Debug, Clone, Copy)]
struct BrokerAddresses {
    kafka: SocketAddr,
    admin: SocketAddr,
    peer: SocketAddr,
}

struct Brokers {
    addresses: Vec<BrokerAddresses>,
    processes: Vec<Supervised>,
}

/// A free port near `preferred`, not among `taken` (then taken).
fn pick_port(preferred: u16, taken: &mut Vec<u16>) -> anyhow::Result<u16> {
    let mut candidate = preferred;
    loop {
        let port = process::free_port(candidate)?;
        if !taken.contains(&port) {
            taken.push(port);
            return Ok(port);
        }
        candidate = candidate.wrapping_add(100).max(1024);
    }
}

/// Starts a three-broker cluster (cluster mode: Raft-replicated topics, a
/// controller group on all three) and waits until every broker is
/// registered and a controller leads.
fn start_brokers(bin: &Path, taken: &mut Vec<u16>) -> anyhow::Result<Brokers> {
    let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let mut addresses = Vec::new();
    for index in 0..BROKERS {
        addresses.push(BrokerAddresses {
            kafka: local(pick_port(9092 + 10 * index, taken)?),
            admin: local(pick_port(9644 + 10 * index, taken)?),
            peer: local(pick_port(9093 + 10 * index, taken)?),
        });
    }
    let voters = (1..)
        .zip(&addresses)
        .map(|(id, broker)| format!("{id}@{}", broker.admin))
        .collect::<Vec<_>>()
        .join(",");
    let mut processes = Vec::new();
    for (id, broker) in (1..).zip(&addresses) {
        let peers = (1..)
            .zip(&addresses)
            .filter(|(other, _)| *other != id)
            .map(|(other, b)| format!("{other}={}", b.peer))
            .collect::<Vec<_>>()
            .join(",");
        let data_dir = fresh_dir(&target_dir().join("dev").join(format!("broker-{id}")))?;
        step(&format!("starting broker {id} on {}", broker.kafka));
        let mut process = Supervised::spawn(
            "fjord-broker",
            Command::new(bin.join("fjord-broker"))
                .arg("--node-id")
                .arg(id.to_string())
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--listen")
                .arg(broker.kafka.to_string())
                .arg("--admin-listen")
                .arg(broker.admin.to_string())
                .arg("--peer-listen")
                .arg(broker.peer.to_string())
                .arg("--peers")
                .arg(peers)
                .arg("--controller-voters")
                .arg(&voters)
                .arg("--default-replication-factor")
                .arg(BROKERS.to_string()),
        )?;
        // A cluster broker opens its Kafka port only once it has caught up
        // with the controller, which needs a quorum: start all, then wait.
        process::wait_for_port(broker.admin, STARTUP_TIMEOUT, &mut process)?;
        processes.push(process);
    }
    for (broker, process) in addresses.iter().zip(&mut processes) {
        process::wait_for_port(broker.kafka, STARTUP_TIMEOUT, process)?;
    }
    step("waiting for the brokers to register with the controller");
    let health = format!("http://{}/v1/cluster/health", addresses[0].admin);
    let deadline = std::time::Instant::now() + STARTUP_TIMEOUT;
    loop {
        let answer = process::output(Command::new("curl").args(["-fsS", &health]));
        // Compact JSON from the broker; xtask stays free of a JSON parser.
        if let Ok(text) = answer
            && text.contains("\"controller\":")
            && !text.contains("\"controller\":null")
            && text.matches("\"fenced\":false").count() == usize::from(BROKERS)
        {
            break;
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the brokers did not form a cluster within {STARTUP_TIMEOUT:?}; see their logs above"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(Brokers {
        addresses,
        processes,
    })
}

/// The running platform; dropping it stops every process it started.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) control_plane_url: String,
    /// Admin API key of the `dev` organization, when this run created it.
    pub(crate) api_key: Option<String>,
    /// Email and password of the `dev` organization's first console user,
    /// when this run created it.
    pub(crate) console_user: Option<(String, String)>,
    /// The first broker's Kafka and admin addresses.
    pub(crate) bootstrap: SocketAddr,
    pub(crate) broker_admin: SocketAddr,
    brokers: Vec<BrokerAddresses>,
    /// The local AWS (`moto_server`) the control plane provisions in.
    pub(crate) aws_url: String,
    // Field order is drop order: processes stop before Postgres goes away.
    processes: Vec<Supervised>,
    _moto: Moto,
    postgres: Arc<Postgres>,
}

impl Stack {
    /// Starts the control plane and a broker against `postgres`.
    pub(crate) fn start(postgres: Arc<Postgres>, console_dir: &Path) -> anyhow::Result<Self> {
        let bin = binaries_dir();
        let control_plane = SocketAddr::from(([127, 0, 0, 1], process::free_port(8080)?));
        let mut taken = vec![control_plane.port()];

        // A local AWS, so the environment checklist and provisioning are real
        // (docs/provisioning.md); dummy credentials, trust policies emulated.
        let moto = Moto::start()?;
        step(&format!("starting the control plane on {control_plane}"));
        let mut control_plane_process = Supervised::spawn(
            "fjord-control-plane",
            Command::new(bin.join("fjord-control-plane"))
                .env("DATABASE_URL", &postgres.url)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .arg("--listen")
                .arg(control_plane.to_string())
                .arg("--console-dir")
                .arg(console_dir)
                .args([
                    "--aws-access-key-id",
                    "testing",
                    "--aws-secret-access-key",
                    "testing",
                ])
                .arg("--aws-endpoint-url")
                .arg(&moto.url)
                .arg("--aws-emulate-trust-policies"),
        )?;
        process::wait_for_port(control_plane, STARTUP_TIMEOUT, &mut control_plane_process)?;
        let api_key = seed_inventory(&bin, &postgres.url);
        let console_user = api_key
            .as_ref()
            .and_then(|_| seed_console_user(&bin, &postgres.url));

        let brokers = start_brokers(&bin, &mut taken)?;
        let (bootstrap, broker_admin) = (brokers.addresses[0].kafka, brokers.addresses[0].admin);
        Ok(Self {
            control_plane_url: format!("http://{control_plane}"),
            api_key,
            console_user,
            bootstrap,
            broker_admin,
            brokers: brokers.addresses,
            processes: std::iter::once(control_plane_process)
                .chain(brokers.processes)
                .collect(),
            aws_url: moto.url.clone(),
            _moto: moto,
            postgres,
        })
    }

    fn print(&self) {
        let url = &self.control_plane_url;
        println!();
        println!("Fjord is running:");
        println!("  console       {url}/");
        if let Some((email, password)) = &self.console_user {
            println!("                sign in as {email} with password {password}");
        }
        println!("  REST API      {url}/v1   (OpenAPI: {url}/openapi.json)");
        println!(
            "  Postgres      {}   ({})",
            self.postgres.url,
            self.postgres.description()
        );
        println!(
            "  AWS (moto)    {}   (cloud accounts' roles, emulated)",
            self.aws_url
        );
        for (id, broker) in (1..).zip(&self.brokers) {
            println!(
                "  broker {id}      {}   (admin: http://{}, peers: {})",
                broker.kafka, broker.admin, broker.peer
            );
        }
        println!(
            "  cluster       http://{}/v1/cluster/health",
            self.broker_admin
        );
        println!();
        println!("Try:  kcat -b {} -L", self.bootstrap);
        if let Some(key) = &self.api_key {
            println!("      curl -H 'Authorization: Bearer {key}' {url}/v1/organization");
        }
        println!("Ctrl-C stops everything.");
    }

    /// Runs a `fjord-control-plane` admin subcommand against this stack's
    /// database; returns its stdout.
    pub(crate) fn admin(&self, arguments: &[&str]) -> anyhow::Result<String> {
        process::output(
            Command::new(binaries_dir().join("fjord-control-plane"))
                .env("DATABASE_URL", &self.postgres.url)
                .args(arguments),
        )
    }

    /// The first process that exited on its own, if any.
    fn exited(&mut self) -> Option<String> {
        self.processes.iter_mut().find_map(|child| {
            child
                .exited()
                .map(|status| format!("{} exited with {status}", child.name))
        })
    }

    /// Checks what a person would check first: the console answers and kcat lists the brokers.
    pub(crate) fn smoke_check(&self) -> anyhow::Result<()> {
        let page = process::output(
            Command::new("curl").args(["-fsS", &format!("{}/", self.control_plane_url)]),
        )
        .context("the console page did not load")?;
        if !page.contains("<title>Fjord") {
            bail!(
                "the page at / is not the console: {}",
                page.chars().take(200).collect::<String>()
            );
        }
        let listing = process::output(Command::new("kcat").args([
            "-b",
            &self.bootstrap.to_string(),
            "-L",
            "-m",
            "10",
        ]))
        .context("kcat -L failed")?;
        for broker in &self.brokers {
            if !listing.contains(&format!("at {}", broker.kafka)) {
                bail!(
                    "kcat -L did not list the broker at {}:\n{listing}",
                    broker.kafka
                );
            }
        }
        step("smoke check passed: console loads, kcat lists all three brokers");
        Ok(())
    }
}

pub(crate) fn run(rest: &[String]) -> anyhow::Result<()> {
    reject_unknown(rest, &["--smoke"])?;
    let smoke = rest.iter().any(|argument| argument == "--smoke");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;

    tools::ensure_programs(&[("curl", "curl"), ("kcat", "kcat")])?;
    build_binaries(false)?;
    let console_dir = web::build_console(false)?;
    let postgres = Arc::new(Postgres::ensure()?);
    let mut stack = Stack::start(postgres, &console_dir)?;
    if smoke {
        return stack.smoke_check();
    }
    stack.print();
    while !stop.load(Ordering::SeqCst) {
        if let Some(reason) = stack.exited() {
            bail!("{reason}; stopping everything");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    step("stopping");
    Ok(())
}

/// Creates the `dev` organization (printing its admin key) and puts this
/// build's release in the catalog. A persistent `DATABASE_URL` may already
/// have both: that is reported, not fatal.
fn seed_inventory(bin: &Path, database_url: &str) -> Option<String> {
    let control_plane = bin.join("fjord-control-plane");
    let version = env!("CARGO_PKG_VERSION");
    let release = Command::new(&control_plane)
        .env("DATABASE_URL", database_url)
        .args(["add-release", version, "--channel", "stable"])
        .output();
    if let Ok(output) = release
        && !output.status.success()
    {
        eprintln!(
            "xtask: release {version} not added: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let created = process::output(
        Command::new(&control_plane)
            .env("DATABASE_URL", database_url)
            .args(["create-organization", "dev"]),
    );
    match created {
        Ok(key) => Some(key.trim().to_owned()),
        Err(error) => {
            eprintln!("xtask: organization \"dev\" not created ({error:#}); use its existing key");
            None
        }
    }
}

/// The email of the `dev` organization's first console user.
pub(crate) const DEV_USER_EMAIL: &str = "admin@dev.example";

/// Adds the `dev` organization's first console user (an admin) and returns
/// its email and generated password.
fn seed_console_user(bin: &Path, database_url: &str) -> Option<(String, String)> {
    let created = process::output(
        Command::new(bin.join("fjord-control-plane"))
            .env("DATABASE_URL", database_url)
            .args(["create-user", "dev", DEV_USER_EMAIL, "--role", "admin"]),
    );
    match created {
        Ok(password) if !password.trim().is_empty() => {
            Some((DEV_USER_EMAIL.to_owned(), password.trim().to_owned()))
        }
        Ok(_) => None,
        Err(error) => {
            eprintln!("xtask: console user {DEV_USER_EMAIL} not created ({error:#})");
            None
        }
    }
}

/// Builds every server binary (debug profile: quick to build, plenty for a
/// laptop). `with_tests` builds the test targets in the same invocation, so
/// the binaries share the test build's feature set and, right after the test
/// run, nothing is compiled again.
pub(crate) fn build_binaries(with_tests: bool) -> anyhow::Result<()> {
    step("building fjord-control-plane, fjord-broker, fjord-operator");
    let mut command = Command::new(cargo());
    command.args(["build", "--quiet", "--workspace", "--bins"]);
    if with_tests {
        command.arg("--tests");
    }
    process::run(&mut command)
}

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn binaries_dir() -> PathBuf {
    target_dir().join("debug")
}

fn fresh_dir(path: &Path) -> anyhow::Result<PathBuf> {
    if path.exists() {
        std::fs::remove_dir_all(path)
            .with_context(|| format!("cannot clear {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(path.to_owned())
}
