//! One segment: a `.log` file of batches plus its in-memory indexes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{BatchHeader, HEADER_BYTES, HeaderProblem, parse_header, verify_crc};
use crate::epochs::EpochHistory;
use crate::error::{Error, Result, io_error};
use crate::file_cache::FileCache;
use crate::index::SegmentIndex;
use crate::medium::{MediumFile, Preallocate};
use crate::types::{Offset, Timestamp};

/// The limits of one read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadWindow {
    pub max_bytes: usize,
    /// Batches whose last offset is at or above this are not returned.
    pub upper_bound: Offset,
    pub verify: bool,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: Offset,
    pub next_offset: Offset,
    /// Bytes of data (the file may be longer when preallocated).
    pub size: u64,
    pub index: SegmentIndex,
    pub path: PathBuf,
    /// When the segment was created or opened, for roll by age.
    pub created_at: Timestamp,
}

pub(crate) fn segment_name(base: Offset, extension: &str) -> String {
    format!("{:020}.{extension}", base.0)
}

impl Segment {
    pub(crate) fn index_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.path.with_extension("index"),
            self.path.with_extension("timeindex"),
        )
    }

    /// Creates an empty segment file (the caller syncs the directory).
    pub(crate) fn create(
        cache: &FileCache,
        directory: &Path,
        base: Offset,
        index_interval_bytes: u32,
        preallocate: (Preallocate, u64),
        now: Timestamp,
    ) -> Result<Segment> {
        let path = directory.join(segment_name(base, "log"));
        let file = cache.get(&path, true)?;
        // A leftover file of that name holds nothing we want. Only truncate
        // when there is something to cut: on ext4, truncating to zero arms
        // auto_da_alloc, which starts writeback when the file is closed.
        if file.len().map_err(io_error(&path))? > 0 {
            file.set_len(0).map_err(io_error(&path))?;
        }
        file.allocate(preallocate.1, preallocate.0)
            .map_err(io_error(&path))?;
        Ok(Segment {
            base_offset: base,
            next_offset: base,
            size: 0,
            index: SegmentIndex::new(base, index_interval_bytes),
            path,
            created_at: now,
        })
    }

    pub(crate) fn index_interval(&self) -> u32 {
        self.index.interval_bytes()
    }

    pub(crate) fn file(&self, cache: &FileCache) -> Result<Arc<dyn MediumFile>> {
        cache.get(&self.path, false)
    }

    /// Writes validated, stamped batches at the end of the segment.
    pub(crate) fn append(
        &mut self,
        cache: &FileCache,
        bytes: &[u8],
        headers: &[BatchHeader],
    ) -> Result<Arc<dyn MediumFile>> {
        assert!(!headers.is_empty());
        assert_eq!(
            headers[0].base_offset, self.next_offset,
            "appends are contiguous"
        );
        let file = self.file(cache)?;
        file.write_at(bytes, self.size)
            .map_err(io_error(&self.path))?;
        let mut position = self.size;
        for header in headers {
            assert_eq!(header.base_offset, self.next_offset);
            let position32 = u32::try_from(position).expect("segment_bytes keeps positions in u32");
            self.index.observe(header, position32);
            position += u64::from(header.size);
            self.next_offset = header.next_offset();
        }
        assert_eq!(position, self.size + bytes.len() as u64);
        self.size = position;
        Ok(file)
    }

    fn corrupt(&self, position: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            position,
            reason: reason.into(),
        }
    }

    /// The header at `position`, which must be a valid batch start.
    fn header_at(&self, file: &dyn MediumFile, position: u64) -> Result<BatchHeader> {
        if position + HEADER_BYTES as u64 > self.size {
            return Err(self.corrupt(position, "header past the end of the data"));
        }
        let mut bytes = [0u8; HEADER_BYTES];
        file.read_exact_at(&mut bytes, position)
            .map_err(io_error(&self.path))?;
        match parse_header(&bytes) {
            Ok(header) if position + u64::from(header.size) <= self.size => Ok(header),
            Ok(_) => Err(self.corrupt(position, "batch runs past the end of the data")),
            Err(HeaderProblem::End) => Err(self.corrupt(position, "zeros where a batch should be")),
            Err(HeaderProblem::Invalid(reason)) => Err(self.corrupt(position, reason)),
        }
    }

    /// The position and header of the batch holding `target`
    /// (`base_offset <= target < next_offset`).
    fn locate(&self, file: &dyn MediumFile, target: Offset) -> Result<(u64, BatchHeader)> {
        assert!(target >= self.base_offset && target < self.next_offset);
        let (mut expected, position) = self.index.lookup_offset(target);
        let mut position = u64::from(position);
        // Bounded: each round moves forward by one batch inside the segment.
        while position < self.size {
            let header = self.header_at(file, position)?;
            if header.base_offset != expected {
                return Err(self.corrupt(position, "batch offset does not match the index"));
            }
            if header.next_offset() > target {
                return Ok((position, header));
            }
            expected = header.next_offset();
            position += u64::from(header.size);
        }
        Err(self.corrupt(
            position,
            format!("offset {target} not found in its segment"),
        ))
    }

    /// Appends to `out` whole batches starting with the one holding `start`.
    /// Returns the offset after the last batch appended.
    pub(crate) fn read(
        &self,
        cache: &FileCache,
        start: Offset,
        window: &ReadWindow,
        epochs: &EpochHistory,
        out: &mut Vec<u8>,
    ) -> Result<Offset> {
        let file = self.file(cache)?;
        let (position, first) = self.locate(file.as_ref(), start)?;
        if first.next_offset() > self.next_offset {
            return Err(self.corrupt(position, "batch runs past the segment's offsets"));
        }
        if first.last_offset() >= window.upper_bound {
            return Ok(start);
        }
        let budget = if out.is_empty() {
            window.max_bytes.max(first.size as usize)
        } else {
            window.max_bytes.saturating_sub(out.len())
        };
        let length = (budget as u64).min(self.size - position) as usize;
        let chunk_start = out.len();
        out.resize(chunk_start + length, 0);
        let read = file.read_exact_at(&mut out[chunk_start..], position);
        read.map_err(io_error(&self.path))?;
        let mut cursor = chunk_start;
        let mut expected = first.base_offset;
        // Bounded: each round consumes one whole batch of the chunk.
        while cursor + HEADER_BYTES <= out.len() {
            let at = position + (cursor - chunk_start) as u64;
            let header = match parse_header(&out[cursor..]) {
                Ok(header) => header,
                Err(_) => return Err(self.corrupt(at, "invalid batch header")),
            };
            let end = cursor + header.size as usize;
            if end > out.len() {
                break;
            }
            // Check before the bound: a corrupt offset delta must not pass
            // for "above the high watermark".
            self.check_batch(
                &header,
                &out[cursor..end],
                expected,
                epochs,
                window.verify,
                at,
            )?;
            if header.next_offset() > self.next_offset {
                return Err(self.corrupt(at, "batch runs past the segment's offsets"));
            }
            if header.last_offset() >= window.upper_bound {
                break;
            }
            expected = header.next_offset();
            cursor = end;
        }
        out.truncate(cursor);
        assert!(cursor > chunk_start || expected == first.base_offset);
        Ok(expected)
    }

    fn check_batch(
        &self,
        header: &BatchHeader,
        bytes: &[u8],
        expected: Offset,
        epochs: &EpochHistory,
        verify: bool,
        at: u64,
    ) -> Result<()> {
        if header.base_offset != expected {
            return Err(self.corrupt(at, "batch offsets are not contiguous"));
        }
        if verify && !verify_crc(header, bytes) {
            return Err(self.corrupt(at, "crc mismatch"));
        }
        if verify && epochs.epoch_at(header.base_offset) != Some(header.leader_epoch) {
            return Err(self.corrupt(at, "leader epoch does not match the epoch history"));
        }
        Ok(())
    }

    /// The base offset of the first batch whose max timestamp is >= `target`.
    /// Batches ending at or below `min_offset` are skipped.
    pub(crate) fn find_time(
        &self,
        cache: &FileCache,
        target: Timestamp,
        min_offset: Offset,
    ) -> Result<Option<Offset>> {
        if self.size == 0 || self.index.max_timestamp() < target {
            return Ok(None);
        }
        let file = self.file(cache)?;
        let (mut expected, position) = self.index.lookup_time(target);
        let mut position = u64::from(position);
        // Bounded: each round moves forward by one batch inside the segment.
        while position < self.size {
            let header = self.header_at(file.as_ref(), position)?;
            if header.base_offset != expected {
                return Err(self.corrupt(position, "batch offset does not match the index"));
            }
            if header.max_timestamp >= target && header.next_offset() > min_offset {
                return Ok(Some(header.base_offset.max(min_offset)));
            }
            expected = header.next_offset();
            position += u64::from(header.size);
        }
        Ok(None)
    }

    /// The byte position of the batch starting at `offset`, or of the batch
    /// holding it (then the batch is cut too).
    pub(crate) fn position_of(&self, cache: &FileCache, offset: Offset) -> Result<(u64, Offset)> {
        if offset >= self.next_offset {
            return Ok((self.size, self.next_offset));
        }
        let file = self.file(cache)?;
        let (position, header) = self.locate(file.as_ref(), offset)?;
        Ok((position, header.base_offset))
    }

    /// Trims preallocated space, syncs the data and writes the index files.
    pub(crate) fn seal(&mut self, cache: &FileCache) -> Result<()> {
        let file = self.file(cache)?;
        file.set_len(self.size).map_err(io_error(&self.path))?;
        file.sync_data().map_err(io_error(&self.path))?;
        self.write_indexes(cache)
    }

    pub(crate) fn write_indexes(&self, cache: &FileCache) -> Result<()> {
        let (offset_path, time_path) = self.index_paths();
        let contents = [
            (offset_path, self.index.encode_offsets(self.size)),
            (time_path, self.index.encode_times(self.size)),
        ];
        for (path, bytes) in contents {
            let file = cache.get(&path, true)?;
            // A leftover file of that name holds nothing we want. Only truncate
            // when there is something to cut: on ext4, truncating to zero arms
            // auto_da_alloc, which starts writeback when the file is closed.
            if file.len().map_err(io_error(&path))? > 0 {
                file.set_len(0).map_err(io_error(&path))?;
            }
            file.write_at(&bytes, 0).map_err(io_error(&path))?;
            file.sync_data().map_err(io_error(&path))?;
        }
        Ok(())
    }

    /// Removes the segment's files (the caller syncs the directory).
    pub(crate) fn delete(&self, cache: &FileCache) -> Result<()> {
        let (offset_path, time_path) = self.index_paths();
        for path in [&self.path, &offset_path, &time_path] {
            cache.forget(path);
            cache.medium().remove(path).map_err(io_error(path))?;
        }
        Ok(())
    }
}
