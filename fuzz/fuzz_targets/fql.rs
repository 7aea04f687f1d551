#![no_main]
//! Fuzz target `fql`: see [`actions_fuzz::fql`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| actions_fuzz::fql(data));
