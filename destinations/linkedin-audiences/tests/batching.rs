//! Batching against the LinkedIn simulator: one request per segment and per 5,000 elements, and
//! which errors fail a whole batch and which only the items of one segment or request.

mod common;

use actions_core::action::MultiStatusNode;
use actions_core::prelude::*;
use actions_testkit::linkedin_sim::{
    CannedResponse, Fault, FaultRule, LinkedInSim, RouteKind, RouteSelector, SegmentType, SimConfig,
};
use common::{SimRun, audience_event, company_event, entered_events, succeeded};
use linkedin_audiences::LinkedInAudiences;
use linkedin_audiences::api::MAX_ELEMENTS_PER_REQUEST;

/// The users segment the simulator starts with for `li_test_audience`.
const SEEDED_USER_SEGMENT: u64 = 546109929;

/// A simulator answering `status` on `route` (when given), and a runtime wired to it.
async fn sim_failing(
    route: Option<RouteSelector>,
    status: u16,
) -> (LinkedInSim, SimRun<LinkedInAudiences>) {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    if let Some(route) = route {
        sim.add_fault(FaultRule::new(
            route,
            Fault::Respond(CannedResponse::status(status)),
        ));
    }
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    (sim, run)
}

fn element_counts(sim: &LinkedInSim, kind: RouteKind) -> Vec<usize> {
    sim.state()
        .requests_to(kind)
        .iter()
        .map(|r| {
            r.json()
                .and_then(|b| b["elements"].as_array().map(Vec::len))
                .unwrap_or(0)
        })
        .collect()
}

/// The status, error type and message of an error node.
fn error_of(node: &MultiStatusNode) -> (u16, &str, &str) {
    match node {
        MultiStatusNode::Error {
            status,
            errortype,
            errormessage,
            ..
        } => (*status, errortype, errormessage),
        other => panic!("not an error: {other:?}"),
    }
}

#[tokio::test]
async fn a_batch_for_two_audiences_sends_one_request_per_segment() {
    let (sim, run) = sim_failing(None, 0).await;
    let events: Vec<Value> = (0..6)
        .map(|i| {
            let audience = if i % 2 == 0 {
                "li_test_audience"
            } else {
                "second_audience"
            };
            audience_event("Audience Entered", audience, &format!("u{i}@example.com"))
        })
        .collect();
    let nodes = run.batch(&events, &run.user_settings()).await.unwrap();
    assert!(nodes.iter().all(|n| succeeded(n, 200)));
    let state = sim.state();
    assert_eq!(state.requests_to(RouteKind::DmpSegmentsLookup).len(), 2);
    assert_eq!(state.requests_to(RouteKind::DmpSegmentCreate).len(), 1);
    let posts: Vec<String> = state
        .requests_to(RouteKind::DmpSegmentUsers)
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    let second = state
        .segment("512345678", "second_audience", SegmentType::User)
        .unwrap()
        .id;
    assert_eq!(
        posts,
        [
            format!("/rest/dmpSegments/{SEEDED_USER_SEGMENT}/users"),
            format!("/rest/dmpSegments/{second}/users")
        ]
    );
    assert_eq!(state.members[&SEEDED_USER_SEGMENT].current.len(), 3);
    assert_eq!(state.members[&second].current.len(), 3);
}

#[tokio::test]
async fn a_large_batch_is_split_into_requests_of_5000() {
    let (sim, run) = sim_failing(None, 0).await;
    let total = 2 * MAX_ELEMENTS_PER_REQUEST + 1;
    let events = entered_events(total, "li_test_audience");
    let nodes = run.batch(&events, &run.user_settings()).await.unwrap();
    assert_eq!(nodes.len(), total);
    assert!(nodes.iter().all(|n| succeeded(n, 200)));
    assert_eq!(
        element_counts(&sim, RouteKind::DmpSegmentUsers),
        [MAX_ELEMENTS_PER_REQUEST, MAX_ELEMENTS_PER_REQUEST, 1]
    );
    assert_eq!(
        sim.state().members[&SEEDED_USER_SEGMENT].current.len(),
        total
    );
}

