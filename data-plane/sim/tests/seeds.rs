//! Many seeds of chaos then healing. `FJORD_SIM_SEEDS` sets how many seeds
//! run and `FJORD_SIM_SEED_START` the first one, so a failing seed replays
//! alone (`cargo xtask sim --seeds 1 --start <seed>`).

use fjord_sim::{Faults, Simulation};

const FAULTS: Faults = Faults {
    loss_percent: 10,
    duplicate_percent: 5,
    crash_percent_per_second: 60,
    latency_ms_max: 40,
};

#[test]
fn acknowledged_writes_survive_chaos_and_a_healed_cluster_makes_progress() {
    let seeds: u64 = std::env::var("FJORD_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let start: u64 = std::env::var("FJORD_SIM_SEED_START")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut crashes = 0;
    for seed in start..start + seeds {
        let report = Simulation::new(seed, FAULTS).run(6_000, 2_000);
        assert!(
            report.acknowledged_after_heal > 0,
            "seed {seed}: no write committed after healing: {report:?}"
        );
        crashes += report.crashes;
    }
    assert!(
        crashes > 0,
        "the runs crashed no node: the faults are not exercised"
    );
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let first = Simulation::new(42, FAULTS).run(3_000, 1_000);
    let second = Simulation::new(42, FAULTS).run(3_000, 1_000);
    assert_eq!(first, second);
}
