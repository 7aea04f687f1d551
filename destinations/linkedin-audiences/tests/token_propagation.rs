//! The token-propagation fix (reference section 6) through the full runtime (`on_event` /
//! `on_batch`, the OAuth pipeline) against the LinkedIn simulator: F1–F5, a failing refresh,
//! and the negatives N1–N3.

mod common;

use std::sync::Arc;

use actions_core::ErrorClass;
use actions_core::prelude::*;
use actions_testkit::linkedin_sim::{
    CannedResponse, Fault, FaultRule, LinkedInSim, RouteKind, SimConfig,
};
use common::{SimRun, audience_event, company_event, entered_events};
use linkedin_audiences::{LinkedInAudiences, Settings};

async fn sim_with(route: RouteKind, response: CannedResponse) -> LinkedInSim {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    sim.add_fault(FaultRule::new(route, Fault::Respond(response)));
    sim
}

fn user_event() -> Value {
    audience_event(
        "Audience Entered",
        "li_test_audience",
        "member.one@example.com",
    )
}

/// The D1 outcome: `RetryableError` 503 naming the LinkedIn code, exactly one refresh.
fn assert_propagation_outcome<D: Destination>(
    result: Result<Vec<ResultEntry>, Error>,
    code: &str,
    run: &SimRun<D>,
    sim: &LinkedInSim,
) {
    let e = result.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable, "{e:?}");
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.code(), Some("RETRYABLE_ERROR"));
    assert!(e.message().contains(code), "{e:?}");
    assert!(!e.message().contains("sim-access-token"));
    assert_eq!(sim.state().refresh_requests.len(), 1);
    assert_eq!(run.refresh_count(), 1);
}

/// A case: its name, the faulted endpoint, its answer and `serviceErrorCode`, what is sent, and
/// the calls expected per endpoint.
type Case = (
    &'static str,
    RouteKind,
    (CannedResponse, &'static str),
    Sent,
    &'static [(RouteKind, usize)],
);

/// What a case sends: one event or a batch, of people or companies.
enum Sent {
    User(Value),
    Users(Vec<Value>),
    Company(Value),
    Companies(Vec<Value>),
}

/// F1–F5: a LinkedIn endpoint answers 401 with 65601 (revoked) or 65602 (expired): one refresh,
/// no second call to that endpoint, and the 503 as the outcome, for single events and whole
/// batches (no per-item 401s). F1 users POST (single and batch), F2 the same expired, F3 the
/// segment lookup (nothing is posted), F4 the companies POST (single and batch), F5 the company
/// segment lookup and creation.
#[tokio::test]
async fn f1_to_f5_token_propagation_answers_end_with_one_refresh_and_the_503() {
    use RouteKind::{
        DmpSegmentCompanies as Companies, DmpSegmentCreate as Create, DmpSegmentUsers as Users,
        DmpSegmentsLookup as Lookup,
    };
    let revoked = || (CannedResponse::revoked_token(), "65601");
    let expired = || (CannedResponse::expired_token(), "65602");
    let three = entered_events(3, "li_test_audience");
    let acme = || Sent::Company(company_event("li_company_audience", "acme.com"));
    let two = vec![
        company_event("li_company_audience", "acme.com"),
        company_event("li_company_audience", "globex.com"),
    ];
    let new_segment = Sent::Company(company_event("brand_new_companies", "acme.com"));
    let user = || Sent::User(user_event());
    // One row a case: the faulted endpoint, its answer, what is sent, the calls per endpoint.
    #[rustfmt::skip]
    let cases: [Case; 8] = [
        ("F1", Users, revoked(), user(), &[(Users, 1)]),
        ("F1 batch", Users, revoked(), Sent::Users(three), &[(Users, 1)]),
        ("F2", Users, expired(), user(), &[(Users, 1)]),
        ("F3", Lookup, revoked(), user(), &[(Lookup, 1), (Users, 0)]),
        ("F4", Companies, revoked(), acme(), &[(Companies, 1)]),
        ("F4 batch", Companies, revoked(), Sent::Companies(two), &[(Companies, 1)]),
        ("F5 lookup", Lookup, expired(), acme(), &[(Companies, 0)]),
        ("F5 creation", Create, revoked(), new_segment, &[(Create, 1), (Companies, 0)]),
    ];
    for (case, route, (answer, code), sent, counts) in cases {
        let sim = sim_with(route, answer).await;
        let run = SimRun::new(LinkedInAudiences::new(), &sim);
        let (users, companies) = (run.user_settings(), run.company_settings());
        let options = run.options();
        let result = match &sent {
            Sent::User(event) => run.runtime.on_event(event, &users, &options).await,
            Sent::Users(events) => run.runtime.on_batch(events, &users, &options).await,
            Sent::Company(event) => run.runtime.on_event(event, &companies, &options).await,
            Sent::Companies(events) => run.runtime.on_batch(events, &companies, &options).await,
        };
        assert_propagation_outcome(result, code, &run, &sim);
        for &(route, count) in counts {
            assert_eq!(
                sim.state().requests_to(route).len(),
                count,
                "{case}: {route:?}"
            );
        }
    }
}

/// A failing refresh (`invalid_grant`) is the outcome instead of the 503.
#[tokio::test]
async fn a_failing_refresh_surfaces_as_the_refresh_error() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::revoked_token()).await;
    sim.revoke_refresh_token("sim-refresh-token");
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let e = run
        .event(&user_event(), &run.user_settings())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Integration);
    assert_eq!(e.code(), Some("REFRESH_TOKEN_EXPIRED"));
    assert_eq!(e.status(), Some(401));
    assert_eq!(run.refresh_count(), 0);
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}

