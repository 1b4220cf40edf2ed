//! The conformance suite every Fjord partition-log implementation must pass
//! (enable the `testsuite` feature). Implement [`Harness`] for a way to open
//! and reopen one log and call [`run_all`]; each case gets a fresh harness.

use crate::batch::build_batch;
use crate::{
    AppendInfo, ByteSize, Error, Fetched, LeaderEpoch, Log, LogConfig, Offset, Result, Timestamp,
};

/// What the suite needs from a partition log.
pub trait PartitionLog {
    fn append(&mut self, batches: &mut [u8], epoch: LeaderEpoch) -> Result<AppendInfo>;
    fn read(&self, start: Offset, max_bytes: ByteSize, upper_bound: Offset) -> Result<Fetched>;
    fn offset_for_time(&self, target: Timestamp) -> Result<Option<Offset>>;
    fn truncate_to(&mut self, offset: Offset) -> Result<Offset>;
    fn delete_records(&mut self, offset: Offset) -> Result<Offset>;
    fn set_high_watermark(&mut self, offset: Offset);
    fn log_start_offset(&self) -> Offset;
    fn log_end_offset(&self) -> Offset;
    fn high_watermark(&self) -> Offset;
    fn durable_offset(&self) -> Offset;
    fn flush(&mut self) -> Result<()>;
    fn close(self) -> Result<()>;
}

/// Opens the one log a test case works on; reopening must find its data.
pub trait Harness {
    type Log: PartitionLog;
    fn open(&mut self, config: LogConfig) -> Result<Self::Log>;
}

impl PartitionLog for Log {
    fn append(&mut self, batches: &mut [u8], epoch: LeaderEpoch) -> Result<AppendInfo> {
        Log::append(self, batches, epoch)
    }
    fn read(&self, start: Offset, max_bytes: ByteSize, upper_bound: Offset) -> Result<Fetched> {
        Log::read(self, start, max_bytes, upper_bound)
    }
    fn offset_for_time(&self, target: Timestamp) -> Result<Option<Offset>> {
        Log::offset_for_time(self, target)
    }
    fn truncate_to(&mut self, offset: Offset) -> Result<Offset> {
        Log::truncate_to(self, offset)
    }
    fn delete_records(&mut self, offset: Offset) -> Result<Offset> {
        Log::delete_records(self, offset)
    }
    fn set_high_watermark(&mut self, offset: Offset) {
        Log::set_high_watermark(self, offset)
    }
    fn log_start_offset(&self) -> Offset {
        Log::log_start_offset(self)
    }
    fn log_end_offset(&self) -> Offset {
        Log::log_end_offset(self)
    }
    fn high_watermark(&self) -> Offset {
        Log::high_watermark(self)
    }
    fn durable_offset(&self) -> Offset {
        Log::durable_offset(self)
    }
    fn flush(&mut self) -> Result<()> {
        Log::flush(self)
    }
    fn close(self) -> Result<()> {
        Log::close(self)
    }
}

/// Small segments so every case crosses segment boundaries.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: ByteSize(2048),
        segment_age: None,
        index_interval_bytes: ByteSize(256),
        retention_bytes: None,
        retention_age: None,
        preallocate: crate::Preallocate::SetLen,
        verify_reads: true,
    }
}

const ALL: Offset = Offset(i64::MAX);

/// Runs every case, each on a fresh harness from `new_harness`.
pub fn run_all<H: Harness>(mut new_harness: impl FnMut() -> H) {
    append_assigns_contiguous_offsets(new_harness());
    reads_return_whole_batches_and_at_least_one(new_harness());
    reads_stop_below_the_upper_bound(new_harness());
    reads_outside_the_log_are_out_of_range(new_harness());
    time_lookup_finds_the_first_batch_at_or_after(new_harness());
    truncation_removes_the_suffix_and_appends_continue(new_harness());
    delete_records_moves_the_log_start(new_harness());
    a_clean_reopen_keeps_everything(new_harness());
    an_unclean_reopen_keeps_flushed_data(new_harness());
    corrupt_input_batches_are_rejected(new_harness());
}

