//! `cargo xtask sim`: the deterministic cluster simulation over many seeds.

use std::process::Command;

use anyhow::bail;

use crate::dev::cargo;
use crate::{process, step};

/// `cargo xtask sim --seeds N [--start S]`: many seeds of the deterministic
/// cluster simulation in release mode; a failure names the seed to replay.
pub(crate) fn run(rest: &[String]) -> anyhow::Result<()> {
    let mut seeds = "200".to_owned();
    let mut start = "0".to_owned();
    let mut arguments = rest.iter();
    while let Some(argument) = arguments.next() {
        let value = arguments.next().cloned();
        match (argument.as_str(), value) {
            ("--seeds", Some(value)) => seeds = value,
            ("--start", Some(value)) => start = value,
            _ => bail!("usage: cargo xtask sim [--seeds N] [--start SEED]"),
        }
    }
    step(&format!(
        "simulating seeds {start}.. ({seeds} of them), release build"
    ));
    process::run(
        Command::new(cargo())
            .args([
                "test",
                "--release",
                "--quiet",
                "-p",
                "fjord-sim",
                "--test",
                "seeds",
            ])
            .env("FJORD_SIM_SEEDS", &seeds)
            .env("FJORD_SIM_SEED_START", &start),
    )
}
