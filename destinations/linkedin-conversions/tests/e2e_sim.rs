//! End to end against the LinkedIn simulator: 1,000 conversion events through the runtime's
//! `on_batch` (default mapping, a `subscription` in the settings, batches of 100) while the
//! simulator answers some batches with 429s and opens one token-propagation window (65601).
//!
//! The test drives retries as a delivery pipeline would: after each attempt it classifies the
//! result with `Outcome::of_result`, re-submits exactly the events that were not delivered, and
//! uses the token handed to `on_token_refresh` from then on. It asserts that every eventId
//! arrived exactly once, that every failure was reported as retryable with its status, and that
//! nothing was lost. No sleeps: the pipeline's waits are skipped (the simulator's faults are
//! request-counted), so the run takes well under a second (its speed is
//! measured by the benchmarks, not asserted here).

mod common;

use std::collections::BTreeSet;

use actions_core::DestinationRuntime;
use actions_core::action::MultiStatusNode;
use actions_core::prelude::*;
use actions_core::retry::is_retryable_status;
use actions_testkit::linkedin_sim::{
    CannedResponse, Fault, FaultRule, LinkedInSim, RouteKind, SimConfig, Step,
};
use common::{refresh_recorder, sim_runtime, sim_settings};
use linkedin_conversions::LinkedInConversions;
use serde_json::Map;

const NOW: i64 = 1_793_491_200_000;
const EVENTS: usize = 1_000;
const BATCH: usize = 100;
const MAX_ROUNDS: usize = 20;

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn events() -> Vec<Value> {
    (0..EVENTS)
        .map(|i| {
            let minutes = i64::try_from(i).unwrap_or(0);
            json!({
                "type": "track",
                "event": "Order Completed",
                "messageId": format!("evt-{i:04}"),
                "userId": format!("user-{i}"),
                "timestamp": iso(NOW - minutes * 60_000),
                "traits": {"email": format!("User{i}@Example.com")},
                "properties": {"revenue": 10 + i % 90, "currency": "USD"}
            })
        })
        .collect()
}

