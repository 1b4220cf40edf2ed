//! Opens a log from arbitrary file contents: recovery must report bad files as
//! errors or counted truncations and never panic or return a corrupt batch.
//! The same entry point runs on stable Rust in `tests/fuzz_harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fjord_storage::testsuite::open_from_bytes(data);
});
