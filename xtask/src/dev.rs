//! `cargo xtask dev`: the local platform in one command.
//!
//! Starts Postgres (or uses `DATABASE_URL`), the control plane serving the
//! console, and a broker; prints where everything is; stops it all on
//! Ctrl-C or as soon as any piece exits on its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::postgres::Postgres;
use crate::process::{self, Supervised};
use crate::{reject_unknown, step, target_dir, tools, web};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The running platform; dropping it stops every process it started.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) control_plane_url: String,
    /// Admin API key of the `dev` organization, when this run created it.
    pub(crate) api_key: Option<String>,
    pub(crate) bootstrap: SocketAddr,
    pub(crate) broker_admin: SocketAddr,
    // Field order is drop order: processes stop before Postgres goes away.
    processes: Vec<Supervised>,
    postgres: Arc<Postgres>,
}

impl Stack {
    /// Starts the control plane and a broker against `postgres`.
    pub(crate) fn start(postgres: Arc<Postgres>, console_dir: &Path) -> anyhow::Result<Self> {
        let bin = binaries_dir();
        let control_plane = SocketAddr::from(([127, 0, 0, 1], process::free_port(8080)?));
        let bootstrap = SocketAddr::from(([127, 0, 0, 1], process::free_port(9092)?));
        let broker_admin = SocketAddr::from(([127, 0, 0, 1], process::free_port(9644)?));
        let data_dir = fresh_dir(&target_dir().join("dev").join("broker-0"))?;

        step(&format!("starting the control plane on {control_plane}"));
        let mut control_plane_process = Supervised::spawn(
            "fjord-control-plane",
            Command::new(bin.join("fjord-control-plane"))
                .env("DATABASE_URL", &postgres.url)
                .arg("--listen")
                .arg(control_plane.to_string())
                .arg("--console-dir")
                .arg(console_dir),
        )?;
        process::wait_for_port(control_plane, STARTUP_TIMEOUT, &mut control_plane_process)?;
        let api_key = seed_inventory(&bin, &postgres.url);

        step(&format!("starting broker 0 on {bootstrap}"));
        let mut broker = Supervised::spawn(
            "fjord-broker",
            Command::new(bin.join("fjord-broker"))
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--listen")
                .arg(bootstrap.to_string())
                .arg("--admin-listen")
                .arg(broker_admin.to_string()),
        )?;
        process::wait_for_port(bootstrap, STARTUP_TIMEOUT, &mut broker)?;
        Ok(Self {
            control_plane_url: format!("http://{control_plane}"),
            api_key,
            bootstrap,
            broker_admin,
            processes: vec![control_plane_process, broker],
            postgres,
        })
    }

    fn print(&self) {
        let url = &self.control_plane_url;
        println!();
        println!("Fjord is running:");
        println!("  console       {url}/");
        println!("  REST API      {url}/v1   (OpenAPI: {url}/openapi.json)");
        println!(
            "  Postgres      {}   ({})",
            self.postgres.url,
            self.postgres.description()
        );
        println!(
            "  broker 0      {}   (admin: http://{})",
            self.bootstrap, self.broker_admin
        );
        println!();
        println!("Try:  kcat -b {} -L", self.bootstrap);
        if let Some(key) = &self.api_key {
            println!("      curl -H 'Authorization: Bearer {key}' {url}/v1/organization");
        }
        println!("Ctrl-C stops everything.");
    }

    /// The first process that exited on its own, if any.
    fn exited(&mut self) -> Option<String> {
        self.processes.iter_mut().find_map(|child| {
            child
                .exited()
                .map(|status| format!("{} exited with {status}", child.name))
        })
    }

    /// Checks what a person would check first: the console answers and kcat lists the broker.
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
        if !listing.contains(&format!("at {}", self.bootstrap)) {
            bail!("kcat -L did not list the broker:\n{listing}");
        }
        step("smoke check passed: console loads, kcat lists the broker");
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
    let console_dir = web::build_console()?;
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
