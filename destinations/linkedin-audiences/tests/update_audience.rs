//! `updateAudience` (reference `updateAudience/__tests__/index.test.ts`, section 7.2), with the
//! real URLs and bodies.

mod common;

use actions_core::ErrorClass;
use actions_core::context::{StateContext, Ttl};
use actions_core::prelude::*;
use actions_testkit::TestOptions;
use common::{JSON, body_json, harness, requests, tokens};

const BASE: &str = "https://api.linkedin.com/rest";
const HASH: &str = "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777";

fn lookup(ad: &str, key: &str) -> String {
    format!(
        "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A{ad}&sourceSegmentId={key}&sourcePlatform=SEGMENT"
    )
}

fn users_body() -> String {
    format!(
        r#"{{"elements":[{{"action":"ADD","userIds":[{{"idType":"SHA256_EMAIL","idValue":"{HASH}"}},{{"idType":"GOOGLE_AID","idValue":"123"}}]}}]}}"#
    )
}

fn event() -> Value {
    json!({
        "event": "Audience Entered",
        "type": "track",
        "properties": {"audience_key": "personas_test_audience"},
        "context": {"device": {"advertisingId": "123"}, "traits": {"email": "testing@testing.com"}}
    })
}

fn settings(ad: &str) -> Value {
    json!({"ad_account_id": ad, "send_email": true, "send_google_advertising_id": true})
}

fn options(event: Value, mapping: Value) -> TestOptions {
    TestOptions::event(event)
        .mapping(mapping)
        .default_mappings()
        .settings(settings("123"))
        .auth(tokens("test", "test"))
}

fn default_options() -> TestOptions {
    options(
        event(),
        json!({"personas_audience_key": "personas_test_audience"}),
    )
}

/// Mocks the lookup of `key` on ad account `ad` answering with `elements`.
async fn mock_lookup(
    t: &mut actions_testkit::TestIntegration<linkedin_audiences::LinkedInAudiences>,
    ad: &str,
    key: &str,
    elements: Value,
) -> mockito::Mock {
    t.mock("GET", &lookup(ad, key))
        .match_header("authorization", "Bearer test")
        .match_header("linkedin-version", "202604")
        .with_header(JSON.0, JSON.1)
        .with_body(json!({"elements": elements}).to_string())
        .create_async()
        .await
}

async fn mock_users(
    t: &mut actions_testkit::TestIntegration<linkedin_audiences::LinkedInAudiences>,
    segment: &str,
    status: usize,
    body: &str,
) -> mockito::Mock {
    t.mock("POST", &format!("/rest/dmpSegments/{segment}/users"))
        .match_header("x-restli-method", "BATCH_CREATE")
        .match_header("linkedin-version", "202604")
        .match_header("content-type", "application/json")
        .match_header("authorization", "Bearer test")
        .with_status(status)
        .with_header(JSON.0, JSON.1)
        .with_body(body)
        .create_async()
        .await
}

/// 7.2 #1: an existing segment is looked up and the user added to it.
#[tokio::test]
async fn adds_the_user_to_an_existing_segment() {
    let mut t = harness().await;
    let l = mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    let u = mock_users(
        &mut t,
        "dmp_segment_id",
        200,
        r#"{"elements":[{"status":201}]}"#,
    )
    .await;
    let x = t
        .test_action("updateAudience", default_options())
        .await
        .unwrap();
    assert_eq!(
        requests(&x),
        [
            format!(
                "GET https://api.linkedin.com{}",
                lookup("123", "personas_test_audience")
            ),
            format!("POST {BASE}/dmpSegments/dmp_segment_id/users"),
        ]
    );
    assert_eq!(x[1].request.body.as_deref(), Some(users_body().as_str()));
    l.assert_async().await;
    u.assert_async().await;
}

