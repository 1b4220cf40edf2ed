//! `cargo xtask chaos` and `cargo xtask cluster up`: real broker processes
//! (release builds), driven by `fjord-chaos` (data-plane/chaos).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};

use crate::dev::cargo;
use crate::{process, step, target_dir};

/// Builds the release `fjord-broker` and `fjord-chaos`; returns the release dir.
fn build() -> anyhow::Result<PathBuf> {
    step("building fjord-broker and fjord-chaos (release)");
    process::run(Command::new(cargo()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "fjord-broker",
        "-p",
        "fjord-chaos",
    ]))?;
    Ok(target_dir().join("release"))
}

/// Checks `rest` is `--name value` pairs of the given names.
fn check_options(rest: &[String], known: &[&str], usage: &str) -> anyhow::Result<()> {
    let mut arguments = rest.iter();
    while let Some(name) = arguments.next() {
        if !known.contains(&name.as_str()) || arguments.next().is_none() {
            bail!("usage: {usage}");
        }
    }
    Ok(())
}

/// `cargo xtask chaos [--brokers 3] [--duration 120] [--seed N]`.
pub(crate) fn chaos(rest: &[String]) -> anyhow::Result<()> {
    const USAGE: &str = "cargo xtask chaos [--brokers N] [--duration SECONDS] [--seed N] \
                         [--partitions N] [--producers N] [--rate PER_SECOND] \
                         [--faults seeded|restarts]";
    check_options(
        rest,
        &[
            "--brokers",
            "--duration",
            "--seed",
            "--partitions",
            "--producers",
            "--rate",
            "--faults",
        ],
        USAGE,
    )?;
    let release = build()?;
    let python = match std::env::var_os("FJORD_TEST_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => crate::test::kafka_clients_python()?,
    };
    let dir = target_dir().join("chaos");
    step(&format!(
        "chaos run; data, broker logs, oracle and report in {}",
        dir.display()
    ));
    process::run(
        Command::new(release.join("fjord-chaos"))
            .arg("run")
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .arg("--python")
            .arg(python)
            .arg("--dir")
            .arg(&dir)
            .args(rest),
    )
}

/// `cargo xtask cluster up --brokers N [--base-port P] [--data-dir DIR]`.
pub(crate) fn cluster(rest: &[String]) -> anyhow::Result<()> {
    const USAGE: &str = "cargo xtask cluster up [--brokers N] [--base-port P] [--data-dir DIR]";
    let Some(("up", options)) = rest
        .split_first()
        .map(|(verb, options)| (verb.as_str(), options))
    else {
        bail!("usage: {USAGE}");
    };
    check_options(options, &["--brokers", "--base-port", "--data-dir"], USAGE)?;
    let release = build()?;
    let mut options = options.to_vec();
    if !options.iter().any(|option| option == "--data-dir") {
        options.extend([
            "--data-dir".to_owned(),
            target_dir().join("cluster").display().to_string(),
        ]);
    }
    // fjord-chaos catches Ctrl-C and stops the brokers; xtask waits for it.
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    let result = process::run(
        Command::new(release.join("fjord-chaos"))
            .arg("up")
            .arg("--broker-bin")
            .arg(release.join("fjord-broker"))
            .args(&options),
    );
    if interrupted.load(Ordering::SeqCst) {
        step("stopped");
        return Ok(());
    }
    result
}