fn append_n<L: PartitionLog>(log: &mut L, count: i64, records: i32) -> Vec<Vec<u8>> {
    let mut written = Vec::new();
    for n in 0..count {
        let mut batch = build_batch(records, Timestamp(1000 + n), 200, n as u8);
        log.append(&mut batch, LeaderEpoch(1)).expect("append");
        written.push(batch);
    }
    written
}

pub fn append_assigns_contiguous_offsets<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    assert_eq!(log.log_end_offset(), Offset(0));
    let mut batch = build_batch(3, Timestamp(1), 100, 1);
    let info = log.append(&mut batch, LeaderEpoch(0)).expect("append");
    assert_eq!(
        (info.first_offset, info.last_offset),
        (Offset(0), Offset(2))
    );
    let mut two = build_batch(2, Timestamp(2), 10, 2);
    two.extend_from_slice(&build_batch(4, Timestamp(3), 10, 3));
    let info = log
        .append(&mut two, LeaderEpoch(0))
        .expect("append two batches");
    assert_eq!(
        (info.first_offset, info.last_offset),
        (Offset(3), Offset(8))
    );
    assert_eq!(log.log_end_offset(), Offset(9));
}

pub fn reads_return_whole_batches_and_at_least_one<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let written = append_n(&mut log, 20, 2);
    let fetched = log.read(Offset(0), ByteSize(1), ALL).expect("read");
    assert_eq!(
        fetched.bytes, written[0],
        "one whole batch even past max bytes"
    );
    assert_eq!(fetched.next_offset, Offset(2));
    let fetched = log.read(Offset(5), ByteSize(3 * 261), ALL).expect("read");
    assert_eq!(
        fetched.bytes,
        [&written[2][..], &written[3][..], &written[4][..]].concat()
    );
    let everything = log
        .read(Offset(0), ByteSize(1 << 20), ALL)
        .expect("read all");
    assert_eq!(everything.bytes, written.concat(), "reads cross segments");
    assert_eq!(everything.next_offset, Offset(40));
}

pub fn reads_stop_below_the_upper_bound<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let written = append_n(&mut log, 5, 2);
    let fetched = log
        .read(Offset(0), ByteSize(1 << 20), Offset(4))
        .expect("read");
    assert_eq!(fetched.bytes, [&written[0][..], &written[1][..]].concat());
    let fetched = log
        .read(Offset(4), ByteSize(1 << 20), Offset(4))
        .expect("read");
    assert!(fetched.bytes.is_empty());
    let fetched = log
        .read(Offset(10), ByteSize(1 << 20), ALL)
        .expect("read at the end");
    assert!(fetched.bytes.is_empty());
}

pub fn reads_outside_the_log_are_out_of_range<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    append_n(&mut log, 3, 1);
    let result = log.read(Offset(4), ByteSize(100), ALL);
    assert!(matches!(result, Err(Error::OffsetOutOfRange { .. })));
}

pub fn time_lookup_finds_the_first_batch_at_or_after<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    append_n(&mut log, 30, 2);
    assert_eq!(
        log.offset_for_time(Timestamp(0)).expect("lookup"),
        Some(Offset(0))
    );
    assert_eq!(
        log.offset_for_time(Timestamp(1017)).expect("lookup"),
        Some(Offset(34))
    );
    assert_eq!(log.offset_for_time(Timestamp(5000)).expect("lookup"), None);
}

pub fn truncation_removes_the_suffix_and_appends_continue<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let written = append_n(&mut log, 20, 2);
    log.set_high_watermark(Offset(40));
    assert_eq!(log.truncate_to(Offset(10)).expect("truncate"), Offset(10));
    assert_eq!(log.truncate_to(Offset(7)).expect("mid-batch"), Offset(6));
    assert_eq!(
        (log.log_end_offset(), log.high_watermark()),
        (Offset(6), Offset(6))
    );
    let mut batch = build_batch(1, Timestamp(5), 50, 9);
    let info = log
        .append(&mut batch, LeaderEpoch(2))
        .expect("append after truncation");
    assert_eq!(info.first_offset, Offset(6));
    let fetched = log.read(Offset(0), ByteSize(1 << 20), ALL).expect("read");
    assert_eq!(fetched.bytes, [written[..3].concat(), batch].concat());
}

