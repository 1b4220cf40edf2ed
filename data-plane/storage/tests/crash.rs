//! Crash injection on the simulated disk: power loss that keeps a random,
//! torn subset of unsynced writes, and bits flipped at rest. After recovery
//! every acknowledged batch is there, nothing corrupt is ever returned, and
//! corruption is reported (an error or a counted truncation), never a panic.

use std::path::Path;
use std::sync::Arc;

use fjord_storage::batch::build_batch;
use fjord_storage::sim::SplitMix64;
use fjord_storage::testsuite::small_config;
use fjord_storage::{
    ByteSize, Disk, Error, FlushPolicy, LeaderEpoch, Log, Offset, SimMedium, Timestamp,
};

const DIRECTORY: &str = "/data/p0";
const ALL: Offset = Offset(i64::MAX);

/// Seeds alternate between group commit (one `fdatasync` per file with
/// pending data) and a sync inside every append.
fn disk(medium: &SimMedium, seed: u64) -> Arc<Disk> {
    let policy = if seed.is_multiple_of(2) {
        FlushPolicy::GroupCommit {
            interval: std::time::Duration::from_secs(3600),
            bytes: ByteSize::gib(1),
        }
    } else {
        FlushPolicy::EveryAppend
    };
    Disk::new(Arc::new(medium.clone()), policy, 6)
}

