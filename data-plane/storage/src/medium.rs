//! The file layer: a trait over the few file operations the log needs, so a
//! simulator can stand in for the disk (see `sim.rs` and DESIGN.md section 1).

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a segment file is preallocated when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preallocate {
    /// The file grows with each write.
    None,
    /// `fallocate(2)` reserves the blocks (falls back to `set_len` where unsupported).
    Fallocate,
    /// `ftruncate(2)` extends the file sparsely.
    SetLen,
}

/// One open file. Positional I/O only, so a handle can be shared.
#[allow(clippy::len_without_is_empty)] // a file length, not a collection
pub trait MediumFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `position`; fewer only at end of file.
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `position`.
    fn write_at(&self, buf: &[u8], position: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync(2)`: data and the length survive a crash once this returns.
    fn sync_data(&self) -> io::Result<()>;
    /// Extends the file to `len` bytes of zeros with reserved blocks.
    fn allocate(&self, len: u64, how: Preallocate) -> io::Result<()>;

    /// Reads exactly `buf.len()` bytes or fails with `UnexpectedEof`.
    fn read_exact_at(&self, buf: &mut [u8], position: u64) -> io::Result<()> {
        let mut done = 0usize;
        // Bounded: each round reads at least one byte or returns.
        while done < buf.len() {
            let read = self.read_at(&mut buf[done..], position + done as u64)?;
            if read == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
            }
            done += read;
        }
        Ok(())
    }
}

/// A file system: where files are opened, listed and removed.
pub trait Medium: Send + Sync + Debug {
    /// Opens `path` for reading and writing, creating it if `create`.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn MediumFile>>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The names of the files directly in `path`.
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// `fsync(2)` of a directory: creations, removals and renames in it survive.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// The real file system through `std::fs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdMedium;

#[derive(Debug)]
struct StdFile {
    file: File,
}

impl MediumFile for StdFile {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        self.file.read_at(buf, position)
    }
    fn write_at(&self, buf: &[u8], position: u64) -> io::Result<()> {
        self.file.write_all_at(buf, position)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn allocate(&self, len: u64, how: Preallocate) -> io::Result<()> {
        let current = self.len()?;
        if len <= current {
            return Ok(());
        }
        match how {
            Preallocate::None => Ok(()),
            Preallocate::SetLen => self.file.set_len(len),
            Preallocate::Fallocate => {
                let flags = rustix::fs::FallocateFlags::empty();
                match rustix::fs::fallocate(&self.file, flags, current, len - current) {
                    Ok(()) => Ok(()),
                    // tmpfs and some others lack fallocate: a sparse file will do.
                    Err(_) => self.file.set_len(len),
                }
            }
        }
    }
}

impl Medium for StdMedium {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn MediumFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(StdFile { file }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

/// The parent directory of a file path (the path itself if it has none).
pub(crate) fn parent_of(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| path.to_owned())
}
