#![no_main]
//! Fuzz target `event`: see [`actions_fuzz::event`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::event(data));
