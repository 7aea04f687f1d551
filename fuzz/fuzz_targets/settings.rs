#![no_main]
//! Fuzz target `settings`: see [`actions_fuzz::settings`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::settings(data));
