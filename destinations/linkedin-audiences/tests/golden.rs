//! Replays every golden case of `conformance/linkedin/` recorded for this destination (requests
//! on the wire, outcome, token refreshes) and reports each failing case with its differences.

use std::path::PathBuf;

use actions_testkit::golden::replay_all;
use linkedin_audiences::LinkedInAudiences;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_case_of_linkedin_audiences_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/linkedin");
    match replay_all(&dir, "linkedin-audiences", LinkedInAudiences::new).await {
        Ok(n) => assert!(n >= 20, "expected the linkedin-audiences cases, found {n}"),
        Err(report) => panic!("{report}"),
    }
}
