//! npm: builds the web console, installs the broker tests' Node.js clients.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::{process, step, workspace_root};

/// Installs the console's npm dependencies (when the lockfile changed) and
/// builds it; returns the directory of built assets.
pub(crate) fn build_console() -> anyhow::Result<PathBuf> {
    let web = workspace_root().join("web");
    npm_ci(&web, "the console's npm dependencies")?;
    step("building the console");
    process::run(
        Command::new("npm")
            .args(["run", "--silent", "build"])
            .current_dir(&web),
    )
    .context("console build failed")?;
    Ok(web.join("dist"))
}

/// Installs the Node.js Kafka clients the broker's tests drive (kafkajs,
/// pinned by data-plane/broker/tests/clients/package-lock.json).
pub(crate) fn install_client_tests() -> anyhow::Result<()> {
    let clients = workspace_root().join("data-plane/broker/tests/clients");
    npm_ci(&clients, "the broker tests' Node.js Kafka clients")
}

/// `npm ci` in `directory` when its lockfile is newer than what is installed.
fn npm_ci(directory: &std::path::Path, what: &str) -> anyhow::Result<()> {
    let installed_lock = directory.join("node_modules/.package-lock.json");
    let stale = match (
        modified(&directory.join("package-lock.json")),
        modified(&installed_lock),
    ) {
        (Some(lock), Some(installed)) => lock > installed,
        _ => true,
    };
    if stale {
        step(&format!("installing {what}"));
        process::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(directory),
        )
        .with_context(|| format!("npm ci failed in {}", directory.display()))?;
    }
    Ok(())
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}
