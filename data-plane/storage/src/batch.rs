//! Kafka RecordBatch v2 headers: parse, check, stamp. Records are never decoded.
//!
//! Layout (big endian): baseOffset i64 @0, batchLength i32 @8,
//! partitionLeaderEpoch i32 @12, magic i8 @16, crc u32 @17 (CRC-32C of bytes
//! 21..end), attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64 @27,
//! maxTimestamp i64 @35, producerId i64 @43, producerEpoch i16 @51,
//! baseSequence i32 @53, recordCount i32 @57, records @61.

use crate::types::{LeaderEpoch, Offset, Timestamp};

/// Bytes of the v2 header, records excluded.
pub const HEADER_BYTES: usize = 61;
/// Bytes before `batchLength` counts: baseOffset and batchLength themselves.
pub const LOG_OVERHEAD: usize = 12;
/// The first byte the CRC covers.
pub const CRC_START: usize = 21;
/// Largest batch we accept; Kafka's message.max.bytes is far below.
pub const BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The fields of a batch header this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: Offset,
    /// Whole batch size in bytes, header included.
    pub size: u32,
    pub leader_epoch: LeaderEpoch,
    pub crc: u32,
    pub last_offset_delta: i32,
    pub base_timestamp: Timestamp,
    pub max_timestamp: Timestamp,
    pub record_count: i32,
}

impl BatchHeader {
    /// The offset of the last record in the batch.
    pub fn last_offset(&self) -> Offset {
        self.base_offset.plus(i64::from(self.last_offset_delta))
    }

    /// The offset just after the batch.
    pub fn next_offset(&self) -> Offset {
        self.base_offset.plus(i64::from(self.last_offset_delta) + 1)
    }
}

/// Why a header is not a valid v2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Fewer than 61 bytes left, or an all-zero length: the end of the data.
    End,
    /// A header whose fields cannot be right.
    Invalid(String),
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    i64::from_be_bytes(field)
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    i32::from_be_bytes(field)
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(field)
}

/// Parses and sanity-checks the header at the start of `bytes` (which may hold
/// only the header). Does not check the CRC: see [`verify_crc`].
pub fn parse_header(bytes: &[u8]) -> Result<BatchHeader, HeaderProblem> {
    if bytes.len() < HEADER_BYTES {
        return Err(HeaderProblem::End);
    }
    // Only an all-zero header is the end of the data (preallocated space): a
    // single flipped bit in a real header must read as corruption, not as end.
    if bytes[..HEADER_BYTES].iter().all(|&byte| byte == 0) {
        return Err(HeaderProblem::End);
    }
    let batch_length = read_i32(bytes, 8);
    let invalid = |reason: String| Err(HeaderProblem::Invalid(reason));
    let size = i64::from(batch_length) + LOG_OVERHEAD as i64;
    if size < HEADER_BYTES as i64 || size > BATCH_BYTES_MAX as i64 {
        return invalid(format!("batch length {batch_length} out of range"));
    }
    let magic = bytes[16];
    if magic != 2 {
        return invalid(format!("magic {magic}, only v2 batches are supported"));
    }
    let base_offset = read_i64(bytes, 0);
    let last_offset_delta = read_i32(bytes, 23);
    let record_count = read_i32(bytes, 57);
    if base_offset < 0 {
        return invalid(format!("negative base offset {base_offset}"));
    }
    if last_offset_delta < 0 || record_count < 0 {
        return invalid(format!(
            "last offset delta {last_offset_delta}, record count {record_count}"
        ));
    }
    let header = BatchHeader {
        base_offset: Offset(base_offset),
        size: u32::try_from(size).expect("size was bounded by BATCH_BYTES_MAX"),
        leader_epoch: LeaderEpoch(read_i32(bytes, 12)),
        crc: read_u32(bytes, 17),
        last_offset_delta,
        base_timestamp: Timestamp(read_i64(bytes, 27)),
        max_timestamp: Timestamp(read_i64(bytes, 35)),
        record_count,
    };
    assert!(header.size as usize >= HEADER_BYTES);
    Ok(header)
}

/// Whether the CRC-32C stored in `batch` (one whole batch) matches its content.
pub fn verify_crc(header: &BatchHeader, batch: &[u8]) -> bool {
    assert_eq!(batch.len(), header.size as usize, "verify one whole batch");
    crc32c::crc32c(&batch[CRC_START..]) == header.crc
}

