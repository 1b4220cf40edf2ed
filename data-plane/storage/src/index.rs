//! Sparse offset and time indexes of one segment (DESIGN.md section 2.2).
//! Held in memory; written whole with a CRC when the segment is sealed or the
//! log closes cleanly; rebuilt from batch headers whenever a file fails checks.

use crate::batch::BatchHeader;
use crate::types::{Offset, Timestamp};

const OFFSET_MAGIC: &[u8; 4] = b"FJOI";
const TIME_MAGIC: &[u8; 4] = b"FJTI";
const VERSION: u16 = 1;
const PREAMBLE_BYTES: usize = 16;
const FOOTER_BYTES: usize = 28;
const OFFSET_ENTRY_BYTES: usize = 8;
const TIME_ENTRY_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: Timestamp,
    pub relative_offset: u32,
    pub position: u32,
}

/// The indexes of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentIndex {
    base_offset: Offset,
    interval_bytes: u32,
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    bytes_since_entry: u32,
    /// Largest maxTimestamp of any batch in the segment (i64::MIN if empty).
    max_timestamp: Timestamp,
}

impl SegmentIndex {
    pub(crate) fn new(base_offset: Offset, interval_bytes: u32) -> SegmentIndex {
        assert!(base_offset.0 >= 0);
        assert!(interval_bytes > 0);
        SegmentIndex {
            base_offset,
            interval_bytes,
            offsets: Vec::new(),
            times: Vec::new(),
            bytes_since_entry: 0,
            max_timestamp: Timestamp(i64::MIN),
        }
    }

    pub(crate) fn interval_bytes(&self) -> u32 {
        self.interval_bytes
    }

    pub(crate) fn max_timestamp(&self) -> Timestamp {
        self.max_timestamp
    }

    pub(crate) fn last_offset_entry(&self) -> Option<OffsetEntry> {
        self.offsets.last().copied()
    }

    /// Records a batch appended (or found by a scan) at `position`.
    pub(crate) fn observe(&mut self, header: &BatchHeader, position: u32) {
        let relative = header.base_offset.0 - self.base_offset.0;
        assert!(relative >= 0, "a batch below its segment base");
        let relative_offset = u32::try_from(relative).expect("segment rolls before u32 overflow");
        if let Some(last) = self.offsets.last() {
            assert!(relative_offset > last.relative_offset);
            assert!(position > last.position);
        }
        if self.offsets.is_empty() || self.bytes_since_entry >= self.interval_bytes {
            self.offsets.push(OffsetEntry {
                relative_offset,
                position,
            });
            if header.max_timestamp > self.max_timestamp {
                self.times.push(TimeEntry {
                    timestamp: header.max_timestamp,
                    relative_offset,
                    position,
                });
            }
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry = self.bytes_since_entry.saturating_add(header.size);
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
    }

    /// Where to start looking for `target`: the greatest indexed batch at or
    /// below it, else the segment start.
    pub(crate) fn lookup_offset(&self, target: Offset) -> (Offset, u32) {
        assert!(target >= self.base_offset);
        let relative = u32::try_from(target.0 - self.base_offset.0).unwrap_or(u32::MAX);
        let after = self
            .offsets
            .partition_point(|e| e.relative_offset <= relative);
        match after.checked_sub(1).map(|index| self.offsets[index]) {
            Some(entry) => (
                self.base_offset.plus(i64::from(entry.relative_offset)),
                entry.position,
            ),
            None => (self.base_offset, 0),
        }
    }

    /// Where to start looking for the first batch with maxTimestamp >= `target`:
    /// every batch before the returned position has a smaller maxTimestamp.
    pub(crate) fn lookup_time(&self, target: Timestamp) -> (Offset, u32) {
        let after = self.times.partition_point(|e| e.timestamp < target);
        match after.checked_sub(1).map(|index| self.times[index]) {
            Some(entry) => (
                self.base_offset.plus(i64::from(entry.relative_offset)),
                entry.position,
            ),
            None => (self.base_offset, 0),
        }
    }

    /// Encodes the offset index file, describing a segment of `segment_bytes`.
    pub(crate) fn encode_offsets(&self, segment_bytes: u64) -> Vec<u8> {
        let mut out = self.preamble(OFFSET_MAGIC, OFFSET_ENTRY_BYTES);
        for entry in &self.offsets {
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
            out.extend_from_slice(&entry.position.to_be_bytes());
        }
        self.finish(out, segment_bytes, self.offsets.len())
    }

    /// Encodes the time index file, describing a segment of `segment_bytes`.
    pub(crate) fn encode_times(&self, segment_bytes: u64) -> Vec<u8> {
        let mut out = self.preamble(TIME_MAGIC, TIME_ENTRY_BYTES);
        for entry in &self.times {
            out.extend_from_slice(&entry.timestamp.0.to_be_bytes());
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
            out.extend_from_slice(&entry.position.to_be_bytes());
        }
        self.finish(out, segment_bytes, self.times.len())
    }

    fn preamble(&self, magic: &[u8; 4], entry_bytes: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREAMBLE_BYTES + FOOTER_BYTES);
        out.extend_from_slice(magic);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&(entry_bytes as u16).to_be_bytes());
        out.extend_from_slice(&self.base_offset.0.to_be_bytes());
        out
    }

    fn finish(&self, mut out: Vec<u8>, segment_bytes: u64, count: usize) -> Vec<u8> {
        out.extend_from_slice(&segment_bytes.to_be_bytes());
        out.extend_from_slice(&self.max_timestamp.0.to_be_bytes());
        out.extend_from_slice(&self.bytes_since_entry.to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(count)
                .expect("bounded by segment size")
                .to_be_bytes(),
        );
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes both index files of a segment of `segment_bytes` bytes, or
    /// `None` if either fails any check (the caller then rebuilds).
    pub(crate) fn decode(
        base_offset: Offset,
        interval_bytes: u32,
        offset_file: &[u8],
        time_file: &[u8],
        segment_bytes: u64,
    ) -> Option<SegmentIndex> {
        let offset_body = check_file(offset_file, OFFSET_MAGIC, OFFSET_ENTRY_BYTES, base_offset)?;
        let time_body = check_file(time_file, TIME_MAGIC, TIME_ENTRY_BYTES, base_offset)?;
        if offset_body.segment_bytes != segment_bytes || time_body.segment_bytes != segment_bytes {
            return None;
        }
        let offsets: Vec<OffsetEntry> = offset_body
            .entries
            .chunks_exact(OFFSET_ENTRY_BYTES)
            .map(|e| OffsetEntry {
                relative_offset: be_u32(&e[0..4]),
                position: be_u32(&e[4..8]),
            })
            .collect();
        let times: Vec<TimeEntry> = time_body
            .entries
            .chunks_exact(TIME_ENTRY_BYTES)
            .map(|e| TimeEntry {
                timestamp: Timestamp(be_i64(&e[0..8])),
                relative_offset: be_u32(&e[8..12]),
                position: be_u32(&e[12..16]),
            })
            .collect();
        let increasing = offsets
            .windows(2)
            .all(|w| w[0].relative_offset < w[1].relative_offset && w[0].position < w[1].position)
            && times
                .windows(2)
                .all(|w| w[0].timestamp < w[1].timestamp && w[0].position < w[1].position);
        let inside = offsets
            .iter()
            .all(|e| u64::from(e.position) < segment_bytes)
            && times.iter().all(|e| u64::from(e.position) < segment_bytes);
        let first_at_zero = offsets
            .first()
            .is_none_or(|e| e.position == 0 && e.relative_offset == 0);
        if !increasing || !inside || !first_at_zero || (offsets.is_empty() && segment_bytes > 0) {
            return None;
        }
        Some(SegmentIndex {
            base_offset,
            interval_bytes,
            offsets,
            times,
            bytes_since_entry: offset_body.bytes_since_entry,
            max_timestamp: offset_body.max_timestamp,
        })
    }
}

