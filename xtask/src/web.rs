//! Builds the web console with npm.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::{process, step, workspace_root};

/// Installs the console's npm dependencies (when the lockfile changed) and
/// builds it; returns the directory of built assets.
pub(crate) fn build_console() -> anyhow::Result<PathBuf> {
    let web = workspace_root().join("web");
    let installed_lock = web.join("node_modules/.package-lock.json");
    let stale = match (
        modified(&web.join("package-lock.json")),
        modified(&installed_lock),
    ) {
        (Some(lock), Some(installed)) => lock > installed,
        _ => true,
    };
    if stale {
        step("installing the console's npm dependencies");
        process::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
        )
        .context("npm ci failed")?;
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

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}
