//! Decompression with a bound on the output.
//!
//! The broker passes record batches through untouched, except where it must
//! look inside one: the ListOffsets timestamp lookup decodes the batch that
//! holds the target to find the exact record. A batch of a few KiB can
//! decompress to gigabytes (a compression bomb), so every codec here stops
//! at `limit` bytes of output and reports [`InflateError::TooLarge`] instead
//! of allocating further. Snappy declares its uncompressed length up front:
//! that length is checked before any buffer is allocated.

use std::io::Read;

use bytes::{Buf, Bytes};
use kafka_protocol::records::Compression;

/// Why a batch's records could not be decompressed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InflateError {
    #[error("{codec:?} records decompress to more than {limit} bytes")]
    TooLarge { codec: Compression, limit: usize },
    #[error("{codec:?} records do not decompress: {reason}")]
    Corrupt { codec: Compression, reason: String },
}

/// Snappy-java's stream header (Kafka's snappy framing).
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_BYTES: usize = 16;

/// Decompresses `input` compressed with `codec`, refusing to produce more
/// than `limit` bytes.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Bytes, InflateError> {
    let corrupt = |error: std::io::Error| InflateError::Corrupt {
        codec,
        reason: error.to_string(),
    };
    let output = match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(InflateError::TooLarge { codec, limit });
            }
            input.to_vec()
        }
        Compression::Gzip => read_bounded(flate2::read::GzDecoder::new(input), codec, limit)?,
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(input).map_err(corrupt)?;
            read_bounded(decoder, codec, limit)?
        }
        Compression::Lz4 => {
            let decoder = lz4::Decoder::new(input).map_err(corrupt)?;
            read_bounded(decoder, codec, limit)?
        }
        Compression::Snappy => snappy(input, limit)?,
    };
    assert!(
        output.len() <= limit,
        "bounded decompression overran its limit"
    );
    Ok(Bytes::from(output))
}

fn read_bounded(
    reader: impl Read,
    codec: Compression,
    limit: usize,
) -> Result<Vec<u8>, InflateError> {
    let mut output = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut output)
        .map_err(|error| InflateError::Corrupt {
            codec,
            reason: error.to_string(),
        })?;
    if output.len() > limit {
        return Err(InflateError::TooLarge { codec, limit });
    }
    Ok(output)
}

/// Kafka's snappy: snappy-java framing (a 16-byte header, then
/// `[length: u32][raw snappy block]` chunks), or one raw snappy block.
fn snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let codec = Compression::Snappy;
    if !input.starts_with(XERIAL_MAGIC) {
        let mut output = Vec::new();
        snappy_block(input, limit, &mut output)?;
        return Ok(output);
    }
    let mut rest = input.get(XERIAL_HEADER_BYTES..).unwrap_or_default();
    let mut output = Vec::new();
    // Bounded: every chunk consumes at least its 4-byte length.
    while rest.has_remaining() {
        let corrupt = || InflateError::Corrupt {
            codec,
            reason: "truncated snappy-java chunk".to_owned(),
        };
        if rest.len() < 4 {
            return Err(corrupt());
        }
        let length = rest.get_u32() as usize;
        let chunk = rest.get(..length).ok_or_else(corrupt)?;
        snappy_block(chunk, limit, &mut output)?;
        rest.advance(length);
    }
    Ok(output)
}

/// Appends one raw snappy block to `output`, checking its declared length
/// against what `limit` leaves before allocating.
fn snappy_block(block: &[u8], limit: usize, output: &mut Vec<u8>) -> Result<(), InflateError> {
    let codec = Compression::Snappy;
    let corrupt = |error: snap::Error| InflateError::Corrupt {
        codec,
        reason: error.to_string(),
    };
    let length = snap::raw::decompress_len(block).map_err(corrupt)?;
    if output.len().saturating_add(length) > limit {
        return Err(InflateError::TooLarge { codec, limit });
    }
    let start = output.len();
    output.resize(start + length, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut output[start..])
        .map_err(corrupt)?;
    output.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests;
