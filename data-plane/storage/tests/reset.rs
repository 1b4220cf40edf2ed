//! `Log::reset_to`: a replica below its leader's log start restarts empty at
//! that offset, keeps the epoch in effect there, and survives a reopen.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::sync::Arc;

use fjord_storage::batch::{build_batch, stamp};
use fjord_storage::{
    ByteSize, Disk, FlushPolicy, LeaderEpoch, Log, LogConfig, Offset, Preallocate, SimMedium,
    Timestamp,
};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: ByteSize::kib(4),
        preallocate: Preallocate::None,
        ..LogConfig::default()
    }
}

#[test]
fn a_reset_log_starts_empty_at_the_offset_and_keeps_the_epoch_before_it() {
    let medium = SimMedium::new();
    let disk = Disk::new(Arc::new(medium), FlushPolicy::EveryAppend, 8);
    let directory = Path::new("/data/group-1/log");
    let mut log = Log::open(&disk, directory, config()).unwrap();
    for i in 0..20u8 {
        let mut batch = build_batch(2, Timestamp(0), 200, i);
        log.append(&mut batch, LeaderEpoch(1)).unwrap();
    }
    assert!(log.segment_count() > 1);
    let refused = log.reset_to(Offset(100), Some((LeaderEpoch(3), Offset(100))));
    assert!(refused.is_err(), "the epoch must start below the new start");
    log.reset_to(Offset(100), Some((LeaderEpoch(3), Offset(60))))
        .unwrap();
    assert_eq!(log.log_start_offset(), Offset(100));
    assert_eq!(log.log_end_offset(), Offset(100));
    assert_eq!(log.high_watermark(), Offset(100));
    assert_eq!(log.durable_offset(), Offset(100));
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.epoch_history(), vec![(LeaderEpoch(3), Offset(60))]);
    let mut batch = build_batch(3, Timestamp(0), 50, 7);
    stamp(&mut batch, Offset(100), LeaderEpoch(4));
    let info = log.append_replicated(&batch).unwrap();
    assert_eq!(info.log_end_offset, Offset(103));
    log.close().unwrap();

    let log = Log::open(&disk, directory, config()).unwrap();
    assert_eq!(log.log_start_offset(), Offset(100));
    assert_eq!(log.log_end_offset(), Offset(103));
    let history = vec![(LeaderEpoch(3), Offset(60)), (LeaderEpoch(4), Offset(100))];
    assert_eq!(log.epoch_history(), history);
    let fetched = log
        .read(Offset(100), ByteSize::kib(4), Offset(103))
        .unwrap();
    assert_eq!(fetched.bytes, batch);
}
