//! Group commit, the durability API, the open-file bound, and time-driven
//! roll and retention.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use fjord_storage::batch::build_batch;
use fjord_storage::sim::SplitMix64;
use fjord_storage::testsuite::small_config;
use fjord_storage::{
    ByteSize, Clock, Disk, FlushPolicy, LeaderEpoch, Log, Offset, SimMedium, StdMedium, Timestamp,
};

fn append(log: &mut Log, timestamp: i64) -> Offset {
    let mut batch = build_batch(2, Timestamp(timestamp), 300, 1);
    log.append(&mut batch, LeaderEpoch(0))
        .expect("append")
        .log_end_offset
}

#[test]
fn one_group_commit_pass_makes_every_partition_durable() {
    let policy = FlushPolicy::GroupCommit {
        interval: Duration::from_secs(3600),
        bytes: ByteSize::gib(1),
    };
    let disk = Disk::new(Arc::new(SimMedium::new()), policy, 8);
    let mut logs: Vec<Log> = (0..20)
        .map(|p| {
            Log::open(&disk, &PathBuf::from(format!("/data/p{p}")), small_config()).expect("open")
        })
        .collect();
    for log in &mut logs {
        append(log, 1);
        append(log, 2);
        assert_eq!(
            log.durable_offset(),
            Offset(0),
            "nothing is durable before the pass"
        );
    }
    let report = disk.flush_pending().expect("flush");
    assert_eq!(report.logs, 20);
    assert_eq!(report.files_synced, 20);
    assert!(logs.iter().all(|log| log.durable_offset() == Offset(4)));
    assert!(
        disk.open_files().0 <= 8,
        "the open-file cache stays bounded"
    );
}

#[test]
fn the_flusher_thread_wakes_waiters_on_the_real_disk() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let policy = FlushPolicy::GroupCommit {
        interval: Duration::from_millis(5),
        bytes: ByteSize::mib(1),
    };
    let disk = Disk::new(Arc::new(StdMedium), policy, 64);
    let flusher = disk.start_flusher().expect("group commit has a flusher");
    let mut log = Log::open(&disk, &directory.path().join("p0"), small_config()).expect("open");
    let durability = log.durability();
    let end = append(&mut log, 1);
    let waiter = std::thread::spawn(move || durability.wait_for(end, Duration::from_secs(10)));
    assert!(
        waiter.join().expect("waiter thread"),
        "the flusher made the append durable"
    );
    assert!(log.durable_offset() >= end);
    drop(flusher);
}

#[test]
fn a_flush_racing_a_truncation_cannot_mark_truncated_offsets_durable() {
    let policy = FlushPolicy::GroupCommit {
        interval: Duration::from_secs(3600),
        bytes: ByteSize::gib(1),
    };
    let disk = Disk::new(Arc::new(SimMedium::new()), policy, 8);
    let mut log = Log::open(&disk, &PathBuf::from("/data/p0"), small_config()).expect("open");
    append(&mut log, 1);
    append(&mut log, 2);
    log.truncate_to(Offset(2)).expect("truncate");
    disk.flush_pending().expect("flush");
    assert!(log.durable_offset() <= Offset(2));
    append(&mut log, 3);
    disk.flush_pending().expect("flush");
    assert_eq!(log.durable_offset(), Offset(4));
}

#[test]
fn thousands_of_partitions_fit_in_a_small_open_file_budget() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let disk = Disk::new(Arc::new(StdMedium), FlushPolicy::Never, 32);
    let mut config = small_config();
    config.preallocate = fjord_storage::Preallocate::None;
    let mut logs: Vec<Log> = (0..600)
        .map(|p| {
            Log::open(
                &disk,
                &directory.path().join(format!("p{p}")),
                config.clone(),
            )
            .expect("open")
        })
        .collect();
    let mut rng = SplitMix64(7);
    for _ in 0..3000 {
        let log = &mut logs[rng.below(600) as usize];
        append(log, 1);
    }
    for log in &logs {
        let fetched = log
            .read(Offset(0), ByteSize::mib(1), Offset(i64::MAX))
            .expect("read");
        assert_eq!(fetched.next_offset, log.log_end_offset());
    }
    assert!(disk.open_files().0 <= 32);
}

