//! The world the journal crash tests run in: logs on a journaled simulated
//! disk, a model of what each must hold, and recovery with its checks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fjord_storage::batch::{build_batch, split_batches};
use fjord_storage::sim::SplitMix64;
use fjord_storage::testsuite::small_config;
use fjord_storage::{
    ByteSize, Disk, FlushPolicy, JournalConfig, LeaderEpoch, Log, Offset, Result, SimMedium,
    Timestamp,
};

const ROOT: &str = "/data";
const ALL: Offset = Offset(i64::MAX);

fn policy() -> FlushPolicy {
    // Small files and passes so tests rotate often.
    FlushPolicy::Journal(JournalConfig {
        file_bytes: ByteSize::kib(40),
        pass_bytes_max: ByteSize::kib(16),
        // About half the random appends are indirect.
        indirect_bytes_min: ByteSize::kib(2),
        ..JournalConfig::default()
    })
}

pub(crate) fn seeds(default: u64) -> u64 {
    std::env::var("FJORD_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn open_disk(medium: &SimMedium) -> Result<Arc<Disk>> {
    Disk::open(Arc::new(medium.clone()), Path::new(ROOT), policy(), 6)
}

pub(crate) fn log_dir(index: usize) -> PathBuf {
    Path::new(ROOT).join(format!("p{index}"))
}

/// What one log must hold a prefix of, and what was acknowledged.
#[derive(Default, Clone)]
pub(crate) struct Model {
    pub(crate) batches: Vec<(Offset, Vec<u8>)>,
    pub(crate) epoch: i32,
    pub(crate) acked: Offset,
    /// A truncation that failed part-way: it may or may not be durable, so
    /// nothing at or after it counts as acknowledged.
    pub(crate) cap: Option<Offset>,
}

impl Model {
    pub(crate) fn prefix_up_to(&self, start: Offset, end: Offset) -> Vec<u8> {
        let mut out = Vec::new();
        for (base, bytes) in &self.batches {
            if *base >= start && *base < end {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    pub(crate) fn record(&mut self, bytes: &[u8]) {
        let mut position = 0usize;
        for header in split_batches(bytes).expect("stamped batches stay valid") {
            let end = position + header.size as usize;
            self.batches
                .push((header.base_offset, bytes[position..end].to_vec()));
            position = end;
        }
    }
}

pub(crate) struct World {
    pub(crate) medium: SimMedium,
    pub(crate) disk: Arc<Disk>,
    pub(crate) logs: Vec<Log>,
    pub(crate) models: Vec<Model>,
}

impl World {
    pub(crate) fn new(count: usize) -> World {
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

    pub(crate) fn note_acks(&mut self) {
        for (log, model) in self.logs.iter().zip(&mut self.models) {
            model.acked = model.acked.max(log.durable_offset());
            if let Some(cap) = model.cap {
                model.acked = model.acked.min(cap);
            }
        }
    }

    pub(crate) fn append(&mut self, index: usize, rng: &mut SplitMix64) -> Result<()> {
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

    pub(crate) fn truncate(&mut self, index: usize, target: Offset) -> Result<()> {
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
    pub(crate) fn step(&mut self, rng: &mut SplitMix64) -> Result<()> {
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
    pub(crate) fn recover(self, rng: &mut SplitMix64, crash_in_replay: bool, seed: u64) -> World {
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
pub(crate) fn check(log: &Log, model: &Model, what: &str) {
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

/// Runs `work` on a fresh world built by `setup`, with a crash after the
/// n-th operation of `work`, for every n until `work` finishes uncrashed.
pub(crate) fn crash_at_every_step(
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

pub(crate) fn busy_world(rng: &mut SplitMix64) -> World {
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

pub(crate) fn journal_files(medium: &SimMedium) -> Vec<(PathBuf, u64)> {
    let mut files: Vec<(PathBuf, u64)> = medium
        .files()
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "journal"))
        .collect();
    files.sort();
    files
}

/// CRC-32C, as the journal and Kafka use (no salt here: the forger's view).
pub(crate) fn crc32c_of(bytes: &[u8]) -> u32 {
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
pub(crate) fn rebuild(mut batch: Vec<u8>) -> Vec<u8> {
    let length = i32::try_from(batch.len() - 12).expect("small");
    batch[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c_of(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}
