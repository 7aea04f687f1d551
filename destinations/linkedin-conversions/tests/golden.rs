//! Every golden case of `conformance/linkedin/` whose destination is this crate, replayed
//! against a local server answering with the recorded responses: the requests sent (method, URL,
//! headers, body), the outcome and the token refreshes must match.

use std::path::PathBuf;

use actions_testkit::golden::{GoldenCase, replay_case};
use linkedin_conversions::LinkedInConversions;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/linkedin")
}

#[tokio::test]
async fn every_conversions_golden_case_passes() {
    let cases = GoldenCase::load_dir(&cases_dir()).expect("the golden cases load");
    let mine: Vec<_> = cases
        .into_iter()
        .filter(|(_, c)| c.destination() == "linkedin-conversions")
        .collect();
    assert!(
        mine.len() >= 26,
        "expected the conversions cases, found {}",
        mine.len()
    );
    let mut failures = Vec::new();
    for (file, case) in &mine {
        let problems = replay_case(LinkedInConversions::new(), case).await;
        if !problems.is_empty() {
            failures.push(format!(
                "{file} ({}):\n    {}",
                case.name(),
                problems.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        mine.len(),
        failures.join("\n")
    );
    println!("{} golden cases passed", mine.len());
}