#[derive(Debug, Default)]
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[test]
fn segments_roll_by_age_and_expire_by_time() {
    let clock = Arc::new(ManualClock(AtomicI64::new(1_000_000)));
    let disk = Disk::with_clock(
        Arc::new(SimMedium::new()),
        FlushPolicy::Never,
        8,
        clock.clone(),
    );
    let mut config = small_config();
    config.segment_bytes = ByteSize::mib(1);
    config.segment_age = Some(Duration::from_secs(60));
    config.retention_age = Some(Duration::from_secs(3600));
    let mut log = Log::open(&disk, &PathBuf::from("/data/p0"), config).expect("open");
    append(&mut log, 1_000_000);
    append(&mut log, 1_000_000);
    assert_eq!(log.segment_count(), 1);
    clock.0.store(1_000_000 + 61_000, Ordering::SeqCst);
    append(&mut log, 1_061_000);
    assert_eq!(log.segment_count(), 2, "the old segment rolled by age");
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(
        log.enforce_retention().expect("retention"),
        0,
        "nothing is an hour old yet"
    );
    clock.0.store(1_000_000 + 3_601_000, Ordering::SeqCst);
    assert_eq!(log.enforce_retention().expect("retention"), 1);
    assert_eq!(log.log_start_offset(), Offset(4));
}

#[test]
fn retention_by_size_keeps_the_newest_bytes() {
    let disk = Disk::new(Arc::new(SimMedium::new()), FlushPolicy::Never, 8);
    let mut config = small_config();
    config.retention_bytes = Some(ByteSize(3000));
    let mut log = Log::open(&disk, &PathBuf::from("/data/p0"), config).expect("open");
    for n in 0..40 {
        append(&mut log, n);
    }
    log.set_high_watermark(log.log_end_offset());
    assert!(log.enforce_retention().expect("retention") > 0);
    assert!(log.size().0 >= 3000);
    assert!(
        log.size().0 < 3000 + 2048,
        "at most one segment over the limit"
    );
}

#[test]
fn a_pass_syncs_each_file_once_even_when_the_cache_reopens_it() {
    let policy = FlushPolicy::GroupCommit {
        interval: Duration::from_secs(3600),
        bytes: ByteSize::gib(1),
    };
    let disk = Disk::new(Arc::new(SimMedium::new()), policy, 2);
    let mut logs: Vec<Log> = (0..5)
        .map(|p| {
            Log::open(&disk, &PathBuf::from(format!("/data/p{p}")), small_config()).expect("open")
        })
        .collect();
    for _round in 0..4 {
        for log in &mut logs {
            append(log, 1);
        }
    }
    let report = disk.flush_pending().expect("flush");
    assert_eq!(report.logs, 5);
    assert_eq!(
        report.files_synced, 5,
        "one sync per file, not one per reopened handle"
    );
}

/// The journal on the real file system: the flusher thread acknowledges
/// appends of many logs with one journal file, a checkpoint trims it, and
/// a reopened disk finds every acknowledged batch.
#[test]
fn the_journal_flusher_acknowledges_every_partition_on_the_real_file_system() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let root = directory.path();
    let policy = fjord_storage::testsuite::journal_policy();
    let disk = Disk::open(Arc::new(StdMedium), root, policy, 8).expect("disk");
    let flusher = disk.start_flusher().expect("journal flusher");
    let mut logs: Vec<Log> = (0..12)
        .map(|p| Log::open(&disk, &root.join(format!("p{p}")), small_config()).expect("open"))
        .collect();
    let mut ends = Vec::new();
    for round in 0..10 {
        for log in &mut logs {
            let end = append(log, round);
            assert!(log.durability().wait_for(end, Duration::from_secs(30)));
        }
    }
    for log in &logs {
        ends.push(log.log_end_offset());
    }
    let stats = disk.journal_stats();
    assert!(stats.passes >= 2, "{stats:?}");
    assert!(stats.records >= 120, "{stats:?}");
    disk.checkpoint().expect("checkpoint");
    let journal_files = std::fs::read_dir(root.join("journal"))
        .expect("journal directory")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.file_name().to_string_lossy().ends_with(".journal"))
        })
        .count();
    assert_eq!(journal_files, 1, "a checkpoint leaves only the active file");
    drop(flusher);
    drop(logs); // no close: the reopen replays
    drop(disk);
    let disk = Disk::open(Arc::new(StdMedium), root, policy, 8).expect("reopen");
    for (p, end) in ends.into_iter().enumerate() {
        let log = Log::open(&disk, &root.join(format!("p{p}")), small_config()).expect("open");
        assert_eq!(log.log_end_offset(), end);
        let fetched = log.read(Offset(0), ByteSize::mib(1), end).expect("read");
        assert_eq!(fetched.next_offset, end);
    }
}
