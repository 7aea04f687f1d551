//! Helpers shared by the benchmarks (each benchmark uses a part of them).
#![allow(dead_code)]

pub mod cpu_time;
