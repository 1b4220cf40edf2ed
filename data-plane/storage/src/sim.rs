//! A simulated disk that behaves as badly as DESIGN.md section 1 allows: it
//! keeps unsynced writes in a pending list and, on [`SimMedium::crash`], keeps
//! any subset of them, tearing some at an arbitrary byte. Used by the crash,
//! differential and fuzz tests; deterministic for a given seed.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::medium::{Medium, MediumFile, Preallocate, parent_of};

/// A small deterministic random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        self.next_u64() % bound
    }
}

#[derive(Debug, Clone)]
enum PendingOp {
    Write { position: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default)]
struct FileState {
    current: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<PendingOp>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct SimFile {
    state: Mutex<FileState>,
    /// The disk the file lives on, for `crash_after`.
    disk: std::sync::Weak<Mutex<SimState>>,
    control: Arc<SimControl>,
}

/// Crash injection at a chosen operation ([`SimMedium::crash_after`]).
#[derive(Debug, Default)]
struct SimControl {
    /// Counted operations (write, set_len, sync, create, rename, remove,
    /// directory sync) so far.
    ops: AtomicU64,
    /// The op count at which the disk loses power; 0 = not armed.
    crash_at: AtomicU64,
    seed: AtomicU64,
    /// After the crash every operation fails until `restart`.
    halted: AtomicBool,
}

fn power_lost() -> io::Error {
    io::Error::other("simulated power loss")
}

impl SimControl {
    fn check(&self) -> io::Result<()> {
        if self.halted.load(Ordering::Acquire) {
            return Err(power_lost());
        }
        Ok(())
    }

    /// Counts one operation; true if the power goes now.
    fn tick(&self) -> bool {
        let done = self.ops.fetch_add(1, Ordering::AcqRel) + 1;
        let at = self.crash_at.load(Ordering::Acquire);
        if at != 0 && done >= at {
            self.crash_at.store(0, Ordering::Release);
            self.halted.store(true, Ordering::Release);
            return true;
        }
        false
    }

