//! `actions-testkit`: everything a destination author needs to test a destination — the
//! harness ([`TestIntegration`]), event builders ([`create_test_event`]), golden-case replay
//! ([`golden`]) and API simulators ([`linkedin_sim`]).

pub mod golden;
/// An in-process LinkedIn API simulator (Audiences + Conversions + OAuth) with fault injection.
pub mod linkedin_sim;
