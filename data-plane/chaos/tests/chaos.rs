//! Shortened chaos runs against real broker processes, as CI runs them:
//! idempotent acks=all producers while three brokers are killed with -9,
//! paused and partitioned from each other, then every acknowledged record
//! must be read back exactly once, in order, at its offset; and broker
//! restarts alone (SIGTERM, SIGKILL), through which no producer may give up
//! on a single record.
//!
//! Needs `FJORD_TEST_PYTHON` (a Python with confluent-kafka; `cargo xtask
//! test` provides it) and a built `fjord-broker` beside this test binary
//! (`cargo xtask test` and `cargo nextest run --workspace` build it), or
//! `FJORD_BROKER_BIN` naming one.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fjord_chaos::run::{RunConfig, print_report, run};

/// Brokers in the run: three, so partitions, pauses and kills move
/// leadership between replicas (the faults the idempotent producer's
/// duplicates came from; docs/replication.md, "Chaos testing").
const BROKERS: usize = 3;
const DURATION: Duration = Duration::from_secs(35);

/// `FJORD_BROKER_BIN`, or `fjord-broker` in the profile directory this test
/// binary was built into (`target/<profile>/deps/<test>`).
fn broker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FJORD_BROKER_BIN") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().unwrap();
    let profile = test.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile.join("fjord-broker");
    assert!(
        binary.exists(),
        "no {}: build it (cargo build -p fjord-broker) or set FJORD_BROKER_BIN",
        binary.display()
    );
    binary
}

#[test]
fn a_short_chaos_run_loses_duplicates_reorders_and_moves_nothing_acknowledged() {
    let python = std::env::var_os("FJORD_TEST_PYTHON").expect(
        "FJORD_TEST_PYTHON must name a Python with confluent-kafka; run `cargo xtask test`",
    );
    // A new schedule every run, printed for replay; FJORD_CHAOS_SEED pins one.
    let seed = std::env::var("FJORD_CHAOS_SEED")
        .ok()
        .map(|seed| seed.parse().expect("FJORD_CHAOS_SEED is a number"))
        .unwrap_or_else(|| {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            u64::from(now.subsec_nanos()) % 1_000_000
        });
    let work = tempfile::tempdir().unwrap();
    let config = RunConfig {
        brokers: BROKERS,
        duration: DURATION,
        seed,
        broker_binary: broker_binary(),
        python: PathBuf::from(python),
        dir: work.path().join("run"),
        partitions: 6,
        producers: 2,
        rate: 150,
        plan: fjord_chaos::faults::Plan::Seeded,
    };
    eprintln!(
        "chaos seed {seed}: replay with FJORD_CHAOS_SEED={seed} or `{}`",
        config.replay()
    );
    let outcome = match run(&config) {
        Ok(outcome) if outcome.report.is_clean() => outcome,
        other => {
            // Keep the broker logs, oracle and report for whoever debugs this.
            eprintln!("chaos run kept in {}", work.keep().display());
            other.unwrap()
        }
    };
    print_report(&outcome.report);

    assert!(
        outcome.faults >= 3,
        "only {} faults were injected",
        outcome.faults
    );
    // The run has teeth: records were acknowledged in every partition.
    assert_eq!(outcome.report.partitions.len(), 6);
    for (partition, report) in &outcome.report.partitions {
        assert!(
            report.acked > 0,
            "nothing acknowledged in partition {partition}"
        );
    }
    let total = &outcome.report.total;
    assert_eq!(total.lost, 0, "seed {seed}: acknowledged records lost");
    assert_eq!(total.duplicated, 0, "seed {seed}: records duplicated");
    assert_eq!(total.reordered, 0, "seed {seed}: records reordered");
    assert_eq!(total.moved, 0, "seed {seed}: records moved");
    assert!(total.read >= total.acked);
}

#[test]
fn a_steady_producer_gives_up_on_no_record_while_a_broker_restarts_by_sigterm_and_by_sigkill() {
    let python = std::env::var_os("FJORD_TEST_PYTHON").expect(
        "FJORD_TEST_PYTHON must name a Python with confluent-kafka; run `cargo xtask test`",
    );
    let work = tempfile::tempdir().unwrap();
    // Four steps of 3 s: SIGTERM broker 1, SIGKILL broker 2, SIGTERM broker
    // 3, SIGKILL broker 1, each restarted (`fjord_chaos::faults::restarts`).
    let config = RunConfig {
        brokers: BROKERS,
        duration: Duration::from_secs(13),
        seed: 0,
        broker_binary: broker_binary(),
        python: PathBuf::from(python),
        dir: work.path().join("run"),
        partitions: 6,
        producers: 2,
        rate: 300,
        plan: fjord_chaos::faults::Plan::Restarts,
    };
    let outcome = match run(&config) {
        Ok(outcome) if outcome.report.is_clean() && outcome.failed_deliveries == 0 => outcome,
        other => {
            eprintln!("chaos run kept in {}", work.keep().display());
            other.unwrap()
        }
    };
    print_report(&outcome.report);
    let faults: Vec<&str> = outcome
        .effects
        .iter()
        .map(|effect| effect.fault.as_str())
        .collect();
    assert_eq!(
        faults,
        [
            "SIGTERM broker 1",
            "kill -9 broker 2",
            "SIGTERM broker 3",
            "kill -9 broker 1"
        ]
    );
    for effect in &outcome.effects {
        eprintln!(
            "{}: {} given up, {} client errors",
            effect.fault, effect.given_up, effect.client_errors
        );
    }
    assert_eq!(outcome.failed_deliveries, 0, "records given up");
    let total = &outcome.report.total;
    assert!(total.acked > 3_000, "only {} acknowledged", total.acked);
    assert_eq!(total.lost, 0, "acknowledged records lost");
    assert_eq!(total.duplicated, 0, "records duplicated");
    assert_eq!(total.reordered, 0, "records reordered");
    assert_eq!(total.moved, 0, "records moved");
}
