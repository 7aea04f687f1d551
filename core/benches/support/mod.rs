//! Helpers shared by the benchmarks.

pub mod cpu_time;
