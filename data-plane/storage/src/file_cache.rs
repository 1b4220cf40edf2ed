//! A bounded cache of open files, so thousands of partitions with many
//! segments each never exhaust file descriptors (DESIGN.md section 7).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Result, io_error};
use crate::medium::{Medium, MediumFile};
use crate::sim::lock;

#[derive(Debug, Default)]
struct CacheState {
    /// path → (handle, last use tick)
    open: HashMap<PathBuf, (Arc<dyn MediumFile>, u64)>,
    /// last use tick → path, to find the least recently used in O(log n).
    by_use: BTreeMap<u64, PathBuf>,
    tick: u64,
    opens: u64,
}

/// Least-recently-used cache of open files over a [`Medium`].
#[derive(Debug)]
pub struct FileCache {
    medium: Arc<dyn Medium>,
    capacity: usize,
    state: Mutex<CacheState>,
}

impl FileCache {
    pub fn new(medium: Arc<dyn Medium>, capacity: usize) -> FileCache {
        assert!(capacity >= 1, "the cache must hold at least one file");
        FileCache {
            medium,
            capacity,
            state: Mutex::new(CacheState::default()),
        }
    }

    pub fn medium(&self) -> &Arc<dyn Medium> {
        &self.medium
    }

    /// The open handle of `path`, opening (and creating if `create`) it if needed.
    /// A handle evicted while in use stays valid; it closes when dropped.
    pub fn get(&self, path: &Path, create: bool) -> Result<Arc<dyn MediumFile>> {
        let mut state = lock(&self.state);
        state.tick += 1;
        let tick = state.tick;
        if let Some((file, last_use)) = state.open.get_mut(path) {
            let file = file.clone();
            let previous = std::mem::replace(last_use, tick);
            state.by_use.remove(&previous);
            state.by_use.insert(tick, path.to_owned());
            return Ok(file);
        }
        let file = self.medium.open(path, create).map_err(io_error(path))?;
        state.opens += 1;
        // Bounded: evicts at most the number of entries above capacity.
        while state.open.len() >= self.capacity {
            let Some((_, oldest)) = state.by_use.pop_first() else {
                break;
            };
            state.open.remove(&oldest);
        }
        state.open.insert(path.to_owned(), (file.clone(), tick));
        state.by_use.insert(tick, path.to_owned());
        assert!(state.open.len() <= self.capacity);
        assert_eq!(state.open.len(), state.by_use.len());
        Ok(file)
    }

    /// Forgets `path` (before it is removed or renamed).
    pub fn forget(&self, path: &Path) {
        let mut state = lock(&self.state);
        if let Some((_, last_use)) = state.open.remove(path) {
            state.by_use.remove(&last_use);
        }
    }

    /// How many files are open now, and how many opens happened in total.
    pub fn stats(&self) -> (usize, u64) {
        let state = lock(&self.state);
        (state.open.len(), state.opens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimMedium;

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let medium = SimMedium::new();
        medium.create_dir_all(Path::new("/d")).expect("dir");
        let cache = FileCache::new(Arc::new(medium), 3);
        for round in 0..3 {
            for index in 0..10 {
                let path = PathBuf::from(format!("/d/{index}"));
                let file = cache.get(&path, true).expect("open");
                file.write_at(&[round], 0).expect("write");
                assert!(cache.stats().0 <= 3);
            }
        }
        let file = cache.get(Path::new("/d/4"), false).expect("reopen");
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, 0).expect("read");
        assert_eq!(byte[0], 2);
    }
}
