#![no_main]
//! Fuzz target `retry_headers`: see [`actions_fuzz::retry_headers`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::retry_headers(data));
