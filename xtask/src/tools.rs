//! Installs what tests and the dev stack need when it is missing.
//!
//! A fresh machine has the Rust toolchain, Python, Node and Debian's package
//! manager; everything else comes through here, by package name.

use std::process::Command;
use std::sync::Once;

use anyhow::bail;

use crate::{process, step};

static APT_UPDATE: Once = Once::new();

/// Installs Debian packages (needs root, as on CI and developer machines here).
pub(crate) fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    if !process::on_path("apt-get") {
        bail!("missing {packages:?} and no apt-get to install them; install them by hand");
    }
    step(&format!("installing {}", packages.join(", ")));
    let mut updated = Ok(());
    APT_UPDATE.call_once(|| {
        updated = process::run(Command::new("apt-get").args(["update", "-qq"]));
    });
    updated?;
    process::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq"])
            .args(packages),
    )
}

/// Makes sure each `(program, package)` is on the PATH.
pub(crate) fn ensure_programs(wanted: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !process::on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}
