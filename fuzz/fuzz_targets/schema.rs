#![no_main]
//! Fuzz target `schema`: see [`actions_fuzz::schema`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::schema(data));