/// Rewrites the two fields outside the CRC: base offset and leader epoch.
pub fn stamp(batch: &mut [u8], base_offset: Offset, epoch: LeaderEpoch) {
    assert!(batch.len() >= HEADER_BYTES);
    assert!(base_offset.0 >= 0);
    batch[0..8].copy_from_slice(&base_offset.0.to_be_bytes());
    batch[12..16].copy_from_slice(&epoch.0.to_be_bytes());
}

/// Builds a valid v2 batch with `record_count` opaque records of
/// `payload_bytes` total (tests, benchmarks and the conformance suite). The
/// record bytes are filler, not encoded records: this crate never decodes them.
pub fn build_batch(
    record_count: i32,
    max_timestamp: Timestamp,
    payload_bytes: usize,
    fill: u8,
) -> Vec<u8> {
    assert!(record_count >= 1);
    assert!(HEADER_BYTES + payload_bytes <= BATCH_BYTES_MAX);
    let size = HEADER_BYTES + payload_bytes;
    let mut batch = vec![fill; size];
    let batch_length = i32::try_from(size - LOG_OVERHEAD).expect("bounded above");
    batch[0..8].copy_from_slice(&0i64.to_be_bytes());
    batch[8..12].copy_from_slice(&batch_length.to_be_bytes());
    batch[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    batch[16] = 2;
    batch[21..23].copy_from_slice(&0i16.to_be_bytes());
    batch[23..27].copy_from_slice(&(record_count - 1).to_be_bytes());
    batch[27..35].copy_from_slice(&max_timestamp.0.to_be_bytes());
    batch[35..43].copy_from_slice(&max_timestamp.0.to_be_bytes());
    batch[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    batch[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    batch[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    batch[57..61].copy_from_slice(&record_count.to_be_bytes());
    let crc = crc32c::crc32c(&batch[CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

/// Splits a buffer of concatenated batches, checking each header and CRC.
/// Returns the headers in order; the buffer must hold whole batches only.
pub fn split_batches(bytes: &[u8]) -> Result<Vec<BatchHeader>, String> {
    let mut headers = Vec::new();
    let mut position = 0usize;
    // Bounded: every iteration consumes at least HEADER_BYTES.
    while position < bytes.len() {
        let header = match parse_header(&bytes[position..]) {
            Ok(header) => header,
            Err(HeaderProblem::End) => return Err(format!("truncated batch at byte {position}")),
            Err(HeaderProblem::Invalid(reason)) => return Err(reason),
        };
        let end = position + header.size as usize;
        if end > bytes.len() {
            return Err(format!("batch at byte {position} runs past the buffer"));
        }
        if !verify_crc(&header, &bytes[position..end]) {
            return Err(format!("crc mismatch in batch at byte {position}"));
        }
        headers.push(header);
        position = end;
    }
    assert_eq!(position, bytes.len());
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_batch_parses_and_verifies() {
        let batch = build_batch(3, Timestamp(42), 100, 7);
        let header = parse_header(&batch).expect("valid");
        assert_eq!(header.size as usize, batch.len());
        assert_eq!(header.record_count, 3);
        assert_eq!(header.last_offset_delta, 2);
        assert_eq!(header.max_timestamp, Timestamp(42));
        assert!(verify_crc(&header, &batch));
    }

    #[test]
    fn stamping_offset_and_epoch_keeps_the_crc_valid() {
        let mut batch = build_batch(1, Timestamp(1), 10, 1);
        stamp(&mut batch, Offset(1234), LeaderEpoch(9));
        let header = parse_header(&batch).expect("valid");
        assert_eq!(header.base_offset, Offset(1234));
        assert_eq!(header.leader_epoch, LeaderEpoch(9));
        assert!(verify_crc(&header, &batch));
    }

    #[test]
    fn a_flipped_record_bit_fails_the_crc() {
        let mut batch = build_batch(1, Timestamp(1), 10, 1);
        batch[65] ^= 0x10;
        assert!(split_batches(&batch).is_err());
    }

    #[test]
    fn zeros_read_as_the_end_of_data() {
        assert_eq!(parse_header(&[0u8; 100]), Err(HeaderProblem::End));
    }
}
