#![no_main]
//! Fuzz target `config`: see [`actions_fuzz::config`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::config(data));