pub fn delete_records_moves_the_log_start<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let written = append_n(&mut log, 20, 2);
    assert!(
        log.delete_records(Offset(5)).is_err(),
        "not past the high watermark"
    );
    log.set_high_watermark(Offset(30));
    assert_eq!(log.delete_records(Offset(25)).expect("delete"), Offset(25));
    assert!(matches!(
        log.read(Offset(24), ByteSize(1), ALL),
        Err(Error::OffsetOutOfRange { .. })
    ));
    let fetched = log.read(Offset(25), ByteSize(1), ALL).expect("read");
    assert_eq!(
        fetched.bytes, written[12],
        "the batch holding the log start"
    );
    log.close().expect("close");
    let log = harness.open(small_config()).expect("reopen");
    assert_eq!(log.log_start_offset(), Offset(25));
}

pub fn a_clean_reopen_keeps_everything<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let written = append_n(&mut log, 25, 3);
    log.set_high_watermark(Offset(60));
    log.close().expect("close");
    let log = harness.open(small_config()).expect("reopen");
    assert_eq!(log.log_end_offset(), Offset(75));
    assert_eq!(log.high_watermark(), Offset(60));
    assert_eq!(log.durable_offset(), Offset(75));
    let fetched = log.read(Offset(0), ByteSize(1 << 20), ALL).expect("read");
    assert_eq!(fetched.bytes, written.concat());
}

pub fn an_unclean_reopen_keeps_flushed_data<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let written = append_n(&mut log, 12, 1);
    log.flush().expect("flush");
    assert_eq!(log.durable_offset(), Offset(12));
    drop(log);
    let log = harness.open(small_config()).expect("reopen");
    assert_eq!(log.log_end_offset(), Offset(12));
    let fetched = log.read(Offset(0), ByteSize(1 << 20), ALL).expect("read");
    assert_eq!(fetched.bytes, written.concat());
}

pub fn corrupt_input_batches_are_rejected<H: Harness>(mut harness: H) {
    let mut log = harness.open(small_config()).expect("open");
    let mut batch = build_batch(1, Timestamp(1), 100, 1);
    batch[70] ^= 1;
    assert!(matches!(
        log.append(&mut batch, LeaderEpoch(0)),
        Err(Error::InvalidBatch(_))
    ));
    let mut short = build_batch(1, Timestamp(1), 100, 1);
    short.truncate(100);
    assert!(log.append(&mut short, LeaderEpoch(0)).is_err());
    let mut good = build_batch(1, Timestamp(1), 100, 1);
    log.append(&mut good, LeaderEpoch(3)).expect("append");
    let mut stale = build_batch(1, Timestamp(1), 100, 1);
    assert!(matches!(
        log.append(&mut stale, LeaderEpoch(2)),
        Err(Error::StaleLeaderEpoch { .. })
    ));
    assert_eq!(log.log_end_offset(), Offset(1));
}

