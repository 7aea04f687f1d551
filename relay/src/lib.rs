//! relay: durable delivery of events to destinations.
pub mod config;
pub mod queue;
