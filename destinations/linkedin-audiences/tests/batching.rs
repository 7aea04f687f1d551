//! Batching against the LinkedIn simulator: one request per segment and per 5,000 elements, and
//! which errors fail a whole batch and which only the items of one segment or request.

mod common;

use actions_core::action::MultiStatusNode;
use actions_core::prelude::*;
use actions_testkit::linkedin_sim::{
    CannedResponse, Fault, FaultRule, LinkedInSim, RouteKind, RouteSelector, SegmentType, SimConfig,
};
use common::{AUDIENCE_SUBSCRIPTION, SimRun, audience_event, company_event, sim_settings};
use linkedin_audiences::LinkedInAudiences;
use linkedin_audiences::api::MAX_ELEMENTS_PER_REQUEST;

/// The users segment the simulator starts with for `li_test_audience`.
const SEEDED_USER_SEGMENT: u64 = 546109929;

fn user_settings(run: &SimRun<LinkedInAudiences>) -> Value {
    sim_settings(
        "updateAudience",
        AUDIENCE_SUBSCRIPTION,
        run.default_mapping("updateAudience"),
    )
}

fn company_settings(run: &SimRun<LinkedInAudiences>) -> Value {
    let mut mapping = run.default_mapping("updateCompanyAudience");
    mapping["dmp_company_action"] = json!("ADD");
    sim_settings("updateCompanyAudience", "type = \"track\"", mapping)
}

fn nodes(results: &[ResultEntry]) -> Vec<MultiStatusNode> {
    results
        .iter()
        .filter_map(|r| r.multistatus.clone())
        .flatten()
        .collect()
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

#[tokio::test]
async fn a_batch_for_two_audiences_sends_one_request_per_segment() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
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
    let results = run
        .runtime
        .on_batch(&events, &user_settings(&run), &run.options())
        .await
        .unwrap();
    assert!(
        nodes(&results)
            .iter()
            .all(|n| matches!(n, MultiStatusNode::Success { status: 200, .. }))
    );
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
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let total = 2 * MAX_ELEMENTS_PER_REQUEST + 1;
    let events: Vec<Value> = (0..total)
        .map(|i| {
            audience_event(
                "Audience Entered",
                "li_test_audience",
                &format!("u{i}@x.com"),
            )
        })
        .collect();
    let results = run
        .runtime
        .on_batch(&events, &user_settings(&run), &run.options())
        .await
        .unwrap();
    let nodes = nodes(&results);
    assert_eq!(nodes.len(), total);
    assert!(
        nodes
            .iter()
            .all(|n| matches!(n, MultiStatusNode::Success { status: 200, .. }))
    );
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
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    sim.add_fault(FaultRule::new(
        RouteSelector::parse(&format!(
            "POST /rest/dmpSegments/{SEEDED_USER_SEGMENT}/users"
        ))
        .unwrap(),
        Fault::Respond(CannedResponse::status(500)),
    ));
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let events = vec![
        audience_event("Audience Entered", "li_test_audience", "a@x.com"),
        audience_event("Audience Entered", "other_audience", "b@x.com"),
    ];
    let results = run
        .runtime
        .on_batch(&events, &user_settings(&run), &run.options())
        .await
        .unwrap();
    let nodes = nodes(&results);
    match &nodes[0] {
        MultiStatusNode::Error {
            status,
            errortype,
            errormessage,
            sent,
            ..
        } => {
            assert_eq!(*status, 500);
            assert_eq!(errortype, "RETRYABLE_ERROR");
            assert_eq!(
                errormessage,
                "Error while attempting to update LinkedIn DMP Segment. This batch will be retried."
            );
            assert_eq!(sent.as_ref().unwrap()["email"], "a@x.com");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        nodes[1],
        MultiStatusNode::Success { status: 200, .. }
    ));
}

