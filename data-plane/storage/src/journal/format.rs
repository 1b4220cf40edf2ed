//! The journal's bytes (JOURNAL.md section 2): file header, record framing,
//! padding. Pure functions; everything read back is checked and a bad byte
//! is a `Err(reason)`, never a panic.

/// Bytes of a journal file header; the first record starts after it.
pub(crate) const FILE_HEADER_BYTES: u64 = 4096;
/// Passes start and end on this boundary (J6).
pub(crate) const PAGE: u64 = 4096;
/// Bytes of every record header.
pub(crate) const RECORD_HEADER: usize = 32;
/// Bytes of an Append record's fixed payload fields, before the data.
pub(crate) const APPEND_FIELDS: usize = 24;
const MAGIC: &[u8; 4] = b"FJJN";
const VERSION: u16 = 1;

/// Record kinds (JOURNAL.md section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pass = 1,
    Pad = 2,
    Append = 3,
    AppendIndirect = 4,
    Truncate = 5,
    Reset = 6,
    Checkpoint = 7,
}

impl Kind {
    fn from_u8(value: u8) -> Option<Kind> {
        Some(match value {
            1 => Kind::Pass,
            2 => Kind::Pad,
            3 => Kind::Append,
            4 => Kind::AppendIndirect,
            5 => Kind::Truncate,
            6 => Kind::Reset,
            7 => Kind::Checkpoint,
            _ => return None,
        })
    }
}

/// The checked fields of a journal file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileHeader {
    pub start: u64,
    pub size: u64,
    pub salt: u64,
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(field)
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(field)
}

impl FileHeader {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; FILE_HEADER_BYTES as usize];
        out[0..4].copy_from_slice(MAGIC);
        out[4..6].copy_from_slice(&VERSION.to_be_bytes());
        out[8..16].copy_from_slice(&self.start.to_be_bytes());
        out[16..24].copy_from_slice(&self.size.to_be_bytes());
        out[24..28].copy_from_slice(&(PAGE as u32).to_be_bytes());
        out[28..36].copy_from_slice(&self.salt.to_be_bytes());
        let crc = crc32c::crc32c(&out[..4092]);
        out[4092..4096].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Checks a header read from a file named `start` that is `len` bytes long.
    pub(crate) fn decode(bytes: &[u8], start: u64, len: u64) -> Result<FileHeader, String> {
        if bytes.len() < FILE_HEADER_BYTES as usize {
            return Err("short journal header".to_owned());
        }
        if &bytes[0..4] != MAGIC {
            return Err("not a journal file (magic)".to_owned());
        }
        if crc32c::crc32c(&bytes[..4092]) != u32_at(bytes, 4092) {
            return Err("journal header CRC mismatch".to_owned());
        }
        let version = u16_at(bytes, 4);
        if version != VERSION {
            return Err(format!("unknown journal format version {version}"));
        }
        let header = FileHeader {
            start: u64_at(bytes, 8),
            size: u64_at(bytes, 16),
            salt: u64_at(bytes, 28),
        };
        if u16_at(bytes, 6) != 0 || u32_at(bytes, 24) != PAGE as u32 {
            return Err("unsupported journal flags or page size".to_owned());
        }
        let bounded = header
            .start
            .checked_add(header.size)
            .is_some_and(|end| end < 1 << 62);
        if header.start != start
            || header.size != len
            || header.size < FILE_HEADER_BYTES + PAGE
            || !bounded
        {
            return Err(format!(
                "journal header names start {} size {}, the file is {start} / {len} bytes",
                header.start, header.size
            ));
        }
        Ok(header)
    }
}

/// The checked header of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub len: u32,
    pub kind: Kind,
    pub log_id: u32,
    pub argument: u64,
}

/// The length of a record with `payload` bytes: header, payload, zero
/// padding to a multiple of 8.
pub(crate) fn record_len(payload: usize) -> usize {
    (RECORD_HEADER + payload).div_ceil(8) * 8
}

/// Appends one record at journal `position` to `out`; `payload` is the
/// concatenation of `parts`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    salt: u64,
    position: u64,
    header: (Kind, u32, u64),
    parts: &[&[u8]],
) {
    let (kind, log_id, argument) = header;
    let payload: usize = parts.iter().map(|part| part.len()).sum();
    let len = record_len(payload);
    let start = out.len();
    out.extend_from_slice(
        &u32::try_from(len)
            .expect("records are below 4 GiB")
            .to_be_bytes(),
    );
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&position.to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&[0u8; 3]);
    out.extend_from_slice(&log_id.to_be_bytes());
    out.extend_from_slice(&argument.to_be_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
    out.resize(start + len, 0);
    let crc = record_crc(salt, &out[start + 8..start + len]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
}

fn record_crc(salt: u64, from_position_on: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&salt.to_be_bytes());
    crc32c::crc32c_append(crc, from_position_on)
}