/// The fuzz entry point: builds a log directory on a simulated disk from
/// arbitrary bytes, opens it, and exercises it. It must never panic: bad
/// files are reported as errors or counted truncations. Shared by the
/// `cargo fuzz` target and the seeded test that runs on stable Rust.
///
/// Input: repeated records of (kind u8, base u8, length u16 big endian,
/// content). Kind picks the file: segment, offset index, time index,
/// checkpoint or leader-epoch history; base picks the segment base offset.
pub fn open_from_bytes(data: &[u8]) {
    let medium = crate::SimMedium::new();
    let directory = std::path::Path::new("/fuzz/p0");
    let mut rest = data;
    // Bounded: every record consumes at least four bytes.
    while rest.len() >= 4 {
        let (kind, base) = (rest[0], i64::from(rest[1]) * 7);
        let length = usize::from(u16::from_be_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let content = &rest[4..4 + length];
        rest = &rest[4 + length..];
        let name = match kind % 5 {
            0 => format!("{base:020}.log"),
            1 => format!("{base:020}.index"),
            2 => format!("{base:020}.timeindex"),
            3 => "checkpoint".to_owned(),
            _ => "leader-epochs".to_owned(),
        };
        medium.put_file(&directory.join(name), content);
    }
    let disk = crate::Disk::new(
        std::sync::Arc::new(medium),
        crate::FlushPolicy::EveryAppend,
        4,
    );
    let Ok(mut log) = Log::open(&disk, directory, small_config()) else {
        return;
    };
    exercise(&mut log);
    if log.close().is_ok() {
        // A clean reopen must see the same log.
        let _ = Log::open(&disk, directory, small_config()).map(|mut log| exercise(&mut log));
    }
}

fn exercise(log: &mut Log) {
    let start = log.log_start_offset();
    assert!(start <= log.high_watermark() && log.high_watermark() <= log.log_end_offset());
    let mut next = start;
    // Bounded: every successful read advances `next`.
    while next < log.log_end_offset() {
        match log.read(next, ByteSize(4096), ALL) {
            Ok(fetched) => {
                assert!(fetched.next_offset > next, "reads make progress or fail");
                assert!(
                    crate::batch::split_batches(&fetched.bytes).is_ok(),
                    "never return corrupt batches"
                );
                next = fetched.next_offset;
            }
            Err(_) => break,
        }
    }
    let _ = log.offset_for_time(Timestamp(500));
    let epoch = log
        .latest_epoch()
        .map_or(LeaderEpoch(0), |(epoch, _)| epoch);
    let mut batch = build_batch(2, Timestamp(7), 40, 3);
    if let Ok(info) = log.append(&mut batch, epoch) {
        let fetched = log.read(info.first_offset, ByteSize(1), ALL);
        assert!(
            fetched.is_ok_and(|f| f.bytes == batch),
            "an append reads back"
        );
    }
}

/// The journal's fuzz entry point (`fuzz/fuzz_targets/open_journal.rs`):
/// builds a journaled disk on a simulated medium from arbitrary bytes
/// (journal files, the log registry, segment and checkpoint files of two
/// logs), opens it (which replays the journal) and exercises the logs. It
/// must never panic or trip an assertion: bad files are errors.
///
/// Input: repeated records of (kind u8, index u8, length u16 big endian,
/// content). Kind 0: journal file starting at `index * JOURNAL_FILE_BYTES`;
/// 1: the registry; 2: segment `<index * 7>.log` of log `p<index % 2>`;
/// 3: that log's checkpoint; 4: its leader-epoch history.
pub fn open_journal_from_bytes(data: &[u8]) {
    let medium = crate::SimMedium::new();
    let root = std::path::Path::new("/fuzz");
    let mut rest = data;
    // Bounded: every record consumes at least four bytes.
    while rest.len() >= 4 {
        let (kind, index) = (rest[0], u64::from(rest[1]));
        let length = usize::from(u16::from_be_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let content = &rest[4..4 + length];
        rest = &rest[4 + length..];
        let log = root.join(format!("p{}", index % 2));
        let path = match kind % 5 {
            0 => root
                .join("journal")
                .join(format!("{:020}.journal", index * JOURNAL_FILE_BYTES)),
            1 => root.join("journal").join("logs"),
            2 => log.join(format!("{:020}.log", index * 7)),
            3 => log.join("checkpoint"),
            _ => log.join("leader-epochs"),
        };
        medium.put_file(&path, content);
    }
    let Ok(disk) = crate::Disk::open(std::sync::Arc::new(medium), root, journal_policy(), 4) else {
        return;
    };
    for index in 0..2 {
        let directory = root.join(format!("p{index}"));
        if let Ok(mut log) = Log::open(&disk, &directory, small_config()) {
            exercise(&mut log);
            let _ = disk.flush_pending();
            let _ = log.close();
        }
    }
    let _ = disk.checkpoint();
}

/// Size of the journal files of [`journal_policy`].
pub const JOURNAL_FILE_BYTES: u64 = 40 * 1024;

/// A journal policy with small files, so tests and fuzz inputs rotate.
pub fn journal_policy() -> crate::FlushPolicy {
    crate::FlushPolicy::Journal(crate::JournalConfig {
        file_bytes: ByteSize(JOURNAL_FILE_BYTES),
        pass_bytes_max: ByteSize::kib(16),
        indirect_bytes_min: ByteSize::kib(1),
        ..crate::JournalConfig::default()
    })
}
