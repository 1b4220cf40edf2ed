//! Crash injection on the journal (JOURNAL.md sections 7 and 11): power loss
//! at every step of append, pass, checkpoint, trim, rotation, truncation,
//! reset and replay loses no acknowledged append and resurrects nothing
//! truncated; torn passes are cut, damage to a synced pass is an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fjord_storage::batch::{build_batch, split_batches};
use fjord_storage::sim::SplitMix64;
use fjord_storage::testsuite::small_config;
use fjord_storage::{
    ByteSize, Disk, Error, FlushPolicy, JournalConfig, LeaderEpoch, Log, Offset, Result, SimMedium,
    Timestamp,
};

const ROOT: &str = "/data";
const ALL: Offset = Offset(i64::MAX);

fn policy() -> FlushPolicy {
    // Small files and passes so tests rotate often.
    FlushPolicy::Journal(JournalConfig {
        file_bytes: ByteSize::kib(40),
        pass_bytes_max: ByteSize::kib(16),
        ..JournalConfig::default()
    })
}

fn seeds(default: u64) -> u64 {
    std::env::var("FJORD_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn open_disk(medium: &SimMedium) -> Result<Arc<Disk>> {
    Disk::open(Arc::new(medium.clone()), Path::new(ROOT), policy(), 6)
}

fn log_dir(index: usize) -> PathBuf {
    Path::new(ROOT).join(format!("p{index}"))
}

/// What one log must hold a prefix of, and what was acknowledged.
#[derive(Default, Clone)]
struct Model {
    batches: Vec<(Offset, Vec<u8>)>,
    epoch: i32,
    acked: Offset,
    /// A truncation that failed part-way: it may or may not be durable, so
    /// nothing at or after it counts as acknowledged.
    cap: Option<Offset>,
}

impl Model {
    fn prefix_up_to(&self, start: Offset, end: Offset) -> Vec<u8> {
        let mut out = Vec::new();
        for (base, bytes) in &self.batches {
            if *base >= start && *base < end {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    fn record(&mut self, bytes: &[u8]) {
        let mut position = 0usize;
        for header in split_batches(bytes).expect("stamped batches stay valid") {
            let end = position + header.size as usize;
            self.batches
                .push((header.base_offset, bytes[position..end].to_vec()));
            position = end;
        }
    }
}

struct World {
    medium: SimMedium,
    disk: Arc<Disk>,
    logs: Vec<Log>,
    models: Vec<Model>,
}

impl World {
    fn new(count: usize) -> World {
        let medium = SimMedium::new();
        let disk = open_disk(&medium).expect("fresh disk");
        let logs = (0..count)
            .map(|index| Log::open(&disk, &log_dir(index), small_config()).expect("open log"))
            .collect();
        World {
            medium,
            disk,
            logs,
            models: vec![Model::default(); count],
        }
    }

    fn note_acks(&mut self) {
        for (log, model) in self.logs.iter().zip(&mut self.models) {
            model.acked = model.acked.max(log.durable_offset());
            if let Some(cap) = model.cap {
                model.acked = model.acked.min(cap);
            }
        }
    }

    fn append(&mut self, index: usize, rng: &mut SplitMix64) -> Result<()> {
        let mut bytes = Vec::new();
        for n in 0..=rng.below(2) {
            let payload = rng.below(1500) as usize;
            let ts = Timestamp(rng.below(1000) as i64);
            bytes.extend_from_slice(&build_batch(1 + rng.below(3) as i32, ts, payload, n as u8));
        }
        let epoch = LeaderEpoch(self.models[index].epoch);
        self.logs[index].append(&mut bytes, epoch)?;
        self.models[index].record(&bytes);
        Ok(())
    }

    fn truncate(&mut self, index: usize, target: Offset) -> Result<()> {
        let model = &mut self.models[index];
        // The cut lands on the base of the batch holding `target`. Whatever
        // happens next, nothing from there on counts as acknowledged: the
        // truncation may or may not become durable.
        let cut = if target >= self.logs[index].log_end_offset() {
            target
        } else {
            let bases = model.batches.iter().map(|(base, _)| *base);
            bases.filter(|base| *base <= target).max().unwrap_or(target)
        };
        model.acked = model.acked.min(cut);
        model.cap = Some(cut);
        let end = self.logs[index].truncate_to(target)?;
        let model = &mut self.models[index];
        model.cap = None;
        model.acked = model.acked.min(end);
        model.batches.retain(|(base, _)| *base < end);
        Ok(())
    }

    /// One random step; an error means the simulated power went.
    fn step(&mut self, rng: &mut SplitMix64) -> Result<()> {
        let index = rng.below(self.logs.len() as u64) as usize;
        let outcome = match rng.below(40) {
            0..=24 => self.append(index, rng),
            25..=33 => self.disk.flush_pending().map(|_| ()),
            34..=35 => self.disk.checkpoint().map(|_| ()),
            36 => {
                self.models[index].epoch += 1;
                Ok(())
            }
            37 => self.logs[index].roll(),
            _ => {
                let end = self.logs[index].log_end_offset().0;
                let start = self.logs[index].log_start_offset().0;
                let target = Offset(end - rng.below((end - start) as u64 / 3 + 1) as i64);
                self.truncate(index, target)
            }
        };
        self.note_acks();
        outcome
    }

    /// Power comes back: reopen the disk (replaying the journal) and every log.
    fn recover(self, rng: &mut SplitMix64, crash_in_replay: bool, seed: u64) -> World {
        let World { medium, models, .. } = self;
        if !medium.crashed() {
            medium.crash(rng);
        }
        medium.restart();
        if crash_in_replay {
            medium.crash_after(1 + rng.below(40), rng.next_u64());
            match open_disk(&medium) {
                Ok(disk) => drop(disk),
                Err(error) => assert!(medium.crashed(), "seed {seed}: replay failed: {error}"),
            }
            medium.crash_after(0, 0);
            if !medium.crashed() {
                medium.crash(rng);
            }
            medium.restart();
        }
        let disk = open_disk(&medium).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        let logs: Vec<Log> = (0..models.len())
            .map(|index| Log::open(&disk, &log_dir(index), small_config()).expect("reopen log"))
            .collect();
        for (index, (log, model)) in logs.iter().zip(&models).enumerate() {
            check(log, model, &format!("seed {seed} log {index}"));
        }
        let mut world = World {
            medium,
            disk,
            logs,
            models,
        };
        // What recovery left is now the model (unacknowledged tails may go).
        for (log, model) in world.logs.iter().zip(&mut world.models) {
            let end = log.log_end_offset();
            model.batches.retain(|(base, _)| *base < end);
            model.acked = end;
            model.cap = None;
            model.epoch = model.epoch.max(log.latest_epoch().map_or(0, |(e, _)| e.0));
        }
        world
    }
}

/// Every acknowledged batch is back and the log is a byte-exact prefix of
/// what was written (nothing truncated resurrected, nothing torn returned).
fn check(log: &Log, model: &Model, what: &str) {
    let end = log.log_end_offset();
    assert!(
        end >= model.acked,
        "{what}: acknowledged {} but the log ends at {end} {:?} segs {}",
        model.acked,
        log.recovery_report(),
        log.segment_count()
    );
    let start = log.log_start_offset();
    let fetched = log
        .read(start, ByteSize::gib(1), ALL)
        .expect("read after recovery");
    assert_eq!(fetched.next_offset, end, "{what}");
    assert!(
        fetched.bytes == model.prefix_up_to(start, end),
        "{what}: recovered bytes differ from what was written"
    );
}

#[test]
fn acknowledged_appends_survive_any_crash_with_journal() {
    for seed in 0..seeds(60) {
        let mut rng = SplitMix64(seed);
        let mut world = World::new(4);
        for cycle in 0..3 {
            world.medium.crash_after(1 + rng.below(120), rng.next_u64());
            for _ in 0..200 {
                if let Err(error) = world.step(&mut rng) {
                    assert!(world.medium.crashed(), "seed {seed}: {error}");
                    break;
                }
            }
            world.medium.crash_after(0, 0);
            world = world.recover(&mut rng, cycle == 1, seed);
        }
    }
}

/// Runs `work` on a fresh world built by `setup`, with a crash after the
/// n-th operation of `work`, for every n until `work` finishes uncrashed.
fn crash_at_every_step(
    setup: impl Fn(&mut SplitMix64) -> World,
    work: impl Fn(&mut World, &mut SplitMix64) -> Result<()>,
    verify: impl Fn(&World, bool),
) -> u64 {
    for n in 1.. {
        let mut rng = SplitMix64(n);
        let mut world = setup(&mut rng);
        world.medium.crash_after(n, n);
        let outcome = work(&mut world, &mut rng);
        world.note_acks();
        let crashed = world.medium.crashed();
        if let Err(error) = &outcome {
            assert!(crashed, "step {n}: {error}");
        }
        world.medium.crash_after(0, 0);
        let world = world.recover(&mut rng, false, n);
        verify(&world, outcome.is_ok());
        if !crashed {
            return n;
        }
    }
    unreachable!("the loop returns once the work finishes")
}

fn busy_world(rng: &mut SplitMix64) -> World {
    let mut world = World::new(3);
    for _ in 0..30 {
        world.step(rng).expect("no crash armed");
    }
    world.disk.flush_pending().expect("flush");
    world.note_acks();
    for index in 0..3 {
        world.append(index, rng).expect("unacknowledged tail");
    }
    world
}

#[test]
fn crash_at_every_step_of_a_checkpoint() {
    let steps = crash_at_every_step(
        busy_world,
        |world, _| world.disk.checkpoint().map(|_| ()),
        |_, _| {},
    );
    assert!(
        steps > 3,
        "a checkpoint syncs segments, writes a pass and trims"
    );
}

#[test]
fn crash_at_every_step_of_replay_then_replay_again() {
    for n in 1.. {
        let mut rng = SplitMix64(7);
        let world = busy_world(&mut rng);
        let models = world.models.clone();
        let medium = world.medium.clone();
        drop(world);
        medium.crash(&mut rng);
        medium.restart();
        medium.crash_after(n, n);
        let first = open_disk(&medium);
        let crashed = medium.crashed();
        if let Err(error) = &first {
            assert!(crashed, "step {n}: {error}");
        }
        medium.crash_after(0, 0);
        drop(first);
        if crashed {
            medium.crash(&mut rng);
            medium.restart();
        }
        let disk = open_disk(&medium).unwrap_or_else(|error| panic!("step {n}: {error}"));
        for (index, model) in models.iter().enumerate() {
            let log = Log::open(&disk, &log_dir(index), small_config()).expect("reopen");
            check(
                &log,
                model,
                &format!("replay crash at step {n}, log {index}"),
            );
        }
        if !crashed {
            assert!(n > 5, "replay writes segments, a pass and removes files");
            break;
        }
    }
}

/// Case T of JOURNAL.md section 7: Append [0,10) at epoch 5, Truncate 5,
/// Append [5,8) at epoch 6, with a crash at every step.
#[test]
fn truncate_is_never_undone_by_replay() {
    let setup = |_: &mut SplitMix64| {
        let mut world = World::new(1);
        world.models[0].epoch = 5;
        for n in 0..10u8 {
            let mut batch = build_batch(1, Timestamp(1), 100, n);
            world.logs[0]
                .append(&mut batch, LeaderEpoch(5))
                .expect("append");
            world.models[0].record(&batch);
        }
        world.disk.flush_pending().expect("flush");
        world.note_acks();
        world
    };
    let work = |world: &mut World, _: &mut SplitMix64| {
        world.truncate(0, Offset(5))?;
        world.models[0].epoch = 6;
        for n in 0..3u8 {
            let mut batch = build_batch(1, Timestamp(2), 100, 100 + n);
            world.logs[0].append(&mut batch, LeaderEpoch(6))?;
            world.models[0].record(&batch);
        }
        world.disk.flush_pending()?;
        world.note_acks();
        Ok(())
    };
    let verify = |world: &World, finished: bool| {
        if finished {
            assert_eq!(world.logs[0].log_end_offset(), Offset(8));
            assert_eq!(
                world.logs[0].epoch_end_offset(LeaderEpoch(5)),
                Some(Offset(5))
            );
        }
    };
    assert!(crash_at_every_step(setup, work, verify) > 3);
}

#[test]
fn reset_is_replayed() {
    let setup = |rng: &mut SplitMix64| {
        let mut world = World::new(2);
        for _ in 0..6 {
            world.append(0, rng).expect("append");
            world.append(1, rng).expect("append");
        }
        world.disk.flush_pending().expect("flush");
        world.note_acks();
        world
    };
    let work = |world: &mut World, rng: &mut SplitMix64| {
        let start = Offset(100);
        // A reset either happened whole or not at all: the model follows
        // once it returned; until then the old log is allowed too.
        world.models[0].cap = Some(Offset(0));
        world.logs[0].reset_to(start, Some((LeaderEpoch(3), Offset(90))))?;
        world.models[0].cap = None;
        world.models[0].batches.clear();
        world.models[0].acked = start;
        world.models[0].epoch = 4;
        world.append(0, rng)?;
        world.append(1, rng)?;
        world.disk.flush_pending()?;
        world.note_acks();
        Ok(())
    };
    let verify = |world: &World, finished: bool| {
        let log = &world.logs[0];
        if finished {
            assert_eq!(log.log_start_offset(), Offset(100));
            assert!(log.log_end_offset() > Offset(100));
            assert_eq!(log.epoch_history()[0], (LeaderEpoch(3), Offset(90)));
        }
    };
    // A crash inside reset_to leaves the old log (record not durable) or
    // the reset one (replayed): `World::recover` checks against the model,
    // which holds the old batches until reset_to returned, and an empty log
    // at 100 is a prefix of either.
    crash_at_every_step(setup, work, verify);
}

#[test]
fn torn_pass_is_never_replayed_and_stale_records_after_it_are_never_read() {
    for seed in 0..seeds(40) {
        let mut rng = SplitMix64(seed);
        let mut world = World::new(2);
        for round in 0..3 {
            for _ in 0..5 {
                world.append(0, &mut rng).expect("append");
                world.append(1, &mut rng).expect("append");
            }
            // Power goes right after the pass's write, before its sync.
            world.medium.crash_after(1, rng.next_u64());
            assert!(world.disk.flush_pending().is_err() || world.medium.crashed());
            world.note_acks();
            world.medium.crash_after(0, 0);
            let before: Vec<Offset> = world.models.iter().map(|m| m.acked).collect();
            world = world.recover(&mut rng, false, seed);
            for (index, acked) in before.into_iter().enumerate() {
                assert!(
                    world.logs[index].log_end_offset() >= acked,
                    "seed {seed} round {round}"
                );
            }
        }
    }
}

fn journal_files(medium: &SimMedium) -> Vec<(PathBuf, u64)> {
    let mut files: Vec<(PathBuf, u64)> = medium
        .files()
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "journal"))
        .collect();
    files.sort();
    files
}

#[test]
fn flipped_bit_in_a_synced_pass_is_corrupt_not_a_tail() {
    let mut rng = SplitMix64(3);
    let mut world = World::new(1);
    for _ in 0..3 {
        world.append(0, &mut rng).expect("append");
        world.disk.flush_pending().expect("flush");
    }
    let (path, _) = journal_files(&world.medium).pop().expect("a journal file");
    // The first pass after the recovery pass starts at byte 8192; flip a
    // bit inside its first Append record, with two synced passes after it.
    world.medium.flip_bit(&path, 8192 + 100, 3).expect("flip");
    let medium = world.medium.clone();
    drop(world);
    match open_disk(&medium) {
        Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("synced pass"), "{reason}"),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn forged_pass_inside_batch_data_is_not_a_later_pass() {
    let mut rng = SplitMix64(5);
    let mut world = World::new(1);
    // Pass at 8192: Pass record (40), Append header and fields (56), batch
    // header (61): the batch payload starts at 8349 and covers 12288, the
    // next page. Put there a Pass record with a CRC computed without salt.
    let payload_at = 8192 + 40 + 56 + 61;
    let mut payload = vec![7u8; 6000];
    let forged_at = 12288 - payload_at;
    let mut forged = Vec::new();
    forged.extend_from_slice(&40u32.to_be_bytes());
    forged.extend_from_slice(&[0u8; 4]);
    forged.extend_from_slice(&12288u64.to_be_bytes());
    forged.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    forged.extend_from_slice(&99u64.to_be_bytes());
    forged.extend_from_slice(&0u64.to_be_bytes());
    let crc = crc32c_of(&forged[8..]);
    forged[4..8].copy_from_slice(&crc.to_be_bytes());
    payload[forged_at..forged_at + 40].copy_from_slice(&forged);
    let mut batch = build_batch(1, Timestamp(1), 0, 0);
    batch.truncate(61);
    batch.extend_from_slice(&payload);
    let mut batch = rebuild(batch);
    world.logs[0]
        .append(&mut batch, LeaderEpoch(0))
        .expect("append");
    world.disk.flush_pending().expect("flush");
    let _ = world.append(0, &mut rng);
    // A torn tail inside the record before the forged page.
    let (path, _) = journal_files(&world.medium).pop().expect("a journal file");
    world
        .medium
        .flip_bit(&path, 8192 + 40 + 20, 1)
        .expect("tear");
    let medium = world.medium.clone();
    drop(world);
    let disk = open_disk(&medium).expect("a forged pass is not a later synced pass");
    assert!(disk.journal_report().torn_tail);
}

/// CRC-32C, as the journal and Kafka use (no salt here: the forger's view).
fn crc32c_of(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Fixes the length and CRC of a batch whose payload was replaced.
fn rebuild(mut batch: Vec<u8>) -> Vec<u8> {
    let length = i32::try_from(batch.len() - 12).expect("small");
    batch[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c_of(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

#[test]
fn records_of_a_removed_log_are_skipped() {
    let mut rng = SplitMix64(11);
    let mut world = World::new(2);
    for _ in 0..4 {
        world.append(0, &mut rng).expect("append");
        world.append(1, &mut rng).expect("append");
    }
    world.disk.flush_pending().expect("flush");
    world.note_acks();
    world.disk.forget_log(&log_dir(0)).expect("unregister");
    let World {
        medium,
        models,
        logs,
        ..
    } = world;
    drop(logs);
    medium.crash(&mut rng);
    medium.restart();
    let disk = open_disk(&medium).expect("open");
    let report = disk.journal_report();
    assert!(report.records_of_removed_logs >= 4, "{report:?}");
    let log = Log::open(&disk, &log_dir(1), small_config()).expect("reopen");
    check(&log, &models[1], "the other log");
}

#[test]
fn journal_trimmed_only_below_a_durable_checkpoint() {
    let mut rng = SplitMix64(13);
    let mut world = World::new(3);
    for _ in 0..40 {
        for index in 0..3 {
            world.append(index, &mut rng).expect("append");
        }
        world.disk.flush_pending().expect("flush");
    }
    world.note_acks();
    let before = journal_files(&world.medium);
    assert!(
        before.len() > 2,
        "passes rotated through files, none trimmed: {before:?}"
    );
    let trimmed = world.disk.checkpoint().expect("checkpoint");
    let after = journal_files(&world.medium);
    assert_eq!(after.len() as u64 + trimmed, before.len() as u64);
    assert_eq!(after.len(), 1, "only the active file stays");
    let world = world.recover(&mut rng, false, 13);
    let stats = world.disk.journal_stats();
    assert_eq!(stats.checkpoints, 1, "the recovery pass");
}
