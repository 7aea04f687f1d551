//! Every golden case of `conformance/linkedin/` whose destination is this crate, replayed
//! against a local server answering with the recorded responses: the requests sent (method, URL,
//! headers, body), the outcome and the token refreshes must match.

use std::path::PathBuf;

use actions_testkit::golden::replay_all;
use linkedin_conversions::LinkedInConversions;

#[tokio::test]
async fn every_conversions_golden_case_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/linkedin");
    match replay_all(&dir, "linkedin-conversions", LinkedInConversions::new).await {
        Ok(n) => assert!(n >= 26, "expected the conversions cases, found {n}"),
        Err(report) => panic!("{report}"),
    }
}