/// 7.2 #2: no segment exists, one is created; LinkedIn's answer has no id header. The reference
/// then posts to `/dmpSegments/undefined/users`; we stop with a clear error instead.
#[tokio::test]
async fn creates_a_segment_and_fails_clearly_when_linkedin_returns_no_id() {
    let mut t = harness().await;
    mock_lookup(&mut t, "456", "personas_test_audience", json!([])).await;
    let create = t
        .mock("POST", "/rest/dmpSegments")
        .match_body(mockito::Matcher::Exact(
            r#"{"name":"personas_test_audience","sourcePlatform":"SEGMENT","sourceSegmentId":"personas_test_audience","account":"urn:li:sponsoredAccount:456","type":"USER","destinations":[{"destination":"LINKEDIN"}]}"#.into(),
        ))
        .with_status(200)
        .create_async()
        .await;
    let mut opts = default_options();
    opts.settings = Some(settings("456"));
    let e = t.test_action("updateAudience", opts).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Integration);
    assert_eq!(e.code(), Some("CREATE_SEGMENT_FAILURE"));
    assert_eq!(
        e.message(),
        "LinkedIn did not return an id for the newly created DMP Segment."
    );
    create.assert_async().await;
}

/// 7.2 #3: with an explicit action the source segment id may differ from the audience key; the
/// lookup uses the audience key.
#[tokio::test]
async fn explicit_action_skips_the_key_match_check() {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let x = t
        .test_action(
            "updateAudience",
            options(
                event(),
                json!({"source_segment_id": "mismatched_segment",
                       "personas_audience_key": "personas_test_audience", "dmp_user_action": "ADD"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(x[1].request.body.as_deref(), Some(users_body().as_str()));
}

async fn action_sent_for(mapping: Value, event: Value) -> Value {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let x = t
        .test_action("updateAudience", options(event, mapping))
        .await
        .unwrap();
    body_json(&x[1])["elements"][0]["action"].clone()
}

/// 7.2 #4: `dmp_user_action: ADD`.
#[tokio::test]
async fn explicit_add_adds() {
    let a = action_sent_for(
        json!({"personas_audience_key": "personas_test_audience", "dmp_user_action": "ADD"}),
        event(),
    )
    .await;
    assert_eq!(a, "ADD");
}

/// 7.2 #5: `dmp_user_action: REMOVE` (even for an "Audience Entered" event).
#[tokio::test]
async fn explicit_remove_removes() {
    let a = action_sent_for(
        json!({"personas_audience_key": "personas_test_audience", "dmp_user_action": "REMOVE"}),
        event(),
    )
    .await;
    assert_eq!(a, "REMOVE");
}

/// 7.2 #6: a Journeys step event with Auto Detect adds (the computation class is ignored).
#[tokio::test]
async fn journeys_event_with_auto_adds() {
    let mut e = event();
    e["context"]["personas"] = json!({"computation_class": "journey_step",
        "computation_key": "personas_test_audience"});
    let a = action_sent_for(
        json!({"personas_audience_key": "personas_test_audience", "dmp_user_action": "AUTO"}),
        e,
    )
    .await;
    assert_eq!(a, "ADD");
}

/// An "Audience Exited" event with Auto Detect removes.
#[tokio::test]
async fn audience_exited_with_auto_removes() {
    let mut e = event();
    e["event"] = json!("Audience Exited");
    let a = action_sent_for(
        json!({"personas_audience_key": "personas_test_audience"}),
        e,
    )
    .await;
    assert_eq!(a, "REMOVE");
}

async fn users_body_for_root_email(email: &str) -> (usize, String) {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let e = json!({
        "event": "Audience Entered", "type": "track",
        "properties": {"audience_key": "personas_test_audience"},
        "traits": {"email": email},
        "context": {"device": {"advertisingId": "123"}}
    });
    let x = t
        .test_action(
            "updateAudience",
            options(
                e,
                json!({"personas_audience_key": "personas_test_audience", "dmp_user_action": "ADD"}),
            ),
        )
        .await
        .unwrap();
    (x.len(), x[1].request.body.clone().unwrap_or_default())
}

/// 7.2 #7: the email comes from the top-level traits when the context has none.
#[tokio::test]
async fn email_falls_back_to_the_top_level_traits() {
    let (count, body) = users_body_for_root_email("testing@testing.com").await;
    assert_eq!(count, 2);
    assert_eq!(body, users_body());
}

/// 7.2 #8: an email that already is a SHA-256 digest is sent unchanged.
#[tokio::test]
async fn a_pre_hashed_email_is_sent_unchanged() {
    let (_, body) = users_body_for_root_email(HASH).await;
    assert_eq!(body, users_body());
}

/// 7.2 #9: the same with the reference's "smart hashing" test (no flag): identical body.
#[tokio::test]
async fn smart_hashing_without_a_flag_sends_the_digest_unchanged() {
    let (count, body) = users_body_for_root_email(HASH).await;
    assert_eq!(count, 2);
    assert_eq!(body, users_body());
}

/// 7.2 #10: every optional user field, in the reference's key order.
#[tokio::test]
async fn sends_every_user_field() {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let e = json!({
        "event": "Audience Entered", "type": "track",
        "properties": {"audience_key": "personas_test_audience"},
        "traits": {"email": "testing@testing.com", "firstName": "John", "lastName": "Doe",
                   "title": "CEO", "company": "Acme", "country": "US"},
        "context": {"device": {"advertisingId": "123"}}
    });
    let x = t
        .test_action(
            "updateAudience",
            options(
                e,
                json!({"personas_audience_key": "personas_test_audience", "dmp_user_action": "ADD"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        x[1].request.body.as_deref().unwrap(),
        format!(
            r#"{{"elements":[{{"action":"ADD","userIds":[{{"idType":"SHA256_EMAIL","idValue":"{HASH}"}},{{"idType":"GOOGLE_AID","idValue":"123"}}],"firstName":"John","lastName":"Doe","title":"CEO","company":"Acme","country":"US"}}]}}"#
        )
    );
}

fn computation_key_event(with_audience_key: bool) -> Value {
    let mut e = json!({
        "event": "Audience Entered", "type": "track", "properties": {},
        "context": {"personas": {"computation_key": "from_computation_key"},
                    "traits": {"email": "testing@testing.com"}, "device": {"advertisingId": "123"}}
    });
    if with_audience_key {
        e["properties"]["audience_key"] = json!("from_properties_audience_key");
    }
    e
}

/// 7.2 #11: without `properties.audience_key` the computation key names the segment.
#[tokio::test]
async fn uses_the_computation_key_without_an_audience_key() {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "from_computation_key",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let x = t
        .test_action(
            "updateAudience",
            options(
                computation_key_event(false),
                json!({"personas_audience_key": "from_computation_key"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(x.len(), 2);
}

/// 7.2 #12: `properties.audience_key` wins over the computation key.
#[tokio::test]
async fn prefers_the_audience_key_over_the_computation_key() {
    let mut t = harness().await;
    let l = mock_lookup(
        &mut t,
        "123",
        "from_properties_audience_key",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    t.test_action(
        "updateAudience",
        options(
            computation_key_event(true),
            json!({"personas_audience_key": "from_properties_audience_key"}),
        ),
    )
    .await
    .unwrap();
    l.assert_async().await;
}

async fn created_segment_body(with_audience_key: bool, key: &str) -> Value {
    let mut t = harness().await;
    mock_lookup(&mut t, "123", key, json!([])).await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(200)
        .with_header("x-linkedin-id", "new_dmp_segment_id")
        .with_header(JSON.0, JSON.1)
        .with_body("{}")
        .create_async()
        .await;
    let users = mock_users(&mut t, "new_dmp_segment_id", 200, "{}").await;
    let x = t
        .test_action(
            "updateAudience",
            options(
                computation_key_event(with_audience_key),
                json!({"personas_audience_key": key}),
            ),
        )
        .await
        .unwrap();
    users.assert_async().await;
    assert_eq!(x[1].request.url, format!("{BASE}/dmpSegments"));
    body_json(&x[1])
}

/// 7.2 #13: a created segment is named after the computation key and its id comes from
/// `x-linkedin-id`.
#[tokio::test]
async fn creates_the_segment_named_after_the_computation_key() {
    let body = created_segment_body(false, "from_computation_key").await;
    assert_eq!(
        body.to_string(),
        r#"{"name":"from_computation_key","sourcePlatform":"SEGMENT","sourceSegmentId":"from_computation_key","account":"urn:li:sponsoredAccount:123","type":"USER","destinations":[{"destination":"LINKEDIN"}]}"#
    );
}

/// 7.2 #14: … or after the audience key when there is one.
#[tokio::test]
async fn creates_the_segment_named_after_the_audience_key() {
    let body = created_segment_body(true, "from_properties_audience_key").await;
    assert_eq!(body["name"], "from_properties_audience_key");
    assert_eq!(body["sourceSegmentId"], "from_properties_audience_key");
}

fn cache_options() -> TestOptions {
    options(
        event(),
        json!({"source_segment_id": "personas_test_audience",
               "personas_audience_key": "personas_test_audience"}),
    )
}

/// 7.2 #15: a cached segment id is used without a lookup.
#[tokio::test]
async fn a_cached_segment_id_skips_the_lookup() {
    let mut t = harness().await;
    t.state().set(
        "dmpsegment_id_personas_test_audience",
        "cached_dmp_segment_id".into(),
        Ttl::NONE,
    );
    mock_users(&mut t, "cached_dmp_segment_id", 200, "{}").await;
    let x = t
        .test_action("updateAudience", cache_options())
        .await
        .unwrap();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].request.body.as_deref(), Some(users_body().as_str()));
}

/// 7.2 #16: a looked-up id is cached for 24 hours.
#[tokio::test]
async fn a_found_segment_id_is_cached_for_a_day() {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let x = t
        .test_action("updateAudience", cache_options())
        .await
        .unwrap();
    assert_eq!(x.len(), 2);
    assert_eq!(
        t.state().entries(),
        [(
            "dmpsegment_id_personas_test_audience".to_string(),
            "dmp_segment_id".to_string(),
            Ttl::hours(24)
        )]
    );
}

/// 7.2 #17: a created id is cached without expiry.
#[tokio::test]
async fn a_created_segment_id_is_cached_without_expiry() {
    let mut t = harness().await;
    mock_lookup(&mut t, "456", "personas_test_audience", json!([])).await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(201)
        .with_header("x-linkedin-id", "new_dmp_segment_id")
        .create_async()
        .await;
    mock_users(&mut t, "new_dmp_segment_id", 200, "{}").await;
    let mut opts = cache_options();
    opts.settings = Some(settings("456"));
    let x = t.test_action("updateAudience", opts).await.unwrap();
    assert_eq!(x.len(), 3);
    assert_eq!(
        t.state().entries(),
        [(
            "dmpsegment_id_personas_test_audience".to_string(),
            "new_dmp_segment_id".to_string(),
            Ttl::NONE
        )]
    );
}

async fn users_error(status: usize, body: &str) -> Error {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", status, body).await;
    t.test_action("updateAudience", default_options())
        .await
        .unwrap_err()
}

/// 7.2 #18: a 401 from the users endpoint is an invalid-authentication error.
#[tokio::test]
async fn a_401_is_an_invalid_authentication_error() {
    let e = users_error(401, r#"{"message":"Unauthorized","status":401}"#).await;
    assert_eq!(e.class(), ErrorClass::InvalidAuthentication);
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        e.message(),
        "Invalid LinkedIn OAuth access token. Please reauthenticate to retrieve a valid access token."
    );
}

/// 7.2 #19: any other status (404 here) is retried as a whole.
#[tokio::test]
async fn other_statuses_are_retryable() {
    let e = users_error(404, r#"{"message":"Not Found","status":404}"#).await;
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        e.message(),
        "Error while attempting to update LinkedIn DMP Segment. This batch will be retried."
    );
    // Only 200 counts as a success, 201 included.
    let e = users_error(201, "{}").await;
    assert_eq!(e.class(), ErrorClass::Retryable);
}

async fn validation_error(mapping: Value, settings_value: Value) -> Error {
    let mut t = harness().await;
    let mut opts = options(event(), mapping);
    opts.settings = Some(settings_value);
    t.test_action("updateAudience", opts).await.unwrap_err()
}

/// 7.2 #20: a `null` action counts as Auto Detect, which needs matching keys; no request.
#[tokio::test]
async fn null_action_requires_matching_keys() {
    let e = validation_error(
        json!({"personas_audience_key": "mismatched_audience", "dmp_user_action": null}),
        settings("123"),
    )
    .await;
    assert_eq!(e.code(), Some("INVALID_SETTINGS"));
    assert_eq!(e.status(), Some(400));
    assert_eq!(
        e.message(),
        "The value of `source_segment_id` and `personas_audience_key` must match."
    );
}

/// 7.2 #21: both identifiers turned off.
#[tokio::test]
async fn settings_must_send_an_identifier() {
    let e = validation_error(
        json!({"personas_audience_key": "personas_test_audience"}),
        json!({"ad_account_id": "123", "send_email": false, "send_google_advertising_id": false}),
    )
    .await;
    assert_eq!(e.class(), ErrorClass::Integration);
    assert_eq!(
        e.message(),
        "At least one of `Send Email` or `Send Google Advertising ID` must be set to `true`."
    );
}

/// 7.2 #22: explicit Auto Detect with mismatched keys.
#[tokio::test]
async fn auto_action_requires_matching_keys() {
    let e = validation_error(
        json!({"personas_audience_key": "mismatched_audience", "dmp_user_action": "AUTO"}),
        settings("123"),
    )
    .await;
    assert_eq!(
        e.message(),
        "The value of `source_segment_id` and `personas_audience_key` must match."
    );
}

async fn versions_sent(opts: TestOptions) -> Vec<String> {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    mock_users(&mut t, "dmp_segment_id", 200, "{}").await;
    let x = t.test_action("updateAudience", opts).await.unwrap();
    x.iter()
        .map(|e| {
            e.request
                .header("linkedin-version")
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// 7.2 #23: the stable API version without feature flags.
#[tokio::test]
async fn sends_the_stable_api_version() {
    assert_eq!(versions_sent(default_options()).await, ["202604", "202604"]);
}

/// 7.2 #24: the canary flag selects the canary version (the same value today).
#[tokio::test]
async fn sends_the_canary_api_version_with_the_flag() {
    let opts = default_options().feature("linkedin-audiences-canary-version");
    assert_eq!(versions_sent(opts).await, ["202604", "202604"]);
}

/// No access token: a clear error before any request (the reference sends `Bearer undefined`).
#[tokio::test]
async fn without_an_access_token_nothing_is_sent() {
    let mut t = harness().await;
    let mut opts = default_options();
    opts.auth = Some(actions_core::oauth::AuthTokens::default());
    let e = t.test_action("updateAudience", opts).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidAuthentication);
    assert_eq!(e.status(), Some(401));
}

/// A payload without email or advertising id resolves the segment but sends nothing.
#[tokio::test]
async fn a_payload_without_identifiers_only_resolves_the_segment() {
    let mut t = harness().await;
    mock_lookup(
        &mut t,
        "123",
        "personas_test_audience",
        json!([{"id": "dmp_segment_id"}]),
    )
    .await;
    let mut e = event();
    e["context"] = json!({});
    let x = t
        .test_action(
            "updateAudience",
            options(
                e,
                json!({"personas_audience_key": "personas_test_audience"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(x.len(), 1);
    let last = t.results().last().cloned().unwrap();
    assert_eq!(last.output.as_deref(), Some("Action Executed"));
    assert_eq!(last.data, None);
}