    /// After a counted operation: crashes the disk if this was the chosen one.
    fn after_op(&self, disk: &std::sync::Weak<Mutex<SimState>>) {
        if self.tick()
            && let Some(disk) = disk.upgrade()
        {
            let mut rng = SplitMix64(self.seed.load(Ordering::Acquire));
            crash_state(&disk, &mut rng);
        }
    }
}

fn apply(content: &mut Vec<u8>, op: &PendingOp) {
    match op {
        PendingOp::Write { position, data } => {
            let start = usize::try_from(*position).expect("simulated files are small");
            let end = start + data.len();
            if content.len() < end {
                content.resize(end, 0);
            }
            content[start..end].copy_from_slice(data);
        }
        PendingOp::SetLen(len) => {
            content.resize(usize::try_from(*len).expect("simulated files are small"), 0)
        }
    }
}

impl MediumFile for SimFile {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        self.control.check()?;
        let state = lock(&self.state);
        let start = usize::try_from(position).unwrap_or(usize::MAX);
        if start >= state.current.len() {
            return Ok(0);
        }
        let count = buf.len().min(state.current.len() - start);
        buf[..count].copy_from_slice(&state.current[start..start + count]);
        Ok(count)
    }
    fn write_at(&self, buf: &[u8], position: u64) -> io::Result<()> {
        self.control.check()?;
        {
            let mut state = lock(&self.state);
            let op = PendingOp::Write {
                position,
                data: buf.to_vec(),
            };
            apply(&mut state.current, &op);
            state.pending.push(op);
        }
        self.control.after_op(&self.disk);
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        self.control.check()?;
        Ok(lock(&self.state).current.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.control.check()?;
        {
            let mut state = lock(&self.state);
            let op = PendingOp::SetLen(len);
            apply(&mut state.current, &op);
            state.pending.push(op);
        }
        self.control.after_op(&self.disk);
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        self.control.check()?;
        {
            let mut state = lock(&self.state);
            state.durable = state.current.clone();
            state.pending.clear();
        }
        self.control.after_op(&self.disk);
        Ok(())
    }
    fn allocate(&self, len: u64, how: Preallocate) -> io::Result<()> {
        if how == Preallocate::None || len <= self.len()? {
            return Ok(());
        }
        self.set_len(len)
    }
}

#[derive(Debug, Default)]
struct SimState {
    files: BTreeMap<PathBuf, Arc<SimFile>>,
    /// Files whose directory entry survives a crash.
    durable_names: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

/// The simulated disk. Cloning shares the same disk.
#[derive(Debug, Default, Clone)]
pub struct SimMedium {
    state: Arc<Mutex<SimState>>,
    control: Arc<SimControl>,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl SimMedium {
    pub fn new() -> SimMedium {
        SimMedium::default()
    }

    fn after_op(&self) {
        self.control.after_op(&Arc::downgrade(&self.state));
    }

    /// Simulates power loss: every file keeps its synced bytes plus a random
    /// subset of its unsynced writes, some torn; files whose directory entry
    /// was never synced vanish. Old handles no longer reach the new disk.
    pub fn crash(&self, rng: &mut SplitMix64) {
        crash_state(&self.state, rng);
    }

    /// Arms a power loss right after the `ops`-th counted operation from
    /// now (a write, `set_len`, sync, file creation, rename, removal or
    /// directory sync; JOURNAL.md section 11). The crash keeps a random
    /// subset of unsynced writes, some torn, chosen by `seed`, as
    /// [`SimMedium::crash`] does; every later operation fails until
    /// [`SimMedium::restart`]. `ops` = 0 disarms.
    pub fn crash_after(&self, ops: u64, seed: u64) {
        let control = &self.control;
        control.seed.store(seed, Ordering::Release);
        let at = if ops == 0 {
            0
        } else {
            control.ops.load(Ordering::Acquire) + ops
        };
        control.crash_at.store(at, Ordering::Release);
    }

    /// Whether an armed crash has happened (and the disk is down).
    pub fn crashed(&self) -> bool {
        self.control.halted.load(Ordering::Acquire)
    }

    /// Powers the disk back on after a crash; disarms any pending crash.
    pub fn restart(&self) {
        self.control.crash_at.store(0, Ordering::Release);
        self.control.halted.store(false, Ordering::Release);
    }

    /// Counted operations so far (to place a crash at each of them).
    pub fn ops(&self) -> u64 {
        self.control.ops.load(Ordering::Acquire)
    }
}

/// Power loss on a disk state (see [`SimMedium::crash`]).
fn crash_state(disk: &Arc<Mutex<SimState>>, rng: &mut SplitMix64) {
    {
        let mut state = lock(disk);
        let names: Vec<PathBuf> = state.durable_names.iter().cloned().collect();
        let mut files = BTreeMap::new();
        for name in names {
            let Some(file) = state.files.get(&name) else {
                continue;
            };
            let old = lock(&file.state);
            let mut content = old.durable.clone();
            for op in &old.pending {
                match (rng.below(4), op) {
                    (0, _) => {}
                    (1, PendingOp::Write { position, data }) if !data.is_empty() => {
                        let cut = rng.below(data.len() as u64) as usize;
                        let torn = PendingOp::Write {
                            position: *position,
                            data: data[..cut].to_vec(),
                        };
                        apply(&mut content, &torn);
                    }
                    _ => apply(&mut content, op),
                }
            }
            let new_file = SimFile {
                disk: Arc::downgrade(disk),
                control: file.control.clone(),
                ..SimFile::default()
            };
            {
                let mut new_state = lock(&new_file.state);
                new_state.durable = content.clone();
                new_state.current = content;
            }
            drop(old);
            files.insert(name, Arc::new(new_file));
        }
        state.files = files;
    }
}

impl SimMedium {
    /// Flips one bit of a file, in both its current and its synced content.
    pub fn flip_bit(&self, path: &Path, byte: u64, bit: u8) -> io::Result<()> {
        let state = lock(&self.state);
        let file = state.files.get(path).ok_or_else(|| not_found(path))?;
        let mut guard = lock(&file.state);
        let file_state = &mut *guard;
        let at = usize::try_from(byte).unwrap_or(usize::MAX);
        for content in [&mut file_state.current, &mut file_state.durable] {
            if let Some(value) = content.get_mut(at) {
                *value ^= 1 << (bit % 8);
            }
        }
        Ok(())
    }