#[tokio::test]
async fn a_failing_single_request_fails_the_whole_batch_as_the_reference_does() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    sim.add_fault(FaultRule::new(
        RouteKind::DmpSegmentUsers,
        Fault::Respond(CannedResponse::status(500)),
    ));
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let events = vec![
        audience_event("Audience Entered", "li_test_audience", "a@x.com"),
        audience_event("Audience Exited", "li_test_audience", "b@x.com"),
    ];
    let e = run
        .runtime
        .on_batch(&events, &user_settings(&run), &run.options())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.code(), Some("RETRYABLE_ERROR"));
}

#[tokio::test]
async fn a_mismatched_segment_of_several_is_rejected_per_event() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let mut mismatched = audience_event("Audience Entered", "li_test_audience", "b@x.com");
    mismatched["properties"] = json!({});
    mismatched["context"]["personas"]["computation_key"] = json!("other_key");
    let mut settings = user_settings(&run);
    // The source segment id comes from the audience key only; without it the keys differ.
    settings["subscription"]["mapping"]["source_segment_id"] =
        json!({"@path": "$.properties.audience_key"});
    let events = vec![
        audience_event("Audience Entered", "li_test_audience", "a@x.com"),
        mismatched,
    ];
    let results = run
        .runtime
        .on_batch(&events, &settings, &run.options())
        .await
        .unwrap();
    let nodes = nodes(&results);
    assert!(matches!(
        nodes[0],
        MultiStatusNode::Success { status: 200, .. }
    ));
    match &nodes[1] {
        MultiStatusNode::Error {
            status,
            errortype,
            errormessage,
            ..
        } => {
            assert_eq!((*status, errortype.as_str()), (400, "INVALID_SETTINGS"));
            assert_eq!(
                errormessage,
                "The value of `source_segment_id` and `personas_audience_key` must match."
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}

#[tokio::test]
async fn company_batches_are_split_into_requests_of_5000_companies() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let total = MAX_ELEMENTS_PER_REQUEST + 1;
    let mut events: Vec<Value> = (0..total)
        .map(|i| company_event("li_company_audience", &format!("company{i}.com")))
        .collect();
    // Duplicates do not count against the limit.
    events.push(company_event("li_company_audience", "COMPANY0.com"));
    let results = run
        .runtime
        .on_batch(&events, &company_settings(&run), &run.options())
        .await
        .unwrap();
    let nodes = nodes(&results);
    assert_eq!(nodes.len(), total + 1);
    assert!(
        nodes
            .iter()
            .all(|n| matches!(n, MultiStatusNode::Success { status: 201, .. }))
    );
    assert_eq!(
        element_counts(&sim, RouteKind::DmpSegmentCompanies),
        [MAX_ELEMENTS_PER_REQUEST, 1]
    );
}

#[tokio::test]
async fn company_segments_are_resolved_and_sent_separately() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    sim.add_fault(FaultRule::new(
        RouteKind::DmpSegmentCreate,
        Fault::Respond(CannedResponse::status(400)),
    ));
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let events = vec![
        company_event("li_company_audience", "acme.com"),
        company_event("unknown_companies", "globex.com"),
        company_event("li_company_audience", "initech.com"),
    ];
    let results = run
        .runtime
        .on_batch(&events, &company_settings(&run), &run.options())
        .await
        .unwrap();
    let nodes = nodes(&results);
    assert!(matches!(
        nodes[0],
        MultiStatusNode::Success { status: 201, .. }
    ));
    assert!(matches!(
        nodes[2],
        MultiStatusNode::Success { status: 201, .. }
    ));
    match &nodes[1] {
        MultiStatusNode::Error {
            status,
            errortype,
            errormessage,
            ..
        } => {
            assert_eq!((*status, errortype.as_str()), (400, "400"));
            assert_eq!(
                errormessage,
                "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400."
            );
        }
        other => panic!("{other:?}"),
    }
    let state = sim.state();
    assert_eq!(state.requests_to(RouteKind::DmpSegmentCompanies).len(), 1);
    assert_eq!(element_counts(&sim, RouteKind::DmpSegmentCompanies), [2]);
}
