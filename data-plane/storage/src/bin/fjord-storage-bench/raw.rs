//! The raw baselines: what the disk and memory do without the log.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::{MIB, Scale, mb_per_second};

/// Sequential 1 MiB writes to one file. With `sync_every`, an `fdatasync` is
/// issued the way the policy issues it: inline after every `sync_every` bytes
/// for `every-append`, or, for group commit (`background`), from a second
/// thread once that many bytes are pending or 2 ms passed, while writes go on.
pub(crate) fn raw_write(
    dir: &Path,
    scale: &Scale,
    sync_every: Option<u64>,
    background: bool,
) -> Result<f64> {
    let path = dir.join("raw-write");
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    let chunk = vec![0x5au8; MIB as usize];
    let written = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let elapsed = std::thread::scope(|scope| -> Result<Duration> {
        let syncer = (background && sync_every.is_some()).then(|| {
            scope.spawn(|| background_syncer(&file, &written, &done, sync_every.unwrap_or(MIB)))
        });
        let mut since_sync = 0u64;
        let mut position = 0u64;
        while position < scale.bytes_per_case
            && started.elapsed().as_secs_f64() < scale.seconds_per_case
        {
            file.write_all_at(&chunk, position)?;
            position += MIB;
            written.store(position, Ordering::Release);
            since_sync += MIB;
            if !background && sync_every.is_some_and(|every| since_sync >= every) {
                file.sync_data()?;
                since_sync = 0;
            }
        }
        done.store(true, Ordering::Release);
        if let Some(syncer) = syncer {
            syncer
                .join()
                .map_err(|_| anyhow::anyhow!("syncer thread panicked"))??;
        }
        if sync_every.is_some() {
            file.sync_data()?;
        }
        Ok(started.elapsed())
    })?;
    let total = written.load(Ordering::Acquire);
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(mb_per_second(total, elapsed))
}

fn background_syncer(
    file: &std::fs::File,
    written: &AtomicU64,
    done: &AtomicBool,
    bytes: u64,
) -> Result<()> {
    let mut synced = 0u64;
    let mut last_sync = Instant::now();
    // Bounded by `done`.
    while !done.load(Ordering::Acquire) {
        let position = written.load(Ordering::Acquire);
        let due = position - synced >= bytes
            || (position > synced && last_sync.elapsed() >= Duration::from_millis(2));
        if due {
            file.sync_data()?;
            synced = position;
            last_sync = Instant::now();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    Ok(())
}

/// Page-cache reads of 1 MiB and a plain memory copy of the same bytes.
pub(crate) fn raw_reads(dir: &Path, bytes: u64) -> Result<(f64, f64)> {
    let path = dir.join("raw-read");
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    let chunk = vec![0x33u8; MIB as usize];
    for position in (0..bytes).step_by(MIB as usize) {
        file.write_all_at(&chunk, position)?;
    }
    let mut buffer = vec![0u8; MIB as usize];
    let started = Instant::now();
    for position in (0..bytes).step_by(MIB as usize) {
        file.read_exact_at(&mut buffer, position)?;
    }
    let cache = mb_per_second(bytes, started.elapsed());
    std::fs::remove_file(&path)?;
    let source = vec![0x44u8; bytes as usize];
    let mut copy = vec![0u8; MIB as usize];
    let mut memory = 0.0f64;
    for _pass in 0..3 {
        let started = Instant::now();
        for piece in source.chunks(MIB as usize) {
            copy[..piece.len()].copy_from_slice(std::hint::black_box(piece));
            std::hint::black_box(&copy);
        }
        memory = memory.max(mb_per_second(bytes, started.elapsed()));
    }
    Ok((cache, memory))
}

/// CRC-32C over the same number of bytes, in 1 MiB pieces (the verification cost).
pub(crate) fn crc_throughput(bytes: u64) -> f64 {
    let piece = vec![0x61u8; MIB as usize];
    let started = Instant::now();
    let mut crc = 0u32;
    for _ in 0..bytes / MIB {
        crc ^= crc32c::crc32c(std::hint::black_box(&piece));
    }
    std::hint::black_box(crc);
    mb_per_second(bytes / MIB * MIB, started.elapsed())
}
