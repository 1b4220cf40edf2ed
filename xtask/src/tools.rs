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

/// Makes sure each `(library, package)` is known to pkg-config (C
/// libraries a build script links, such as OpenSSL for librdkafka's TLS).
pub(crate) fn ensure_libraries(wanted: &[(&str, &str)]) -> anyhow::Result<()> {
    ensure_programs(&[("pkg-config", "pkg-config")])?;
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(library, _)| {
            !Command::new("pkg-config")
                .args(["--exists", *library])
                .status()
                .is_ok_and(|status| status.success())
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
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

/// A Python virtual environment with `packages`, kept under the target
/// directory so repeated runs (and CI runs sharing a target dir) reuse it.
/// Returns the environment's `bin` directory.
pub(crate) fn python_venv(name: &str, packages: &[&str]) -> anyhow::Result<std::path::PathBuf> {
    let root = crate::target_dir().join("xtask").join("venvs").join(name);
    let bin = root.join("bin");
    let stamp = root.join("fjord-packages.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|installed| installed == wanted) {
        return Ok(bin);
    }
    step(&format!(
        "creating the Python environment {name} ({})",
        packages.join(", ")
    ));
    process::run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&root),
    )?;
    process::run(
        Command::new(bin.join("pip"))
            .args(["install", "--quiet"])
            .args(packages),
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(bin)
}
