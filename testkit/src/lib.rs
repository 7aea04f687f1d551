//! `actions-testkit`: everything a destination author needs to test a destination — the
//! harness ([`TestIntegration`]), event builders ([`create_test_event`]), golden-case replay
//! ([`golden`]) and API simulators ([`linkedin_sim`]).

mod event;
pub mod golden;
mod harness;
/// An in-process LinkedIn API simulator (Audiences + Conversions + OAuth) with fault injection.
pub mod linkedin_sim;

pub use event::{Stamp, TEST_USER_AGENT, create_test_event};
pub use harness::{TestIntegration, TestOptions};
