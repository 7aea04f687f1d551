//! The destination's actions (one: [`stream_conversion`]).

pub mod stream_conversion;