#[tokio::test]
async fn a_failing_segment_marks_only_its_own_events() {
    let seeded = format!("POST /rest/dmpSegments/{SEEDED_USER_SEGMENT}/users");
    let (_sim, run) = sim_failing(Some(RouteSelector::parse(&seeded).unwrap()), 500).await;
    let events = vec![
        audience_event("Audience Entered", "li_test_audience", "a@x.com"),
        audience_event("Audience Entered", "other_audience", "b@x.com"),
    ];
    let nodes = run.batch(&events, &run.user_settings()).await.unwrap();
    assert_eq!(
        error_of(&nodes[0]),
        (
            500,
            "RETRYABLE_ERROR",
            "Error while attempting to update LinkedIn DMP Segment. This batch will be retried."
        )
    );
    let MultiStatusNode::Error { sent, .. } = &nodes[0] else {
        unreachable!("checked above")
    };
    assert_eq!(sent.as_ref().unwrap()["email"], "a@x.com");
    assert!(succeeded(&nodes[1], 200));
}

#[tokio::test]
async fn a_failing_single_request_fails_the_whole_batch_as_the_reference_does() {
    let (_sim, run) = sim_failing(Some(RouteKind::DmpSegmentUsers.into()), 500).await;
    let events = vec![
        audience_event("Audience Entered", "li_test_audience", "a@x.com"),
        audience_event("Audience Exited", "li_test_audience", "b@x.com"),
    ];
    let e = run.batch(&events, &run.user_settings()).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.code(), Some("RETRYABLE_ERROR"));
}

#[tokio::test]
async fn a_mismatched_segment_of_several_is_rejected_per_event() {
    let (sim, run) = sim_failing(None, 0).await;
    let mut mismatched = audience_event("Audience Entered", "li_test_audience", "b@x.com");
    mismatched["properties"] = json!({});
    mismatched["context"]["personas"]["computation_key"] = json!("other_key");
    let mut settings = run.user_settings();
    // The source segment id comes from the audience key only; without it the keys differ.
    settings["subscription"]["mapping"]["source_segment_id"] =
        json!({"@path": "$.properties.audience_key"});
    let events = vec![
        audience_event("Audience Entered", "li_test_audience", "a@x.com"),
        mismatched,
    ];
    let nodes = run.batch(&events, &settings).await.unwrap();
    assert!(succeeded(&nodes[0], 200));
    assert_eq!(
        error_of(&nodes[1]),
        (
            400,
            "INVALID_SETTINGS",
            "The value of `source_segment_id` and `personas_audience_key` must match."
        )
    );
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}

#[tokio::test]
async fn company_batches_are_split_into_requests_of_5000_companies() {
    let (sim, run) = sim_failing(None, 0).await;
    let total = MAX_ELEMENTS_PER_REQUEST + 1;
    let mut events: Vec<Value> = (0..total)
        .map(|i| company_event("li_company_audience", &format!("company{i}.com")))
        .collect();
    // Duplicates do not count against the limit.
    events.push(company_event("li_company_audience", "COMPANY0.com"));
    let nodes = run.batch(&events, &run.company_settings()).await.unwrap();
    assert_eq!(nodes.len(), total + 1);
    assert!(nodes.iter().all(|n| succeeded(n, 201)));
    assert_eq!(
        element_counts(&sim, RouteKind::DmpSegmentCompanies),
        [MAX_ELEMENTS_PER_REQUEST, 1]
    );
}

#[tokio::test]
async fn company_segments_are_resolved_and_sent_separately() {
    let (sim, run) = sim_failing(Some(RouteKind::DmpSegmentCreate.into()), 400).await;
    let events = vec![
        company_event("li_company_audience", "acme.com"),
        company_event("unknown_companies", "globex.com"),
        company_event("li_company_audience", "initech.com"),
    ];
    let nodes = run.batch(&events, &run.company_settings()).await.unwrap();
    assert!(succeeded(&nodes[0], 201));
    assert!(succeeded(&nodes[2], 201));
    assert_eq!(
        error_of(&nodes[1]),
        (
            400,
            "400",
            "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400."
        )
    );
    let state = sim.state();
    assert_eq!(state.requests_to(RouteKind::DmpSegmentCompanies).len(), 1);
    assert_eq!(element_counts(&sim, RouteKind::DmpSegmentCompanies), [2]);
}
