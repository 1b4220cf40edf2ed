//! `cargo xtask bench <name>`: benchmarks, in release mode, never part of
//! `cargo xtask test`. Each prints a table and writes JSON under
//! `target/bench/`; figures are ratios against a baseline measured in the
//! same run, because absolute numbers on a shared machine mean little.

use std::process::Command;

use anyhow::bail;

use crate::dev::cargo;
use crate::{process, step, target_dir};

const BENCHMARKS: &str = "storage, control-plane";

pub(crate) fn run(rest: &[String]) -> anyhow::Result<()> {
    let Some((name, passthrough)) = rest.split_first() else {
        bail!("name a benchmark: {BENCHMARKS}");
    };
    let output = target_dir().join("bench");
    std::fs::create_dir_all(&output)?;
    match name.as_str() {
        "storage" => {
            step("storage benchmark (release build); pass --quick for a one-minute smoke run");
            process::run(
                Command::new(cargo())
                    .args(["run", "--release", "--quiet", "-p", "fjord-storage"])
                    .args(["--bin", "fjord-storage-bench", "--"])
                    .arg("--dir")
                    .arg(output.join("storage-data"))
                    .arg("--json")
                    .arg(output.join("storage.json"))
                    .args(passthrough),
            )
        }
        "control-plane" => {
            step(
                "control-plane benchmark (release build); pass --quick for a one-minute smoke run",
            );
            // The bench creates and drops its own database on this server.
            let postgres = crate::postgres::Postgres::ensure()?;
            process::run(
                Command::new(cargo())
                    .args([
                        "run",
                        "--release",
                        "--quiet",
                        "-p",
                        "fjord-control-plane-bench",
                    ])
                    .arg("--")
                    .arg("--json")
                    .arg(output.join("control-plane.json"))
                    .args(passthrough)
                    .env("DATABASE_URL", &postgres.url),
            )
        }
        other => bail!("unknown benchmark {other:?}; known: {BENCHMARKS}"),
    }
}
