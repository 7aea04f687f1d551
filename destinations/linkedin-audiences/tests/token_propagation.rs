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
use common::{AUDIENCE_SUBSCRIPTION, SimRun, audience_event, company_event, sim_settings};
use linkedin_audiences::{LinkedInAudiences, Settings};

async fn sim_with(route: RouteKind, response: CannedResponse) -> LinkedInSim {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    sim.add_fault(FaultRule::new(route, Fault::Respond(response)));
    sim
}

fn user_settings<D: Destination>(run: &SimRun<D>) -> Value {
    sim_settings(
        "updateAudience",
        AUDIENCE_SUBSCRIPTION,
        run.default_mapping("updateAudience"),
    )
}

fn company_settings<D: Destination>(run: &SimRun<D>) -> Value {
    let mut mapping = run.default_mapping("updateCompanyAudience");
    mapping["dmp_company_action"] = json!("ADD");
    sim_settings("updateCompanyAudience", "type = \"track\"", mapping)
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

/// F1: the users POST answers 401 / 65601: one refresh, no second users POST, 503.
#[tokio::test]
async fn f1_users_post_revoked_token() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::revoked_token()).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let r = run
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
        .await;
    assert_propagation_outcome(r, "65601", &run, &sim);
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}

/// F1 in batch mode: the whole batch ends with the 503 (no per-item 401s).
#[tokio::test]
async fn f1_users_post_revoked_token_in_a_batch() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::revoked_token()).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let events: Vec<Value> = (0..3)
        .map(|i| {
            audience_event(
                "Audience Entered",
                "li_test_audience",
                &format!("u{i}@x.com"),
            )
        })
        .collect();
    let r = run
        .runtime
        .on_batch(&events, &user_settings(&run), &run.options())
        .await;
    assert_propagation_outcome(r, "65601", &run, &sim);
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}

/// F2: the same with 65602 (expired token).
#[tokio::test]
async fn f2_users_post_expired_token() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::expired_token()).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let r = run
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
        .await;
    assert_propagation_outcome(r, "65602", &run, &sim);
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}

/// F3: the segment lookup answers 401 / 65601: nothing is posted.
#[tokio::test]
async fn f3_lookup_revoked_token() {
    let sim = sim_with(
        RouteKind::DmpSegmentsLookup,
        CannedResponse::revoked_token(),
    )
    .await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let r = run
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
        .await;
    assert_propagation_outcome(r, "65601", &run, &sim);
    let state = sim.state();
    assert_eq!(state.requests_to(RouteKind::DmpSegmentsLookup).len(), 1);
    assert!(state.requests_to(RouteKind::DmpSegmentUsers).is_empty());
}

/// F4: the companies POST answers 401 / 65601, single event.
#[tokio::test]
async fn f4_companies_post_revoked_token() {
    let sim = sim_with(
        RouteKind::DmpSegmentCompanies,
        CannedResponse::revoked_token(),
    )
    .await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let r = run
        .runtime
        .on_event(
            &company_event("li_company_audience", "acme.com"),
            &company_settings(&run),
            &run.options(),
        )
        .await;
    assert_propagation_outcome(r, "65601", &run, &sim);
    assert_eq!(
        sim.state()
            .requests_to(RouteKind::DmpSegmentCompanies)
            .len(),
        1
    );
}

/// F4 in batch mode: the whole batch fails with the 503.
#[tokio::test]
async fn f4_companies_post_revoked_token_in_a_batch() {
    let sim = sim_with(
        RouteKind::DmpSegmentCompanies,
        CannedResponse::revoked_token(),
    )
    .await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let events = vec![
        company_event("li_company_audience", "acme.com"),
        company_event("li_company_audience", "globex.com"),
    ];
    let r = run
        .runtime
        .on_batch(&events, &company_settings(&run), &run.options())
        .await;
    assert_propagation_outcome(r, "65601", &run, &sim);
    assert_eq!(
        sim.state()
            .requests_to(RouteKind::DmpSegmentCompanies)
            .len(),
        1
    );
}

/// F5: the company segment lookup answers 401 / 65602.
#[tokio::test]
async fn f5_company_lookup_expired_token() {
    let sim = sim_with(
        RouteKind::DmpSegmentsLookup,
        CannedResponse::expired_token(),
    )
    .await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let r = run
        .runtime
        .on_event(
            &company_event("li_company_audience", "acme.com"),
            &company_settings(&run),
            &run.options(),
        )
        .await;
    assert_propagation_outcome(r, "65602", &run, &sim);
    assert!(
        sim.state()
            .requests_to(RouteKind::DmpSegmentCompanies)
            .is_empty()
    );
}

/// F5: the company segment creation answers 401 / 65601.
#[tokio::test]
async fn f5_company_segment_creation_revoked_token() {
    let sim = sim_with(RouteKind::DmpSegmentCreate, CannedResponse::revoked_token()).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let r = run
        .runtime
        .on_event(
            &company_event("brand_new_companies", "acme.com"),
            &company_settings(&run),
            &run.options(),
        )
        .await;
    assert_propagation_outcome(r, "65601", &run, &sim);
    let state = sim.state();
    assert_eq!(state.requests_to(RouteKind::DmpSegmentCreate).len(), 1);
    assert!(state.requests_to(RouteKind::DmpSegmentCompanies).is_empty());
}

/// A failing refresh (`invalid_grant`) is the outcome instead of the 503.
#[tokio::test]
async fn a_failing_refresh_surfaces_as_the_refresh_error() {
    let sim = sim_with(RouteKind::DmpSegmentUsers, CannedResponse::revoked_token()).await;
    sim.revoke_refresh_token("sim-refresh-token");
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let e = run
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
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
            .runtime
            .on_event(&user_event(), &user_settings(&run), &run.options())
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
    let mut settings = user_settings(&run);
    settings["oauth"]["access_token"] = json!("stale-token");
    run.runtime
        .on_event(&user_event(), &settings, &run.options())
        .await
        .unwrap();
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
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
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
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert_eq!(e.status(), Some(500));
    assert_eq!(run.refresh_count(), 0);
    assert!(sim.state().refresh_requests.is_empty());

    let sim = sim_with(RouteKind::DmpSegmentCompanies, forbidden).await;
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let e = run
        .runtime
        .on_event(
            &company_event("li_company_audience", "acme.com"),
            &company_settings(&run),
            &run.options(),
        )
        .await
        .unwrap_err();
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
        .runtime
        .on_event(&user_event(), &user_settings(&run), &run.options())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert_eq!(e.status(), Some(503));
    assert!(e.message().contains("65601"));
    assert!(sim.state().refresh_requests.is_empty());
    assert_eq!(run.refresh_count(), 0);
    assert_eq!(sim.state().requests_to(RouteKind::DmpSegmentUsers).len(), 1);
}
