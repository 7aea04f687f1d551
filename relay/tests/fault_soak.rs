//! The fault soak in short (`cargo xtask soak --minutes N` is the long form): the `relay`
//! binary against the LinkedIn simulator with every fault at once — 429 bursts with and without
//! `Retry-After`, `X-RateLimit` exhaustion, token-propagation (65601) windows, one destination's
//! refresh token revoked, 5xx, latency spikes, connection resets, hangs past the request
//! timeout — SIGKILLed and restarted at random points. The oracle (`relay::soak`): every
//! accepted event delivered or dead-lettered with a reason, duplicates only of what was in
//! flight at a kill.

use std::time::Duration;

use relay::soak::{SoakOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_with_kills_loses_nothing_accepted() {
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206);
    let mut options = SoakOptions::new(
        env!("CARGO_BIN_EXE_relay").into(),
        Duration::from_secs(40),
        seed,
    );
    options.events_per_second = 40;
    options.kill_every = (Duration::from_millis(1500), Duration::from_secs(5));
    let report = run(&options).await.expect("the soak runs");
    println!("{}", report.faults_line());
    println!("{}", report.counts_line());
    assert!(report.passed(), "{:#?}", report.problems);
    // The soak did what it says: kills, faults of every kind, refreshes, dead letters.
    assert!(report.kills >= 4, "{} kills", report.kills);
    assert!(report.accepted >= 500, "{} accepted", report.accepted);
    assert!(report.halted, "the revoked destination did not halt");
    for outcome in ["429", "reset", "hung"] {
        assert!(
            report.outcomes.get(outcome).is_some_and(|n| *n > 0),
            "no {outcome} answers: {:?}",
            report.outcomes
        );
    }
    assert!(
        report.outcomes.keys().any(|s| s.starts_with('5')),
        "no 5xx: {:?}",
        report.outcomes
    );
    assert!(
        report.outcomes.get("401").is_some_and(|n| *n > 0),
        "no expired or unpropagated token: {:?}",
        report.outcomes
    );
    assert!(report.token_expiries >= 2, "{}", report.token_expiries);
    assert!(
        report.dead_lettered.values().sum::<u64>() > 0,
        "the invalid events were not dead-lettered"
    );
}
