//! `cargo xtask dev`: the local platform in one command (docs/local-stack.md).
//!
//! Starts Postgres (or uses `DATABASE_URL`), moto, the control plane serving
//! the console, kube-sim (API server, StatefulSet controller, process
//! kubelet) and `fjord-operator` registered to the `local` environment of
//! the `dev` organization; prints where everything is; stops it all on
//! Ctrl-C or as soon as any piece exits on its own. `--smoke` runs the loop
//! once (smoke.rs) and stops. Broker clusters without the control plane:
//! `cargo xtask cluster up`.

pub(crate) mod bench;
mod kube;
mod rest;
mod smoke;
mod stack;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

pub(crate) use stack::Stack;

use crate::postgres::Postgres;
use crate::{process, reject_unknown, step, target_dir, tools, web};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Releases in the local catalog; the kubelet runs this build's
/// `fjord-broker` for every tag, so a rollout between them restarts real
/// brokers.
pub(crate) const RELEASES: [&str; 2] = ["0.1.0", "0.2.0"];

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

/// Creates the `dev` organization (printing its admin key) and puts
/// [`RELEASES`] in the catalog. A persistent `DATABASE_URL` may already
/// have both: that is reported, not fatal.
pub(crate) fn seed_inventory(bin: &Path, database_url: &str) -> Option<String> {
    let control_plane = bin.join("fjord-control-plane");
    for version in RELEASES {
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
pub(crate) fn seed_console_user(bin: &Path, database_url: &str) -> Option<(String, String)> {
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
    step("building fjord-control-plane, fjord-broker, fjord-operator, fjord-kube-sim");
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

pub(crate) fn binaries_dir() -> PathBuf {
    target_dir().join("debug")
}

pub(crate) fn fresh_dir(path: &Path) -> anyhow::Result<PathBuf> {
    if path.exists() {
        std::fs::remove_dir_all(path)
            .with_context(|| format!("cannot clear {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(path.to_owned())
}
