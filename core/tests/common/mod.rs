//! Helpers shared by core's integration tests: the conformance vectors and their comparison
//! ([`conformance`]), an allocation counter ([`alloc`]) and the local mock server's routes
//! ([`server`]). Each test binary uses a part of them.
#![allow(dead_code)]

pub mod alloc;
pub mod conformance;
pub mod server;