/// The Pad that ends a pass whose records end at `end`: the gap to the next
/// page boundary, plus a page if the gap is below a record header.
pub(crate) fn pad_len(end: u64) -> u64 {
    let gap = end.next_multiple_of(PAGE) - end;
    if gap < RECORD_HEADER as u64 {
        gap + PAGE
    } else {
        gap
    }
}

/// Appends the Pad that ends a pass at journal position `position`.
pub(crate) fn encode_pad(out: &mut Vec<u8>, salt: u64, position: u64) {
    let len = usize::try_from(pad_len(position)).expect("a pad is below two pages");
    let zeros = vec![0u8; len - RECORD_HEADER];
    encode_record(out, salt, position, (Kind::Pad, 0, 0), &[&zeros]);
}

/// Checks a record header at journal `position` with `left` bytes left in
/// its file. `Ok(None)`: a zero length, the end of the written data.
pub(crate) fn decode_header(
    head: &[u8],
    position: u64,
    left: u64,
) -> Result<Option<RecordHeader>, String> {
    if head.len() < RECORD_HEADER {
        return Ok(None);
    }
    let len = u32_at(head, 0);
    if len == 0 {
        return Ok(None);
    }
    if !len.is_multiple_of(8) || (len as usize) < RECORD_HEADER || u64::from(len) > left {
        return Err(format!("record length {len} at {position} is impossible"));
    }
    if u64_at(head, 8) != position {
        return Err(format!(
            "record at {position} names position {}",
            u64_at(head, 8)
        ));
    }
    if head[17..20] != [0, 0, 0] {
        return Err(format!("record at {position} has non-zero reserved bytes"));
    }
    let kind =
        Kind::from_u8(head[16]).ok_or_else(|| format!("unknown record kind {}", head[16]))?;
    Ok(Some(RecordHeader {
        len,
        kind,
        log_id: u32_at(head, 20),
        argument: u64_at(head, 24),
    }))
}

/// Checks a whole record (header included) against its CRC and the salt of
/// the file it was read from.
pub(crate) fn check_crc(salt: u64, record: &[u8]) -> bool {
    record.len() >= RECORD_HEADER && record_crc(salt, &record[8..]) == u32_at(record, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(salt: u64, bytes: &[u8], position: u64) -> Result<Option<RecordHeader>, String> {
        let header = decode_header(bytes, position, bytes.len() as u64)?;
        if let Some(header) = header
            && !check_crc(salt, &bytes[..header.len as usize])
        {
            return Err("crc".to_owned());
        }
        Ok(header)
    }

    #[test]
    fn record_round_trips() {
        let mut out = Vec::new();
        encode_record(
            &mut out,
            7,
            8192,
            (Kind::Append, 3, 42),
            &[b"abc", b"defgh"],
        );
        assert_eq!(out.len(), 40);
        let header = decode(7, &out, 8192).expect("valid").expect("a record");
        assert_eq!(header.kind, Kind::Append);
        assert_eq!((header.log_id, header.argument, header.len), (3, 42, 40));
        assert_eq!(&out[32..40], b"abcdefgh");
    }

    #[test]
    fn pad_fills_to_page() {
        for start in [4096u64, 4096 + 40, 8192 - 32, 8192 - 24, 8192 - 8] {
            let mut out = Vec::new();
            encode_pad(&mut out, 1, start);
            let end = start + out.len() as u64;
            assert_eq!(end % PAGE, 0, "pad from {start}");
            assert!(out.len() >= RECORD_HEADER);
            assert!(decode(1, &out, start).expect("valid").is_some());
        }
    }

    #[test]
    fn garbage_length_or_crc_is_rejected() {
        let mut out = Vec::new();
        encode_record(&mut out, 9, 4096, (Kind::Truncate, 1, 5), &[]);
        let mut long = out.clone();
        long[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode(9, &long, 4096).is_err());
        let mut odd = out.clone();
        odd[0..4].copy_from_slice(&33u32.to_be_bytes());
        assert!(decode(9, &odd, 4096).is_err());
        let mut flipped = out.clone();
        flipped[30] ^= 1;
        assert!(decode(9, &flipped, 4096).is_err());
        assert!(decode(10, &out, 4096).is_err(), "another file's salt");
        assert_eq!(decode(9, &[0u8; 32], 4096), Ok(None));
    }

    #[test]
    fn stale_position_is_rejected() {
        let mut out = Vec::new();
        encode_record(&mut out, 9, 4096, (Kind::Truncate, 1, 5), &[]);
        assert!(decode(9, &out, 8192).is_err());
    }

    #[test]
    fn unknown_version_is_refused() {
        let header = FileHeader {
            start: 0,
            size: 1 << 20,
            salt: 3,
        };
        let mut bytes = header.encode();
        assert_eq!(FileHeader::decode(&bytes, 0, 1 << 20), Ok(header));
        bytes[4..6].copy_from_slice(&2u16.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[..4092]);
        bytes[4092..4096].copy_from_slice(&crc.to_be_bytes());
        let error = FileHeader::decode(&bytes, 0, 1 << 20).expect_err("version 2");
        assert!(error.contains("version 2"), "{error}");
    }
}
