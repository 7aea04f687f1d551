//! `actions-testkit`: everything a destination author needs to test a destination — the
//! harness ([`TestIntegration`], strict HTTP mocking with readable diffs), event builders
//! ([`create_test_event`]), seeded snapshot tests ([`snapshot`], [`snapshot_tests!`]),
//! secret-leak checks ([`leak`], [`assert_no_secret_leak`]), golden-case replay ([`golden`])
//! and API simulators ([`linkedin_sim`]).
//!
//! ```no_run
//! # async fn demo<D: actions_core::Destination>(destination: D) {
//! use actions_testkit::{TestIntegration, TestOptions};
//! use serde_json::json;
//!
//! let mut t = TestIntegration::new(destination, &["https://api.example.com"]).await.unwrap();
//! t.expect_request("POST", "/v1/track")
//!     .match_partial_json(json!({"event": "Signed Up"}))
//!     .respond_json(200, json!({"ok": true}))
//!     .create()
//!     .await;
//! let sent = t
//!     .test_action("track", TestOptions::event(json!({"event": "Signed Up"})).default_mappings())
//!     .await
//!     .unwrap();
//! assert_eq!(sent[0].request.method, "POST");
//! # }
//! ```

mod event;
pub mod golden;
mod harness;
pub mod leak;
/// An in-process LinkedIn API simulator (Audiences + Conversions + OAuth) with fault injection.
pub mod linkedin_sim;
pub mod snapshot;

pub use event::{Stamp, TEST_USER_AGENT, create_test_event};
pub use harness::{ExchangeExt, MockBuilder, TestIntegration, TestOptions};
pub use leak::assert_no_secret_leak;

/// insta, re-exported for [`snapshot_tests!`] (which expands insta's assertion in the calling
/// crate, so snapshots live next to the caller's test file).
pub use insta;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
