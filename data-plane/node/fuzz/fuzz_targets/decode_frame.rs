//! Decodes arbitrary bytes as a peer frame: the decoder must refuse bad input
//! with an error and never panic or allocate beyond the input's size; whatever
//! it accepts must encode back to the same bytes (the format is canonical).
//! The seeded mutation test in `tests/wire.rs` runs the same check on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = fjord_node::wire::decode_frame(data) {
        assert_eq!(fjord_node::wire::encode_frame(&frame), data);
    }
});
