#![no_main]
//! Fuzz target `ingest`: see [`actions_fuzz::ingest`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::ingest(data));
