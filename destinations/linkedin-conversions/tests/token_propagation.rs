//! The token-propagation fix (reference section 6) for this destination, against the LinkedIn
//! simulator: F6 (single event), F7 (batch), F8 (dynamic field, hook, test authentication),
//! the failed refresh, and the negatives N1–N3.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actions_core::context::{FixedClock, MapEnv};
use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use actions_core::runtime::TokenRefreshCallback;
use actions_core::{DestinationRuntime, Outcome, RuntimeConfig};
use actions_testkit::linkedin_sim::{
    CannedResponse, Fault, FaultRule, LinkedInSim, RouteKind, SimConfig,
};
use linkedin_conversions::{LinkedInConversions, Settings};

const NOW: i64 = 1_793_491_200_000;

fn runtime_for<D: Destination>(sim: &LinkedInSim, destination: D) -> DestinationRuntime<D> {
    sim.set_now_ms(Some(NOW));
    let base = sim.base_url();
    let env: HashMap<String, String> = [
        (
            "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_ID",
            "sim-conv-client-id",
        ),
        (
            "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_SECRET",
            "sim-conv-client-secret",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = RuntimeConfig {
        clock: Arc::new(FixedClock::new(NOW)),
        env: Arc::new(MapEnv(env)),
        origins: OriginOverrides::new()
            .with("https://api.linkedin.com", &base)
            .with("https://www.linkedin.com", &base),
        ..RuntimeConfig::default()
    };
    DestinationRuntime::with_config(destination, config).expect("runtime")
}

async fn start() -> (LinkedInSim, DestinationRuntime<LinkedInConversions>) {
    let sim = LinkedInSim::start(SimConfig::default())
        .await
        .expect("simulator");
    let runtime = runtime_for(&sim, LinkedInConversions::new());
    (sim, runtime)
}

/// Event options whose token-refresh callback records the new access tokens.
fn options() -> (EventOptions, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let cb: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
        if let Ok(mut v) = sink.lock() {
            v.push(t.access_token.expose().to_string());
        }
    });
    (
        EventOptions {
            on_token_refresh: Some(cb),
            ..EventOptions::default()
        },
        seen,
    )
}

fn settings() -> Value {
    json!({
        "oauth": {"access_token": "sim-access-token", "refresh_token": "sim-refresh-token"},
        "subscription": {
            "partnerAction": "streamConversion",
            "subscribe": "type = \"track\"",
            "mapping": {
                "conversionHappenedAt": {"@path": "$.timestamp"},
                "conversionValue": {"currencyCode": {"@path": "$.properties.currency"}, "amount": {"@path": "$.properties.revenue"}},
                "eventId": {"@path": "$.messageId"},
                "email": {"@path": "$.traits.email"},
                "onMappingSave": {"inputs": {"adAccountId": "urn:li:sponsoredAccount:512345678"}, "outputs": {"id": "9001"}}
            }
        }
    })
}

fn event(id: &str) -> Value {
    json!({
        "type": "track", "event": "Order Completed", "messageId": id,
        "timestamp": "2026-10-31T22:00:00.000Z",
        "traits": {"email": "jane.doe@example.com"},
        "properties": {"revenue": 49.99, "currency": "USD"}
    })
}

fn fault(route: RouteKind, response: CannedResponse) -> FaultRule {
    FaultRule::new(route, Fault::Respond(response))
}

fn count(sim: &LinkedInSim, route: RouteKind) -> usize {
    sim.state().requests_to(route).len()
}

fn assert_propagation_503(err: &Error, code: &str) {
    assert_eq!(err.class(), ErrorClass::Retryable, "{err:?}");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.code(), Some("RETRYABLE_ERROR"));
    assert!(err.message().contains(code), "{err}");
    assert!(!err.message().contains("sim-access-token"));
    assert!(matches!(
        Outcome::of_error(err),
        Outcome::RefreshThenRetry { .. }
    ));
}

