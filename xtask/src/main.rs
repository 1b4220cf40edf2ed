//! `cargo xtask`: the one entry point for people and CI.
//!
//! - `cargo xtask dev`: bring up the local platform (Postgres, control plane
//!   with the console, kube-sim and the operator registered to a `local`
//!   environment) and keep it running until Ctrl-C.
//! - `cargo xtask test`: install or start what the tests need, then run
//!   formatting, lints and every test, ending with a pass/fail summary.
//! - `cargo xtask bench <name>`: benchmarks, never part of `test`.
//! - `cargo xtask cluster up`, `cargo xtask chaos`: real broker processes,
//!   by hand or under seeded faults.

mod bench;
mod chaos;
mod dev;
mod manifests;
mod moto;
mod postgres;
mod process;
mod sim;
mod terraform;
mod test;
mod tools;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  dev [--smoke]        start Postgres, the control plane with the console, kube-sim and
                       fjord-operator (agent connected to the `local` environment);
                       Ctrl-C stops everything. --smoke: start, run the loop once
                       (REST cluster + topic, Ready, kcat acks=all, delete), stop.
  test [--no-browser]  install what the tests need, then fmt, clippy, every test;
                       --no-browser skips the Chromium console test
  bench <name> [args]  run a benchmark in release mode (storage,
                       control-plane, broker, cluster, rollout; `loop [--runs N]`
                       times the dev stack's loop, debug build); results in
                       target/bench/<name>.json; never part of test
  sim [--seeds N] [--start S]
                       run N seeds of the deterministic cluster simulation (release);
                       a failure names the seed to replay with --seeds 1 --start SEED
  cluster up [--brokers N] [--base-port P] [--data-dir DIR]
                       start N brokers (release) with the cluster flags on loopback
                       (Kafka P+10i, peer +1, admin +2; P=19092); Ctrl-C stops them
  chaos [--brokers N] [--duration S] [--seed N]
                       brokers, idempotent acks=all producers and seeded faults
                       (kill -9, SIGSTOP, partitions through a proxy), then check
                       every acknowledged record; prints the seed to replay
  terraform            the Terraform checks of `test` alone: fmt -check, validate of the
                       provider's complete example, checkov over terraform/
  manifests            the operator manifest check of `test` alone: kubectl kustomize
                       operator/deploy, then kubernetes-validate --strict (offline)
  help                 this text

environment:
  DATABASE_URL         use this Postgres instead of starting a throwaway one
  CARGO_TARGET_DIR     where builds go (CI points it outside the clone as a cache)";

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    let command = arguments.next().unwrap_or_else(|| "help".to_owned());
    let rest: Vec<String> = arguments.collect();
    let result = match command.as_str() {
        "dev" => dev::run(&rest),
        "test" => test::run(&rest),
        "bench" => bench::run(&rest),
        "sim" => sim::run(&rest),
        "chaos" => chaos::chaos(&rest),
        "cluster" => chaos::cluster(&rest),
        "terraform" => terraform::run(&rest),
        "manifests" => reject_unknown(&rest, &[]).and_then(|()| manifests::validate()),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of `xtask/`).
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), PathBuf::from)
}

/// The cargo target directory, honouring `CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|path| {
            if path.is_absolute() {
                path
            } else {
                workspace_root().join(path)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Prints a progress line for a long step.
fn step(message: &str) {
    eprintln!("==> {message}");
}

/// Rejects options a command does not know.
fn reject_unknown(rest: &[String], known: &[&str]) -> anyhow::Result<()> {
    if let Some(unknown) = rest
        .iter()
        .find(|argument| !known.contains(&argument.as_str()))
    {
        anyhow::bail!("unknown option {unknown:?}\n\n{USAGE}");
    }
    Ok(())
}
