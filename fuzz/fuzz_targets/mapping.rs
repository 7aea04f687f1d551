#![no_main]
//! Fuzz target `mapping`: see [`actions_fuzz::mapping`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::mapping(data));
