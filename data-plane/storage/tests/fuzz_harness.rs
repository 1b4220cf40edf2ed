//! Runs the fuzz entry point (`fuzz/fuzz_targets/open_log.rs`) over seeded
//! random inputs, on stable Rust and without libFuzzer: half are valid log
//! directories with bytes mutated, half are random file sets.

use std::path::Path;
use std::sync::Arc;

use fjord_storage::batch::build_batch;
use fjord_storage::sim::SplitMix64;
use fjord_storage::testsuite::{
    JOURNAL_FILE_BYTES, journal_policy, open_from_bytes, open_journal_from_bytes, small_config,
};
use fjord_storage::{Disk, FlushPolicy, LeaderEpoch, Log, Offset, SimMedium, Timestamp};

/// Encodes the files of a real log in the fuzz input format.
fn valid_input(rng: &mut SplitMix64) -> Vec<u8> {
    let medium = SimMedium::new();
    let disk = Disk::new(Arc::new(medium.clone()), FlushPolicy::Never, 8);
    let mut log = Log::open(&disk, Path::new("/fuzz/p0"), small_config()).expect("open");
    for n in 0..rng.below(30) {
        let mut batch = build_batch(
            1 + rng.below(3) as i32,
            Timestamp(n as i64),
            rng.below(200) as usize,
            1,
        );
        log.append(&mut batch, LeaderEpoch(rng.below(2) as i32))
            .ok();
    }
    if rng.below(2) == 0 {
        log.close().expect("close");
    }
    let mut input = Vec::new();
    for (path, _) in medium.files() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let (kind, base) = match name.split_once('.') {
            Some((stem, "log")) => (0u8, stem.parse::<i64>().unwrap_or(0)),
            Some((stem, "index")) => (1, stem.parse::<i64>().unwrap_or(0)),
            Some((stem, "timeindex")) => (2, stem.parse::<i64>().unwrap_or(0)),
            _ if name == "checkpoint" => (3, 0),
            _ => (4, 0),
        };
        if base % 7 != 0 || base / 7 > 255 {
            continue; // not representable in the input format
        }
        let file = medium.open_for_test(&path);
        input.push(kind);
        input.push((base / 7) as u8);
        input.extend_from_slice(&(file.len().min(65535) as u16).to_be_bytes());
        input.extend_from_slice(&file[..file.len().min(65535)]);
    }
    input
}

#[test]
fn opening_arbitrary_files_never_panics() {
    // FJORD_FUZZ_CASES raises the count for a longer soak.
    let cases = std::env::var("FJORD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000u64);
    for seed in 0..cases {
        let mut rng = SplitMix64(seed);
        let mut input = if seed % 2 == 0 {
            valid_input(&mut rng)
        } else {
            (0..rng.below(3000)).map(|_| rng.next_u64() as u8).collect()
        };
        for _ in 0..rng.below(4) {
            if !input.is_empty() {
                let at = rng.below(input.len() as u64) as usize;
                input[at] ^= 1 << rng.below(8);
            }
        }
        let outcome = std::panic::catch_unwind(|| open_from_bytes(&input));
        assert!(outcome.is_ok(), "seed {seed} panicked");
    }
}

/// Encodes the files of a real journaled disk (two logs, random work, maybe
/// a crash) in the journal fuzz input format.
fn valid_journal_input(rng: &mut SplitMix64) -> Vec<u8> {
    let medium = SimMedium::new();
    let root = Path::new("/fuzz");
    let disk = Disk::open(Arc::new(medium.clone()), root, journal_policy(), 8).expect("disk");
    let mut logs: Vec<Log> = (0..2)
        .map(|index| {
            Log::open(&disk, &root.join(format!("p{index}")), small_config()).expect("log")
        })
        .collect();
    for n in 0..rng.below(40) {
        let log = &mut logs[rng.below(2) as usize];
        match rng.below(10) {
            0..=6 => {
                let payload = rng.below(600) as usize;
                let mut batch =
                    build_batch(1 + rng.below(3) as i32, Timestamp(n as i64), payload, 1);
                log.append(&mut batch, LeaderEpoch(rng.below(2) as i32))
                    .ok();
            }
            7 | 8 => {
                disk.flush_pending().ok();
            }
            _ => {
                let end = log.log_end_offset().0;
                log.truncate_to(Offset(end - rng.below(end as u64 / 2 + 1) as i64))
                    .ok();
            }
        }
    }
    disk.flush_pending().ok();
    if rng.below(2) == 0 {
        medium.crash(rng);
    }
    let mut input = Vec::new();
    for (path, _) in medium.files() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let parent = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        let log_index = match parent {
            Some("p1") => 1u64,
            _ => 0,
        };
        let (kind, index) = match name.split_once('.') {
            Some((stem, "journal")) => {
                let start = stem.parse::<u64>().unwrap_or(u64::MAX);
                if start % JOURNAL_FILE_BYTES != 0 {
                    continue;
                }
                (0u8, start / JOURNAL_FILE_BYTES)
            }
            Some((stem, "log")) => {
                let base = stem.parse::<u64>().unwrap_or(1);
                if base % 14 != log_index * 7 {
                    continue; // not representable in the input format
                }
                (2, base / 7)
            }
            _ if name == "logs" => (1, 0),
            _ if name == "checkpoint" => (3, log_index),
            _ if name == "leader-epochs" => (4, log_index),
            _ => continue,
        };
        if index > 255 {
            continue;
        }
        let file = medium.open_for_test(&path);
        input.push(kind);
        input.push(index as u8);
        input.extend_from_slice(&(file.len().min(65535) as u16).to_be_bytes());
        input.extend_from_slice(&file[..file.len().min(65535)]);
    }
    input
}

#[test]
fn journal_inputs_never_panic() {
    // FJORD_FUZZ_CASES raises the count for a longer soak.
    let cases = std::env::var("FJORD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600u64);
    for seed in 0..cases {
        let mut rng = SplitMix64(seed);
        let mut input = if seed % 2 == 0 {
            valid_journal_input(&mut rng)
        } else {
            (0..rng.below(3000)).map(|_| rng.next_u64() as u8).collect()
        };
        for _ in 0..rng.below(4) {
            if !input.is_empty() {
                let at = rng.below(input.len() as u64) as usize;
                input[at] ^= 1 << rng.below(8);
            }
        }
        let outcome = std::panic::catch_unwind(|| open_journal_from_bytes(&input));
        assert!(outcome.is_ok(), "seed {seed} panicked");
    }
}