/// The default mapping of `streamConversion` (each field's default) plus the saved rule.
fn default_mapping(runtime: &DestinationRuntime<LinkedInConversions>) -> Value {
    let mut mapping = Map::new();
    for (definition, fields) in runtime.actions() {
        if definition.key != "streamConversion" {
            continue;
        }
        for (key, field) in fields {
            if let Some(default) = &field.default {
                mapping.insert(key.clone(), default.clone());
            }
        }
    }
    mapping.insert(
        "onMappingSave".into(),
        json!({"inputs": {"adAccountId": "urn:li:sponsoredAccount:512345678"}, "outputs": {"id": "9001"}}),
    );
    Value::Object(mapping)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_arrive_exactly_once_through_429s_and_token_propagation() {
    let sim = LinkedInSim::start(SimConfig::default())
        .await
        .expect("simulator");
    // One token-propagation window: the 3rd and 4th batch uploads are refused with 65601.
    sim.add_fault(
        FaultRule::new(
            RouteKind::ConversionEventsBatchCreate,
            Fault::Respond(CannedResponse::revoked_token()),
        )
        .after_requests(2)
        .max_requests(2),
    );
    // Rate limiting: LinkedIn's JSON 429 and the plain-text one, interleaved with successes.
    sim.add_fault(FaultRule::new(
        RouteKind::ConversionEventsBatchCreate,
        Fault::Sequence(vec![
            Step::Pass,
            Step::Respond(CannedResponse::status(429).with_header("Retry-After", "1")),
            Step::Pass,
            Step::Pass,
            Step::Respond(CannedResponse::text(429, "Too Many Requests")),
            Step::Pass,
            Step::Respond(CannedResponse::status(429)),
        ]),
    ));

    let runtime = sim_runtime(&sim, LinkedInConversions::new(), NOW);
    let (opts, refreshed) = refresh_recorder();
    let mut settings = sim_settings(default_mapping(&runtime));

    let all = events();
    let mut pending: Vec<&Value> = all.iter().collect();
    let mut delivered: BTreeSet<String> = BTreeSet::new();
    let mut rate_limited_items = 0usize;
    let mut whole_batch_retries = 0usize;
    let mut rounds = 0usize;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= MAX_ROUNDS, "still {} pending", pending.len());
        let mut retry: Vec<&Value> = Vec::new();
        for chunk in pending.chunks(BATCH) {
            let batch: Vec<Value> = chunk.iter().map(|e| (*e).clone()).collect();
            let result = runtime.on_batch(&batch, &settings, &opts).await;
            match Outcome::of_result(&result) {
                Outcome::Partial(outcomes) => {
                    let nodes: &[MultiStatusNode] = result
                        .as_ref()
                        .ok()
                        .and_then(|r| r.iter().find_map(|e| e.multistatus.as_deref()))
                        .unwrap_or_default();
                    assert_eq!(outcomes.len(), chunk.len());
                    assert_eq!(nodes.len(), chunk.len());
                    for ((event, outcome), node) in chunk.iter().zip(&outcomes).zip(nodes) {
                        let id = event["messageId"].as_str().unwrap_or_default().to_string();
                        if *outcome == Outcome::Delivered {
                            assert!(delivered.insert(id), "delivered twice");
                            continue;
                        }
                        // Not delivered: it must say so, with a retryable status.
                        match node {
                            MultiStatusNode::Error {
                                status,
                                errortype,
                                errorreporter,
                                ..
                            } => {
                                assert!(is_retryable_status(*status), "{node:?}");
                                assert_eq!(*status, 429, "{node:?}");
                                assert_eq!(errortype, "TOO_MANY_REQUESTS");
                                assert_eq!(
                                    serde_json::to_value(errorreporter).expect("json"),
                                    json!("DESTINATION")
                                );
                            }
                            other => panic!("a silent failure: {other:?}"),
                        }
                        assert!(
                            matches!(outcome, Outcome::RateLimited { .. }),
                            "{outcome:?}"
                        );
                        rate_limited_items += 1;
                        retry.push(event);
                    }
                }
                outcome => {
                    // The whole batch failed: it must be a retryable 503 naming the cause.
                    let err = result.as_ref().expect_err("an error");
                    assert_eq!(err.class(), ErrorClass::Retryable, "{err:?}");
                    assert_eq!(err.status(), Some(503));
                    assert!(err.message().contains("65601"), "{err}");
                    assert!(
                        matches!(outcome, Outcome::RefreshThenRetry { .. }),
                        "{outcome:?}"
                    );
                    whole_batch_retries += 1;
                    retry.extend(chunk.iter().copied());
                }
            }
            // Persist the refreshed token, as the host does in `on_token_refresh`.
            if let Some(token) = refreshed.lock().expect("lock").last().cloned() {
                settings["oauth"]["access_token"] = json!(token);
            }
        }
        pending = retry;
    }

    // Nothing lost, nothing twice.
    assert_eq!(delivered.len(), EVENTS);
    let counts = sim.dedup_counts();
    for i in 0..EVENTS {
        assert_eq!(counts.event(&format!("evt-{i:04}")), 1, "evt-{i:04}");
    }
    assert!(counts.duplicate_events().is_empty());
    let state = sim.state();
    assert_eq!(state.conversion_events.len(), EVENTS);

    // The faults really happened, and were handled the way D1 says.
    assert_eq!(whole_batch_retries, 2, "the 65601 window");
    assert_eq!(state.refresh_requests.len(), 2, "one refresh per 65601");
    assert_eq!(
        *refreshed.lock().expect("lock"),
        ["refreshed-access-token-1", "refreshed-access-token-2"]
    );
    assert_eq!(rate_limited_items, 3 * BATCH, "three rate-limited batches");
    let uploads = state.requests_to(RouteKind::ConversionEventsBatchCreate);
    assert_eq!(uploads.len(), EVENTS / BATCH + 2 + 3);
    for upload in &uploads {
        assert_eq!(upload.header("x-restli-method"), Some("BATCH_CREATE"));
        let elements = upload
            .json()
            .and_then(|b| b["elements"].as_array().map(Vec::len));
        assert_eq!(elements, Some(BATCH));
    }
    // After the window, every upload carries the last refreshed token.
    let last = uploads.last().and_then(|u| u.header("authorization"));
    assert_eq!(last, Some("Bearer refreshed-access-token-2"));
    assert!(rounds >= 2);
    sim.shutdown().await;
}
