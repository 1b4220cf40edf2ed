//! npm: builds the web console, installs the broker tests' Node.js clients.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::{process, step, workspace_root};

/// Installs the console's npm dependencies (when the lockfile changed),
/// writes the control plane's OpenAPI document to `web/openapi.json` (the
/// console's typed client is generated from it, so a changed API breaks this
/// build rather than the console's users) and builds it; returns the
/// directory of built assets. `unit_tests` runs the console's unit tests
/// first (CI); `cargo xtask dev` skips them.
pub(crate) fn build_console(unit_tests: bool) -> anyhow::Result<PathBuf> {
    let web = workspace_root().join("web");
    npm_ci(&web, "the console's npm dependencies")?;
    write_openapi(&web.join("openapi.json"))?;
    if unit_tests {
        step("console unit tests");
        process::run(
            Command::new("npm")
                .args(["run", "--silent", "test:unit"])
                .current_dir(&web)
                .env("NO_COLOR", "1"),
        )
        .context("console unit tests failed")?;
    }
    step("building the console");
    process::run(
        Command::new("npm")
            .args(["run", "--silent", "build"])
            .current_dir(&web),
    )
    .context("console build failed")?;
    Ok(web.join("dist"))
}

/// `fjord-control-plane openapi` (built if needed) into `path`.
fn write_openapi(path: &std::path::Path) -> anyhow::Result<()> {
    step("writing the OpenAPI document for the console's typed client");
    let document = process::output(Command::new(crate::dev::cargo()).args([
        "run",
        "--quiet",
        "--package",
        "fjord-control-plane",
        "--bin",
        "fjord-control-plane",
        "--",
        "openapi",
    ]))
    .context("cannot print the OpenAPI document")?;
    std::fs::write(path, document).with_context(|| format!("cannot write {}", path.display()))
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