    /// Every file on the disk with its current length.
    pub fn files(&self) -> Vec<(PathBuf, u64)> {
        let state = lock(&self.state);
        state
            .files
            .iter()
            .map(|(path, file)| (path.clone(), lock(&file.state).current.len() as u64))
            .collect()
    }

    /// The current content of a file (empty if there is none).
    pub fn open_for_test(&self, path: &Path) -> Vec<u8> {
        let state = lock(&self.state);
        state
            .files
            .get(path)
            .map(|file| lock(&file.state).current.clone())
            .unwrap_or_default()
    }

    /// Creates (or replaces) a file with `content`, synced and durable.
    pub fn put_file(&self, path: &Path, content: &[u8]) {
        let mut state = lock(&self.state);
        let file = SimFile {
            disk: Arc::downgrade(&self.state),
            control: self.control.clone(),
            ..SimFile::default()
        };
        {
            let mut file_state = lock(&file.state);
            file_state.current = content.to_vec();
            file_state.durable = content.to_vec();
        }
        state.files.insert(path.to_owned(), Arc::new(file));
        state.durable_names.insert(path.to_owned());
        state.dirs.insert(parent_of(path));
    }
}

impl Medium for SimMedium {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn MediumFile>> {
        self.control.check()?;
        let file = {
            let mut state = lock(&self.state);
            if let Some(file) = state.files.get(path) {
                return Ok(file.clone());
            }
            if !create {
                return Err(not_found(path));
            }
            if !state.dirs.contains(&parent_of(path)) {
                return Err(not_found(&parent_of(path)));
            }
            let file = Arc::new(SimFile {
                disk: Arc::downgrade(&self.state),
                control: self.control.clone(),
                ..SimFile::default()
            });
            state.files.insert(path.to_owned(), file.clone());
            file
        };
        self.after_op();
        Ok(file)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.control.check()?;
        lock(&self.state).dirs.insert(path.to_owned());
        Ok(())
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        self.control.check()?;
        let state = lock(&self.state);
        if !state.dirs.contains(path) {
            return Err(not_found(path));
        }
        let names = state.files.keys().filter(|name| parent_of(name) == path);
        Ok(names
            .filter_map(|name| name.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        // Removal is taken as durable at once: a lenient simplification that
        // the log does not rely on (it syncs the directory after removing).
        self.control.check()?;
        {
            let mut state = lock(&self.state);
            state.files.remove(path);
            state.durable_names.remove(path);
        }
        self.after_op();
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.control.check()?;
        {
            let mut state = lock(&self.state);
            let file = state.files.remove(from).ok_or_else(|| not_found(from))?;
            let was_durable = state.durable_names.remove(from);
            state.files.insert(to.to_owned(), file);
            // The new name is durable only after a directory sync; until then a
            // crash keeps the old target, modelled as: the target keeps its status.
            if was_durable {
                state.durable_names.insert(to.to_owned());
            }
        }
        self.after_op();
        Ok(())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.control.check()?;
        {
            let mut state = lock(&self.state);
            let names: Vec<PathBuf> = state
                .files
                .keys()
                .filter(|name| parent_of(name) == path)
                .cloned()
                .collect();
            state.durable_names.extend(names);
        }
        self.after_op();
        Ok(())
    }
}