/// N1: a 401 answer that is not 65601/65602 keeps the normal path: refresh, then one retry,
/// which succeeds.
#[tokio::test]
async fn n1_other_401_answers_refresh_and_retry_once() {
    for answer in [
        CannedResponse::json(
            401,
            json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                   "message": "Invalid access token"}),
        ),
        CannedResponse::empty(401),
        CannedResponse::json(401, json!({"message": "Unauthorized", "status": 401})),
    ] {
        let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
        sim.add_fault(
            FaultRule::new(RouteKind::DmpSegmentUsers, Fault::Respond(answer.clone()))
                .max_requests(1),
        );
        let run = SimRun::new(LinkedInAudiences::new(), &sim);
        let results = run
            .event(&user_event(), &run.user_settings())
            .await
            .unwrap_or_else(|e| panic!("{answer:?}: {e:?}"));
        assert_eq!(
            results.last().and_then(|r| r.output.as_deref()),
            Some("Action Executed")
        );
        let state = sim.state();
        assert_eq!(state.requests_to(RouteKind::DmpSegmentUsers).len(), 2);
        assert_eq!(state.refresh_requests.len(), 1);
        assert_eq!(run.refresh_count(), 1);
        let segment = state
            .segment(
                "512345678",
                "li_test_audience",
                actions_testkit::linkedin_sim::SegmentType::User,
            )
            .unwrap()
            .id;
        assert_eq!(state.members[&segment].current.len(), 1);
    }
}

/// N1 with a token LinkedIn does not know (65600 on the lookup, which throws `HTTPError`):
/// refresh and retry with the new token.
#[tokio::test]
async fn n1_unknown_token_on_the_lookup_refreshes_and_retries() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let mut settings = run.user_settings();
    settings["oauth"]["access_token"] = json!("stale-token");
    run.event(&user_event(), &settings).await.unwrap();
    let state = sim.state();
    assert_eq!(state.requests_to(RouteKind::DmpSegmentsLookup).len(), 2);
    assert_eq!(state.requests_to(RouteKind::DmpSegmentUsers).len(), 1);
    assert_eq!(run.refresh_count(), 1);
}

/// N1 / D2: a persistent plain 401: refresh once, retry once, then the 401 is the outcome.
#[tokio::test]
async fn n1_a_persistent_401_ends_after_one_retry() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::empty(401)).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let e = run
        .event(&user_event(), &run.user_settings())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidAuthentication);
    assert_eq!(
        e.message(),
        "Invalid LinkedIn OAuth access token. Please reauthenticate to retrieve a valid access token."
    );
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 2);
    assert_eq!(run.refresh_count(), 1);
}

/// N2: 65601 on a 403 is not a token-propagation answer.
#[tokio::test]
async fn n2_a_403_with_the_code_is_not_matched() {
    let forbidden = CannedResponse::json(
        403,
        json!({"status": 403, "serviceErrorCode": 65601, "code": "ACCESS_DENIED",
               "message": "Not enough permissions"}),
    );
    let sim = sim_with(RouteKind::DmpSegmentUsers, forbidden.clone()).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let e = run
        .event(&user_event(), &run.user_settings())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert_eq!(e.status(), Some(500));
    assert_eq!(run.refresh_count(), 0);
    assert!(sim.state().refresh_requests.is_empty());

    let sim = sim_with(RouteKind::DmpSegmentCompanies, forbidden).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let acme = company_event("li_company_audience", "acme.com");
    let e = run.event(&acme, &run.company_settings()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Api);
    assert_eq!(e.status(), Some(403));
    assert!(sim.state().refresh_requests.is_empty());
}

/// The same destination declared with a non-OAuth scheme (as a test destination).
struct NotOAuth(LinkedInAudiences);

#[async_trait]
impl Destination for NotOAuth {
    type Settings = Settings;
    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition {
            scheme: AuthScheme::Custom,
            ..self.0.definition()
        }
    }
    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        self.0.actions()
    }
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        self.0.extend_request(ctx)
    }
}

/// N3: without OAuth the 503 comes without any refresh.
#[tokio::test]
async fn n3_non_oauth_scheme_gets_the_503_without_a_refresh() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::revoked_token()).await;
    let run = SimRun::new(NotOAuth(LinkedInAudiences::new()), &sim);
    let e = run
        .event(&user_event(), &run.user_settings())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert_eq!(e.status(), Some(503));
    assert!(e.message().contains("65601"));
    assert!(sim.state().refresh_requests.is_empty());
    assert_eq!(run.refresh_count(), 0);
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}