/// How many seeds to run; FJORD_CRASH_SEEDS raises it for a soak.
fn seeds(default: u64) -> u64 {
    std::env::var("FJORD_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Stamped batches in log order: what the log must hold a prefix of.
struct Written {
    batches: Vec<(Offset, Vec<u8>)>,
    epoch: i32,
}

impl Written {
    fn prefix_up_to(&self, end: Offset) -> Vec<u8> {
        let mut out = Vec::new();
        for (base, bytes) in &self.batches {
            if *base >= end {
                break;
            }
            out.extend_from_slice(bytes);
        }
        out
    }

    fn truncate(&mut self, end: Offset) {
        self.batches.retain(|(base, _)| *base < end);
    }
}

/// Random appends, group commits, rolls, truncations and clean restarts.
/// Returns the acknowledged (durable) offset.
fn random_work(
    rng: &mut SplitMix64,
    disk: &Arc<Disk>,
    log: &mut Log,
    written: &mut Written,
    steps: u64,
) -> Offset {
    let mut acknowledged = log.durable_offset();
    for _ in 0..steps {
        match rng.below(20) {
            0..=11 => {
                let mut bytes = Vec::new();
                for n in 0..=rng.below(3) {
                    let records = 1 + rng.below(4) as i32;
                    let payload = rng.below(300) as usize;
                    bytes.extend_from_slice(&build_batch(
                        records,
                        Timestamp(rng.below(1000) as i64),
                        payload,
                        n as u8,
                    ));
                }
                let info = log
                    .append(&mut bytes, LeaderEpoch(written.epoch))
                    .expect("append");
                let mut position = 0usize;
                for header in
                    fjord_storage::batch::split_batches(&bytes).expect("stamped batches stay valid")
                {
                    let end = position + header.size as usize;
                    written
                        .batches
                        .push((header.base_offset, bytes[position..end].to_vec()));
                    position = end;
                }
                assert_eq!(info.log_end_offset, log.log_end_offset());
            }
            12..=15 => {
                disk.flush_pending().expect("group commit");
                acknowledged = log.durable_offset();
            }
            16 => log.roll().expect("roll"),
            17 => written.epoch += 1,
            _ => {
                let end = log.log_end_offset().0;
                let target = Offset(end - rng.below(end as u64 / 4 + 1) as i64);
                let new_end = log.truncate_to(target).expect("truncate");
                written.truncate(new_end);
                acknowledged = acknowledged.min(new_end);
            }
        }
        assert!(log.durable_offset() >= acknowledged);
    }
    acknowledged
}

fn check_recovered(log: &Log, written: &Written, acknowledged: Offset, seed: u64) {
    let end = log.log_end_offset();
    assert!(
        end >= acknowledged,
        "seed {seed}: acknowledged {acknowledged} but the log ends at {end}"
    );
    let fetched = log
        .read(log.log_start_offset(), ByteSize::gib(1), ALL)
        .expect("read after recovery");
    assert_eq!(fetched.next_offset, end, "seed {seed}");
    assert!(
        fetched.bytes == written.prefix_up_to(end),
        "seed {seed}: recovered bytes differ from what was written"
    );
}

#[test]
fn acknowledged_batches_survive_any_crash() {
    for seed in 0..seeds(150) {
        let mut rng = SplitMix64(seed);
        let medium = SimMedium::new();
        let mut written = Written {
            batches: Vec::new(),
            epoch: 0,
        };
        for _round in 0..3 {
            let disk = disk(&medium, seed);
            let mut log = Log::open(&disk, Path::new(DIRECTORY), small_config()).expect("open");
            check_recovered(&log, &written, Offset(0), seed);
            written.truncate(log.log_end_offset());
            let acknowledged = random_work(&mut rng, &disk, &mut log, &mut written, 40);
            drop(log);
            medium.crash(&mut rng);
            let disk = self::disk(&medium, seed);
            let log =
                Log::open(&disk, Path::new(DIRECTORY), small_config()).expect("open after crash");
            check_recovered(&log, &written, acknowledged, seed);
            written.truncate(log.log_end_offset());
        }
    }
}

/// Reads the whole log in random-sized steps: every batch returned must be
/// exactly what was written; returns whether a read reported corruption.
fn read_through(log: &Log, written: &Written, rng: &mut SplitMix64) -> bool {
    let mut next = log.log_start_offset();
    let expected_all = written.prefix_up_to(log.log_end_offset());
    let mut seen = Vec::new();
    // Bounded: every successful round advances `next`.
    while next < log.log_end_offset() {
        match log.read(next, ByteSize(rng.below(2000)), ALL) {
            Ok(fetched) => {
                assert!(
                    fetched.next_offset > next,
                    "a read must make progress or fail"
                );
                seen.extend_from_slice(&fetched.bytes);
                next = fetched.next_offset;
            }
            Err(Error::Corrupt { .. }) => return true,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    let start_bytes = expected_all.len() - seen.len();
    assert!(
        expected_all[start_bytes..] == seen[..],
        "returned bytes differ from what was written"
    );
    false
}

#[test]
fn flipped_bits_are_reported_and_never_returned() {
    for seed in 0..seeds(300) {
        let mut rng = SplitMix64(seed);
        let medium = SimMedium::new();
        let mut written = Written {
            batches: Vec::new(),
            epoch: 0,
        };
        let disk = disk(&medium, seed);
        let mut log = Log::open(&disk, Path::new(DIRECTORY), small_config()).expect("open");
        random_work(&mut rng, &disk, &mut log, &mut written, 40);
        disk.flush_pending().expect("group commit");
        if rng.below(2) == 0 {
            log.close().expect("close");
        } else {
            drop(log);
        }
        let files = medium.files();
        let (path, len) = files[rng.below(files.len() as u64) as usize].clone();
        if len == 0 {
            continue;
        }
        let byte = rng.below(len);
        medium
            .flip_bit(&path, byte, rng.below(8) as u8)
            .expect("flip");
        let disk = self::disk(&medium, seed);
        let Ok(log) = Log::open(&disk, Path::new(DIRECTORY), small_config()) else {
            continue; // reported as an error
        };
        let report = log.recovery_report().clone();
        written.truncate(log.log_end_offset());
        let read_failed = read_through(&log, &written, &mut rng);
        let in_segment_data = path.extension().is_some_and(|e| e == "log")
            && files.iter().any(|(p, _)| p == &path)
            && byte < len;
        if in_segment_data && report.corruption.is_none() && !read_failed {
            // The flip must have hit bytes that hold no batch (zeros past the end
            // of a preallocated active segment) or a segment below the log start.
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let base: i64 = name.parse().unwrap_or(0);
            let below_start = log.log_start_offset() > Offset(base);
            let segment_end = data_end(&written, Offset(base));
            assert!(
                below_start || byte >= segment_end,
                "seed {seed}: a flipped bit in {path:?} at byte {byte} (data ends at {segment_end}) went unreported: {report:?}"
            );
        }
    }
}

/// Bytes of data in the segment starting at `base`, per what was written
/// (segments end where the next segment file starts; we bound by the log).
fn data_end(written: &Written, base: Offset) -> u64 {
    written
        .batches
        .iter()
        .filter(|(offset, _)| *offset >= base)
        .map(|(_, bytes)| bytes.len() as u64)
        .sum()
}

#[test]
fn a_torn_tail_is_cut_and_counted() {
    let medium = SimMedium::new();
    let disk = disk(&medium, 0);
    let mut log = Log::open(&disk, Path::new(DIRECTORY), small_config()).expect("open");
    for n in 0..3 {
        let mut batch = build_batch(2, Timestamp(n), 100, 1);
        log.append(&mut batch, LeaderEpoch(0)).expect("append");
    }
    disk.flush_pending().expect("flush");
    let size = log.size().0;
    drop(log);
    // A fourth batch whose write was cut after 100 of its bytes.
    let mut torn = build_batch(2, Timestamp(9), 100, 1);
    fjord_storage::batch::stamp(&mut torn, Offset(6), LeaderEpoch(0));
    let path = Path::new(DIRECTORY).join("00000000000000000000.log");
    let mut content = medium.open_for_test(&path);
    content.truncate(size as usize);
    content.extend_from_slice(&torn[..100]);
    medium.put_file(&path, &content);
    let log = Log::open(
        &self::disk(&medium, 0),
        Path::new(DIRECTORY),
        small_config(),
    )
    .expect("reopen");
    let report = log.recovery_report();
    assert_eq!(log.log_end_offset(), Offset(6));
    assert_eq!(report.truncated_bytes, 100);
    assert!(report.corruption.is_some(), "the cut is reported");
}
