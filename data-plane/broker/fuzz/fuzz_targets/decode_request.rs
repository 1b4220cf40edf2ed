//! Feeds arbitrary bytes through the broker's request decode path (frame,
//! header, declared-length check, body), as a connection reads them: it
//! must never panic nor allocate beyond what the input bounds.
//!
//! Two modes, chosen by the low bit of the first byte, so that libFuzzer
//! reaches deep into bodies without a seed corpus:
//! - raw: the rest of the input is the byte stream of a connection;
//! - structured: the rest mutates one of the valid sample requests
//!   (`protocol::samples::decode_mutated`, also run by the seeded test
//!   `protocol::input::tests::mutated_frames_never_panic_or_allocate_wildly`).
#![no_main]

use std::sync::OnceLock;

use fjord_broker::protocol::{decode_frames, samples};
use libfuzzer_sys::fuzz_target;

static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        decode_frames(rest, samples::FUZZ_FRAME_BYTES_MAX);
    } else {
        let frames = FRAMES.get_or_init(samples::all_frames);
        samples::decode_mutated(frames, rest);
    }
});