struct FileBody<'a> {
    entries: &'a [u8],
    segment_bytes: u64,
    max_timestamp: Timestamp,
    bytes_since_entry: u32,
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().expect("4 bytes"))
}

fn be_i64(bytes: &[u8]) -> i64 {
    i64::from_be_bytes(bytes.try_into().expect("8 bytes"))
}

fn check_file<'a>(
    file: &'a [u8],
    magic: &[u8; 4],
    entry_bytes: usize,
    base_offset: Offset,
) -> Option<FileBody<'a>> {
    if file.len() < PREAMBLE_BYTES + FOOTER_BYTES || &file[0..4] != magic {
        return None;
    }
    let crc_at = file.len() - 4;
    if crc32c::crc32c(&file[..crc_at]) != be_u32(&file[crc_at..]) {
        return None;
    }
    let version = u16::from_be_bytes([file[4], file[5]]);
    let size = u16::from_be_bytes([file[6], file[7]]) as usize;
    if version != VERSION || size != entry_bytes || be_i64(&file[8..16]) != base_offset.0 {
        return None;
    }
    let footer = &file[file.len() - FOOTER_BYTES..];
    let count = be_u32(&footer[20..24]) as usize;
    let entries = &file[PREAMBLE_BYTES..file.len() - FOOTER_BYTES];
    if entries.len() != count.checked_mul(entry_bytes)? {
        return None;
    }
    Some(FileBody {
        entries,
        segment_bytes: u64::from_be_bytes(footer[0..8].try_into().ok()?),
        max_timestamp: Timestamp(be_i64(&footer[8..16])),
        bytes_since_entry: be_u32(&footer[16..20]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{build_batch, parse_header, stamp};
    use crate::types::LeaderEpoch;

    fn sample() -> (SegmentIndex, u64) {
        let mut index = SegmentIndex::new(Offset(100), 256);
        let mut position = 0u32;
        for n in 0..20i64 {
            let mut batch = build_batch(2, Timestamp(1000 + n * 10), 200, 0);
            stamp(&mut batch, Offset(100 + 2 * n), LeaderEpoch(0));
            let header = parse_header(&batch).expect("valid");
            index.observe(&header, position);
            position += header.size;
        }
        (index, u64::from(position))
    }

    #[test]
    fn index_files_round_trip() {
        let (index, bytes) = sample();
        let decoded = SegmentIndex::decode(
            Offset(100),
            256,
            &index.encode_offsets(bytes),
            &index.encode_times(bytes),
            bytes,
        );
        assert_eq!(decoded, Some(index));
    }

    #[test]
    fn any_flipped_bit_makes_an_index_file_rejected() {
        let (index, bytes) = sample();
        let offsets = index.encode_offsets(bytes);
        let times = index.encode_times(bytes);
        for byte in 0..offsets.len() {
            let mut bad = offsets.clone();
            bad[byte] ^= 0x04;
            assert!(SegmentIndex::decode(Offset(100), 256, &bad, &times, bytes).is_none());
        }
    }

    #[test]
    fn lookups_start_at_or_before_the_target() {
        let (index, _) = sample();
        let (offset, _) = index.lookup_offset(Offset(117));
        assert!(offset <= Offset(117));
        assert!(offset >= Offset(110));
        let (offset, _) = index.lookup_time(Timestamp(1095));
        assert!(offset <= Offset(118));
    }
}
