//! Replays every golden case of `conformance/linkedin/` recorded for this destination (requests
//! on the wire, outcome, token refreshes) and reports each failing case with its differences.

use std::path::PathBuf;

use actions_testkit::golden::{GoldenCase, replay_case};
use linkedin_audiences::LinkedinAudiences;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/linkedin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_case_of_linkedin_audiences_passes() {
    let cases = GoldenCase::load_dir(&cases_dir()).expect("the golden cases load");
    let ours: Vec<_> = cases
        .into_iter()
        .filter(|(_, c)| c.destination() == "linkedin-audiences")
        .collect();
    assert!(
        ours.len() >= 20,
        "expected the linkedin-audiences cases, found {}",
        ours.len()
    );
    let mut failures = Vec::new();
    for (file, case) in &ours {
        let problems = replay_case(LinkedinAudiences::new(), case).await;
        if !problems.is_empty() {
            failures.push(format!(
                "{file} ({}):\n  {}",
                case.name(),
                problems.join("\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        ours.len(),
        failures.join("\n")
    );
    println!("{} golden cases passed", ours.len());
}