#[tokio::test]
async fn f6_single_event_refreshes_once_and_ends_with_503() {
    for (response, code) in [
        (CannedResponse::revoked_token(), "65601"),
        (CannedResponse::expired_token(), "65602"),
    ] {
        let (sim, runtime) = start().await;
        sim.add_fault(fault(RouteKind::ConversionEventCreate, response));
        let (opts, refreshed) = options();
        let err = runtime
            .on_event(&event("f6"), &settings(), &opts)
            .await
            .unwrap_err();
        assert_propagation_503(&err, code);
        assert_eq!(
            count(&sim, RouteKind::ConversionEventCreate),
            1,
            "no second API call"
        );
        assert_eq!(sim.state().refresh_requests.len(), 1, "one token refresh");
        assert_eq!(
            *refreshed.lock().expect("lock"),
            ["refreshed-access-token-1"]
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn f7_batch_fails_as_a_whole_with_503_and_no_per_item_401() {
    let (sim, runtime) = start().await;
    sim.add_fault(fault(
        RouteKind::ConversionEventsBatchCreate,
        CannedResponse::revoked_token(),
    ));
    let (opts, refreshed) = options();
    let result = runtime
        .on_batch(&[event("f7-a"), event("f7-b")], &settings(), &opts)
        .await;
    let err = result.unwrap_err();
    assert_propagation_503(&err, "65601");
    assert_eq!(count(&sim, RouteKind::ConversionEventsBatchCreate), 1);
    assert_eq!(sim.state().refresh_requests.len(), 1);
    assert_eq!(refreshed.lock().expect("lock").len(), 1);
    assert_eq!(sim.dedup_counts().event("f7-a"), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn refresh_failure_surfaces_as_the_refresh_error() {
    let (sim, runtime) = start().await;
    sim.revoke_refresh_token("sim-refresh-token");
    sim.add_fault(fault(
        RouteKind::ConversionEventCreate,
        CannedResponse::revoked_token(),
    ));
    let (opts, refreshed) = options();
    let err = runtime
        .on_event(&event("refresh-fails"), &settings(), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Integration);
    assert_eq!(err.code(), Some("REFRESH_TOKEN_EXPIRED"));
    assert_eq!(err.status(), Some(401));
    assert_eq!(count(&sim, RouteKind::ConversionEventCreate), 1);
    assert_eq!(sim.state().refresh_requests.len(), 1);
    assert!(refreshed.lock().expect("lock").is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn f8_dynamic_fields_degrade_to_their_fallback_answer() {
    let (sim, runtime) = start().await;
    sim.add_fault(fault(
        RouteKind::AdAccountsSearch,
        CannedResponse::revoked_token(),
    ));
    let (opts, _) = options();
    let r = runtime
        .execute_dynamic_field(
            "streamConversion",
            "adAccountId",
            &settings(),
            &json!({}),
            &opts,
        )
        .await
        .expect("dynamic fields answer, they do not throw");
    // The hook raises before the destination sees LinkedIn's body, so the fallbacks are used
    // (documented in the README); no refresh happens outside the delivery pipeline.
    assert_eq!(
        serde_json::to_value(r).expect("json"),
        json!({"choices": [], "error": {"message": "An error occurred while fetching ad accounts.", "code": "FETCH_AD_ACCOUNTS_ERROR"}})
    );
    assert_eq!(sim.state().refresh_requests.len(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn f8_hooks_report_the_token_propagation_error() {
    let (sim, runtime) = start().await;
    sim.add_fault(fault(
        RouteKind::ConversionCreate,
        CannedResponse::revoked_token(),
    ));
    let (opts, _) = options();
    let r = runtime
        .execute_hook(
            "streamConversion",
            "onMappingSave",
            &settings(),
            &json!({
                "adAccountId": "urn:li:sponsoredAccount:512345678", "name": "Rule",
                "conversionType": "PURCHASE", "attribution_type": "LAST_TOUCH_BY_CAMPAIGN"
            }),
            None,
            &opts,
        )
        .await
        .expect("hooks answer, they do not throw");
    let error = r.error.expect("an error");
    assert_eq!(error.code, "CONVERSION_RULE_CREATION_FAILURE");
    assert_eq!(
        error.message,
        "Failed to create conversion rule: LinkedIn rejected the access token (serviceErrorCode 65601); it may not have propagated yet."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn f8_test_authentication_wraps_the_token_propagation_error() {
    let (sim, runtime) = start().await;
    sim.add_fault(fault(RouteKind::Me, CannedResponse::revoked_token()));
    let (opts, _) = options();
    let err = runtime
        .test_authentication(&settings(), &opts)
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Credentials are invalid:  LinkedIn rejected the access token (serviceErrorCode 65601); it may not have propagated yet."
    );
    assert_eq!(sim.state().refresh_requests.len(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn n1_other_401s_refresh_and_retry_once() {
    for body in [
        CannedResponse::json(
            401,
            json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
        ),
        CannedResponse::empty(401),
        CannedResponse::json(401, json!({"message": "Unauthorized", "status": 401})),
    ] {
        let (sim, runtime) = start().await;
        sim.add_fault(fault(RouteKind::ConversionEventCreate, body.clone()).max_requests(1));
        let (opts, refreshed) = options();
        let results = runtime
            .on_event(&event("n1"), &settings(), &opts)
            .await
            .unwrap_or_else(|e| panic!("{body:?}: the retry succeeds, got {e:?}"));
        assert_eq!(Outcome::of_result(&Ok(results)), Outcome::Delivered);
        assert_eq!(count(&sim, RouteKind::ConversionEventCreate), 2);
        assert_eq!(sim.state().refresh_requests.len(), 1);
        assert_eq!(refreshed.lock().expect("lock").len(), 1);
        assert_eq!(sim.dedup_counts().event("n1"), 1);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn n1_a_persistent_401_is_the_outcome_after_one_retry() {
    let (sim, runtime) = start().await;
    sim.add_fault(fault(
        RouteKind::ConversionEventCreate,
        CannedResponse::json(401, json!({"status": 401, "serviceErrorCode": 65600})),
    ));
    let (opts, _) = options();
    let err = runtime
        .on_event(&event("n1p"), &settings(), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Http);
    assert_eq!(err.message(), "Unauthorized");
    assert_eq!(count(&sim, RouteKind::ConversionEventCreate), 2);
    assert_eq!(sim.state().refresh_requests.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn n1_batch_401_entries_refresh_and_rerun_once() {
    let (sim, runtime) = start().await;
    sim.add_fault(
        fault(
            RouteKind::ConversionEventsBatchCreate,
            CannedResponse::json(401, json!({"status": 401, "serviceErrorCode": 65600})),
        )
        .max_requests(1),
    );
    let (opts, _) = options();
    let results = runtime
        .on_batch(&[event("n1b-a"), event("n1b-b")], &settings(), &opts)
        .await
        .expect("the re-run succeeds");
    let statuses: Vec<u16> = results[0]
        .multistatus
        .as_ref()
        .expect("multistatus")
        .iter()
        .map(|n| n.status())
        .collect();
    assert_eq!(statuses, [200, 200]);
    assert_eq!(count(&sim, RouteKind::ConversionEventsBatchCreate), 2);
    assert_eq!(sim.state().refresh_requests.len(), 1);
    assert_eq!(sim.dedup_counts().event("n1b-a"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn n2_the_codes_on_a_403_are_not_token_propagation() {
    let (sim, runtime) = start().await;
    sim.add_fault(fault(
        RouteKind::ConversionEventCreate,
        CannedResponse::json(
            403,
            json!({"status": 403, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN"}),
        ),
    ));
    let (opts, _) = options();
    let err = runtime
        .on_event(&event("n2"), &settings(), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Http);
    assert_eq!(err.status(), Some(403));
    assert_eq!(count(&sim, RouteKind::ConversionEventCreate), 1);
    assert_eq!(sim.state().refresh_requests.len(), 0);
    sim.shutdown().await;
}

/// The destination under a non-OAuth scheme (the "test destination" of N3).
struct NotOAuth(LinkedInConversions);

#[async_trait]
impl Destination for NotOAuth {
    type Settings = Settings;
    fn definition(&self) -> DestinationDefinition {
        let mut d = self.0.definition();
        d.scheme = AuthScheme::Custom;
        d
    }
    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        self.0.actions()
    }
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        self.0.extend_request(ctx)
    }
}

#[tokio::test]
async fn n3_without_oauth_the_503_comes_without_a_refresh() {
    let sim = LinkedInSim::start(SimConfig::default())
        .await
        .expect("simulator");
    let runtime = runtime_for(&sim, NotOAuth(LinkedInConversions::new()));
    sim.add_fault(fault(
        RouteKind::ConversionEventCreate,
        CannedResponse::revoked_token(),
    ));
    let (opts, refreshed) = options();
    let err = runtime
        .on_event(&event("n3"), &settings(), &opts)
        .await
        .unwrap_err();
    assert_propagation_503(&err, "65601");
    assert_eq!(count(&sim, RouteKind::ConversionEventCreate), 1);
    assert_eq!(sim.state().refresh_requests.len(), 0);
    assert!(refreshed.lock().expect("lock").is_empty());
    sim.shutdown().await;
}
