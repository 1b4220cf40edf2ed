//! Decodes arbitrary bytes as a peer frame: the decoder must refuse bad input
//! with an error and never panic or allocate beyond the input's size; whatever
//! it accepts must encode back to the same bytes (the format is canonical).
//! The seeded mutation test in `tests/wire.rs` runs the same check on stable Rust.
//!
//! A random input almost never carries a matching length prefix and CRC-32C,
//! so each input is also tried sealed (both rewritten to match): otherwise
//! the fuzzer never gets past the header to the envelope decoder.
#![no_main]

use fjord_node::wire::{self, HEADER_BYTES};
use libfuzzer_sys::fuzz_target;

/// Where the checksum sits in a frame after its 4-byte length prefix
/// (docs/replication.md, "Peer transport").
const CRC_AT: usize = 4 + 28;

fn check(bytes: &[u8]) {
    if let Ok(frame) = wire::decode_frame(bytes) {
        assert_eq!(wire::encode_frame(&frame), bytes);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 4 + HEADER_BYTES {
        let mut sealed = data.to_vec();
        let length = u32::try_from(sealed.len() - 4).unwrap_or(u32::MAX);
        sealed[..4].copy_from_slice(&length.to_be_bytes());
        let crc = wire::checksum(&sealed[4..]);
        sealed[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        check(&sealed);
    }
});
