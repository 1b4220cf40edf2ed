//! The floor a produce acknowledgement cannot beat, measured in the same
//! run: one 4 KiB append plus `fdatasync` on the brokers' data disk, and one
//! loopback TCP round trip.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use super::Percentiles;

const PROBE_BYTES: usize = 4096;
const ROUND_TRIP_BYTES: usize = 64;

/// The disk's and the network's share of an acknowledgement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floor {
    pub(crate) fdatasync: Percentiles,
    pub(crate) loopback: Percentiles,
}

impl Floor {
    /// The disk's p99 `fdatasync` plus one loopback round trip p99 (ms).
    pub(crate) fn p99_ms(&self) -> f64 {
        self.fdatasync.p99 + self.loopback.p99
    }
}

pub(crate) fn measure(dir: &Path, samples: usize) -> anyhow::Result<Floor> {
    Ok(Floor {
        fdatasync: fdatasync(dir, samples)?,
        loopback: loopback(samples * 10)?,
    })
}

/// Appends 4 KiB pages to a file in `dir` and times each write plus its
/// `fdatasync`, as a journal pass does.
fn fdatasync(dir: &Path, samples: usize) -> anyhow::Result<Percentiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("latency-floor.probe");
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let page = vec![0x5a_u8; PROBE_BYTES];
    let mut micros = Vec::with_capacity(samples);
    for index in 0..samples {
        let started = Instant::now();
        file.write_all_at(&page, (index * PROBE_BYTES) as u64)?;
        file.sync_data().context("fdatasync of the probe file")?;
        micros.push(elapsed_micros(started));
    }
    drop(file);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(Percentiles::of(&mut micros))
}

/// Times `samples` round trips of 64 bytes to an echo thread over
/// loopback TCP with Nagle off.
fn loopback(samples: usize) -> anyhow::Result<Percentiles> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut buffer = [0u8; ROUND_TRIP_BYTES];
        // Bounded by the client: it closes after its samples.
        while stream.read_exact(&mut buffer).is_ok() {
            stream.write_all(&buffer)?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let mut buffer = [7u8; ROUND_TRIP_BYTES];
    let mut micros = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        stream.write_all(&buffer)?;
        stream.read_exact(&mut buffer)?;
        micros.push(elapsed_micros(started));
    }
    drop(stream);
    echo.join()
        .map_err(|_| anyhow::anyhow!("the echo thread panicked"))??;
    Ok(Percentiles::of(&mut micros))
}

pub(crate) fn elapsed_micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}
