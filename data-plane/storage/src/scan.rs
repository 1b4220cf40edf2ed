//! Sequential scan of a segment file: the recovery and index-rebuild path.
//! Checks every header, optionally every CRC, offset contiguity and epochs,
//! and stops at the first batch that fails (DESIGN.md section 5).

use crate::batch::{BatchHeader, HeaderProblem, parse_header, verify_crc};
use crate::error::Result;
use crate::index::SegmentIndex;
use crate::medium::MediumFile;
use crate::types::Offset;

const SCAN_BUFFER_BYTES: usize = 1024 * 1024;

/// What a scan found.
#[derive(Debug)]
pub(crate) struct ScanResult {
    /// Bytes of valid, contiguous batches from the segment start.
    pub valid_bytes: u64,
    /// The offset after the last valid batch.
    pub next_offset: Offset,
    pub index: SegmentIndex,
    pub first_timestamp: Option<crate::types::Timestamp>,
    /// Why the scan stopped before the end of the file, if it did for a reason
    /// other than zeros (preallocated space).
    pub problem: Option<String>,
}

/// How a scan judges each batch.
pub(crate) struct ScanRules<'a> {
    pub verify_crc: bool,
    pub index_interval_bytes: u32,
    /// Whether the batch's leader epoch is acceptable (may also record it).
    pub epoch_check: &'a mut dyn FnMut(&BatchHeader) -> bool,
}

impl std::fmt::Debug for ScanRules<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanRules")
            .field("verify_crc", &self.verify_crc)
            .finish()
    }
}

/// Scans `file` (holding `file_len` bytes) as a segment starting at `base`.
pub(crate) fn scan(
    file: &dyn MediumFile,
    base: Offset,
    file_len: u64,
    rules: &mut ScanRules<'_>,
) -> Result<ScanResult, std::io::Error> {
    let mut result = ScanResult {
        valid_bytes: 0,
        next_offset: base,
        index: SegmentIndex::new(base, rules.index_interval_bytes),
        first_timestamp: None,
        problem: None,
    };
    let mut buffer: Vec<u8> = Vec::new();
    let mut buffer_start = 0u64;
    // Bounded: every round either accepts a batch (advancing valid_bytes) or
    // refills the buffer at valid_bytes with room for the next batch, or stops.
    loop {
        let position = result.valid_bytes;
        let remaining = file_len - position;
        if remaining < crate::batch::HEADER_BYTES as u64 {
            return finish_short_tail(file, position, remaining, result);
        }
        let offset_in_buffer = (position - buffer_start) as usize;
        let header = if offset_in_buffer + crate::batch::HEADER_BYTES <= buffer.len() {
            parse_header(&buffer[offset_in_buffer..])
        } else {
            refill(
                file,
                &mut buffer,
                &mut buffer_start,
                position,
                remaining,
                SCAN_BUFFER_BYTES,
            )?;
            continue;
        };
        let header = match header {
            Ok(header) => header,
            Err(HeaderProblem::End) => return Ok(result),
            Err(HeaderProblem::Invalid(reason)) => {
                result.problem = Some(reason);
                return Ok(result);
            }
        };
        let size = u64::from(header.size);
        if size > remaining {
            result.problem = Some(format!("batch of {size} bytes torn at the end of the file"));
            return Ok(result);
        }
        if offset_in_buffer + header.size as usize > buffer.len() {
            let want = SCAN_BUFFER_BYTES.max(header.size as usize);
            refill(
                file,
                &mut buffer,
                &mut buffer_start,
                position,
                remaining,
                want,
            )?;
            continue;
        }
        let bytes = &buffer[offset_in_buffer..offset_in_buffer + header.size as usize];
        if let Some(problem) = judge(&header, bytes, result.next_offset, rules) {
            result.problem = Some(problem);
            return Ok(result);
        }
        let position32 = u32::try_from(position).expect("segments stay below 4 GiB");
        result.index.observe(&header, position32);
        result.first_timestamp.get_or_insert(header.max_timestamp);
        result.next_offset = header.next_offset();
        result.valid_bytes += size;
    }
}

/// The data ends with fewer bytes than a header: fine if they are zeros.
fn finish_short_tail(
    file: &dyn MediumFile,
    position: u64,
    remaining: u64,
    mut result: ScanResult,
) -> Result<ScanResult, std::io::Error> {
    if remaining > 0 && !all_zero_tail(file, position, remaining)? {
        result.problem = Some(format!("{remaining} trailing bytes, too few for a header"));
    }
    Ok(result)
}

fn judge(
    header: &BatchHeader,
    bytes: &[u8],
    expected_offset: Offset,
    rules: &mut ScanRules<'_>,
) -> Option<String> {
    if header.base_offset != expected_offset {
        return Some(format!(
            "batch base offset {} where {} was expected",
            header.base_offset, expected_offset
        ));
    }
    if rules.verify_crc && !verify_crc(header, bytes) {
        return Some(format!(
            "crc mismatch in batch at offset {}",
            header.base_offset
        ));
    }
    if !(rules.epoch_check)(header) {
        return Some(format!(
            "batch at offset {} has leader epoch {}, not the one the epoch history assigns",
            header.base_offset, header.leader_epoch
        ));
    }
    None
}

fn refill(
    file: &dyn MediumFile,
    buffer: &mut Vec<u8>,
    buffer_start: &mut u64,
    position: u64,
    remaining: u64,
    want: usize,
) -> Result<(), std::io::Error> {
    let length = want.min(usize::try_from(remaining).unwrap_or(usize::MAX));
    assert!(
        length >= crate::batch::HEADER_BYTES,
        "refill must make progress possible"
    );
    buffer.resize(length, 0);
    file.read_exact_at(buffer, position)?;
    *buffer_start = position;
    Ok(())
}

fn all_zero_tail(
    file: &dyn MediumFile,
    position: u64,
    remaining: u64,
) -> Result<bool, std::io::Error> {
    let mut tail = vec![0u8; remaining as usize];
    file.read_exact_at(&mut tail, position)?;
    Ok(tail.iter().all(|&byte| byte == 0))
}
