//! Opens a journaled disk from arbitrary journal, registry and segment
//! files: replay must report bad files as errors and never panic or trip an
//! assertion. The same entry point runs on stable Rust in
//! `tests/fuzz_harness.rs` (`journal_inputs_never_panic`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fjord_storage::testsuite::open_journal_from_bytes(data);
});
