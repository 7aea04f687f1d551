//! `updateAudience` (reference `updateAudience/__tests__/index.test.ts`, section 7.2), with the
//! real URLs and bodies. The reference's cases that differ only in their inputs are tables here;
//! each row names the reference case it ports.

mod common;

use actions_core::ErrorClass;
use actions_core::context::{StateContext, Ttl};
use actions_core::prelude::*;
use actions_core::request::Exchange;
use actions_testkit::{TestIntegration, TestOptions};
use common::{JSON, body_json, harness, requests, tokens};
use linkedin_audiences::LinkedInAudiences;

const ACTION: &str = "updateAudience";
const BASE: &str = "https://api.linkedin.com/rest";
const HASH: &str = "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777";
const KEY: &str = "personas_test_audience";

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
        "properties": {"audience_key": KEY},
        "context": {"device": {"advertisingId": "123"}, "traits": {"email": "testing@testing.com"}}
    })
}

/// An "Audience Entered" event with the user's traits at the top level (no context traits).
fn root_traits_event(traits: Value) -> Value {
    json!({
        "event": "Audience Entered", "type": "track",
        "properties": {"audience_key": KEY},
        "traits": traits,
        "context": {"device": {"advertisingId": "123"}}
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
    options(event(), json!({"personas_audience_key": KEY}))
}

/// Options with an explicit `dmp_user_action: ADD`.
fn add_options(event: Value) -> TestOptions {
    options(
        event,
        json!({"personas_audience_key": KEY, "dmp_user_action": "ADD"}),
    )
}

/// Mocks the lookup of `key` on ad account `ad` answering with `elements`.
async fn mock_lookup(
    t: &mut TestIntegration<LinkedInAudiences>,
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
    t: &mut TestIntegration<LinkedInAudiences>,
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

/// A harness where the segment of `key` exists on ad account 123 (`dmp_segment_id`) and its
/// users endpoint answers `status` with `body`; the lookup and users mocks are returned to be
/// asserted.
async fn existing_segment(
    key: &str,
    status: usize,
    body: &str,
) -> (TestIntegration<LinkedInAudiences>, [mockito::Mock; 2]) {
    let mut t = harness().await;
    let found = json!([{"id": "dmp_segment_id"}]);
    let lookup = mock_lookup(&mut t, "123", key, found).await;
    let users = mock_users(&mut t, "dmp_segment_id", status, body).await;
    (t, [lookup, users])
}

/// Runs the action against [`existing_segment`] (answering 200 `{}`) and returns what was sent.
async fn send(options: TestOptions) -> (Vec<Exchange>, TestIntegration<LinkedInAudiences>) {
    let (mut t, _) = existing_segment(KEY, 200, "{}").await;
    let x = t.test_action(ACTION, options).await.unwrap();
    (x, t)
}

/// 7.2 #1: an existing segment is looked up and the user added to it.
#[tokio::test]
async fn adds_the_user_to_an_existing_segment() {
    let (mut t, mocks) = existing_segment(KEY, 200, r#"{"elements":[{"status":201}]}"#).await;
    let x = t.test_action(ACTION, default_options()).await.unwrap();
    assert_eq!(
        requests(&x),
        [
            format!("GET https://api.linkedin.com{}", lookup("123", KEY)),
            format!("POST {BASE}/dmpSegments/dmp_segment_id/users"),
        ]
    );
    assert_eq!(x[1].request.body.as_deref(), Some(users_body().as_str()));
    for mock in mocks {
        mock.assert_async().await;
    }
}

/// 7.2 #2: no segment exists, one is created; LinkedIn's answer has no id header. The reference
/// then posts to `/dmpSegments/undefined/users`; we stop with a clear error instead.
#[tokio::test]
async fn creates_a_segment_and_fails_clearly_when_linkedin_returns_no_id() {
    let mut t = harness().await;
    mock_lookup(&mut t, "456", KEY, json!([])).await;
    let create = t
        .mock("POST", "/rest/dmpSegments")
        .match_body(mockito::Matcher::Exact(
            r#"{"name":"personas_test_audience","sourcePlatform":"SEGMENT","sourceSegmentId":"personas_test_audience","account":"urn:li:sponsoredAccount:456","type":"USER","destinations":[{"destination":"LINKEDIN"}]}"#.into(),
        ))
        .with_status(200)
        .create_async()
        .await;
    let opts = default_options().settings(settings("456"));
    let e = t.test_action(ACTION, opts).await.unwrap_err();
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
    let mapping = json!({"source_segment_id": "mismatched_segment",
                         "personas_audience_key": KEY, "dmp_user_action": "ADD"});
    let (x, _) = send(options(event(), mapping)).await;
    assert_eq!(x[1].request.body.as_deref(), Some(users_body().as_str()));
}

/// 7.2 #4–#6 and Audience Exited: the action sent follows the explicit choice, else the event.
#[tokio::test]
async fn the_action_follows_the_choice_then_the_event() {
    let mut journey = event();
    journey["context"]["personas"] =
        json!({"computation_class": "journey_step", "computation_key": KEY});
    let mut exited = event();
    exited["event"] = json!("Audience Exited");
    let cases = [
        ("#4 explicit ADD", Some("ADD"), event(), "ADD"),
        (
            "#5 explicit REMOVE on entry",
            Some("REMOVE"),
            event(),
            "REMOVE",
        ),
        ("#6 journey step, AUTO", Some("AUTO"), journey, "ADD"),
        ("Audience Exited, no action", None, exited, "REMOVE"),
    ];
    for (case, action, event, expected) in cases {
        let mut mapping = json!({"personas_audience_key": KEY});
        if let Some(action) = action {
            mapping["dmp_user_action"] = json!(action);
        }
        let (x, _) = send(options(event, mapping)).await;
        assert_eq!(
            body_json(&x[1])["elements"][0]["action"],
            expected,
            "{case}"
        );
    }
}

/// 7.2 #7–#9: the email comes from the top-level traits when the context has none; a value that
/// already is a SHA-256 digest is sent unchanged (#8; #9 is the reference's "smart hashing" test
/// without a flag: the same body).
#[tokio::test]
async fn top_level_emails_and_digests_send_the_same_body() {
    for (case, email) in [("#7", "testing@testing.com"), ("#8", HASH), ("#9", HASH)] {
        let event = root_traits_event(json!({"email": email}));
        let (x, _) = send(add_options(event)).await;
        assert_eq!(x.len(), 2, "{case}");
        assert_eq!(
            x[1].request.body.as_deref(),
            Some(users_body().as_str()),
            "{case}"
        );
    }
}

/// 7.2 #10: every optional user field, in the reference's key order.
#[tokio::test]
async fn sends_every_user_field() {
    let event = root_traits_event(json!({"email": "testing@testing.com", "firstName": "John",
        "lastName": "Doe", "title": "CEO", "company": "Acme", "country": "US"}));
    let (x, _) = send(add_options(event)).await;
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

/// The segment key and whether the event has `properties.audience_key`: 7.2 #11 (#13) without
/// it the computation key names the segment; 7.2 #12 (#14) with it the audience key wins.
const KEY_SOURCES: [(&str, bool); 2] = [
    ("from_computation_key", false),
    ("from_properties_audience_key", true),
];

/// 7.2 #11, #12: the lookup uses the computation key, or the audience key when there is one.
#[tokio::test]
async fn looks_up_the_segment_by_the_right_key() {
    for (key, with_audience_key) in KEY_SOURCES {
        let (mut t, [lookup, _]) = existing_segment(key, 200, "{}").await;
        let opts = options(
            computation_key_event(with_audience_key),
            json!({"personas_audience_key": key}),
        );
        let x = t.test_action(ACTION, opts).await.unwrap();
        assert_eq!(x.len(), 2, "{key}");
        lookup.assert_async().await;
    }
}

/// 7.2 #13, #14: a created segment is named after that key and its id comes from
/// `x-linkedin-id`.
#[tokio::test]
async fn creates_the_segment_named_after_the_right_key() {
    for (key, with_audience_key) in KEY_SOURCES {
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
        let opts = options(
            computation_key_event(with_audience_key),
            json!({"personas_audience_key": key}),
        );
        let x = t.test_action(ACTION, opts).await.unwrap();
        users.assert_async().await;
        assert_eq!(x[1].request.url, format!("{BASE}/dmpSegments"));
        assert_eq!(
            body_json(&x[1]).to_string(),
            format!(
                r#"{{"name":"{key}","sourcePlatform":"SEGMENT","sourceSegmentId":"{key}","account":"urn:li:sponsoredAccount:123","type":"USER","destinations":[{{"destination":"LINKEDIN"}}]}}"#
            )
        );
    }
}

fn cache_options() -> TestOptions {
    options(
        event(),
        json!({"source_segment_id": KEY, "personas_audience_key": KEY}),
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
    let x = t.test_action(ACTION, cache_options()).await.unwrap();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].request.body.as_deref(), Some(users_body().as_str()));
}

/// 7.2 #16: a looked-up id is cached for 24 hours.
#[tokio::test]
async fn a_found_segment_id_is_cached_for_a_day() {
    let (x, t) = send(cache_options()).await;
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
    mock_lookup(&mut t, "456", KEY, json!([])).await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(201)
        .with_header("x-linkedin-id", "new_dmp_segment_id")
        .create_async()
        .await;
    mock_users(&mut t, "new_dmp_segment_id", 200, "{}").await;
    let opts = cache_options().settings(settings("456"));
    let x = t.test_action(ACTION, opts).await.unwrap();
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

/// 7.2 #18: a 401 from the users endpoint is an invalid-authentication error; 7.2 #19: any other
/// status (404 here; 201 too: only 200 counts as a success) is retried as a whole.
#[tokio::test]
async fn users_endpoint_failures_map_to_the_reference_errors() {
    let retried = (
        ErrorClass::Retryable,
        500,
        "Error while attempting to update LinkedIn DMP Segment. This batch will be retried.",
    );
    let cases = [
        (
            401,
            r#"{"message":"Unauthorized","status":401}"#,
            (
                ErrorClass::InvalidAuthentication,
                401,
                "Invalid LinkedIn OAuth access token. Please reauthenticate to retrieve a valid access token.",
            ),
        ),
        (404, r#"{"message":"Not Found","status":404}"#, retried),
        (201, "{}", retried),
    ];
    for (status, body, (class, error_status, message)) in cases {
        let (mut t, _) = existing_segment(KEY, status, body).await;
        let e = t.test_action(ACTION, default_options()).await.unwrap_err();
        assert_eq!(e.class(), class, "{status}");
        assert_eq!(e.status(), Some(error_status), "{status}");
        assert_eq!(e.message(), message, "{status}");
    }
}

/// 7.2 #20–#22: invalid settings fail before any request: a `null` action counts as Auto
/// Detect, which needs matching keys (#20), as does an explicit Auto Detect (#22); both
/// identifiers turned off (#21).
#[tokio::test]
async fn invalid_settings_fail_without_a_request() {
    let mismatch = "The value of `source_segment_id` and `personas_audience_key` must match.";
    let no_identifier =
        "At least one of `Send Email` or `Send Google Advertising ID` must be set to `true`.";
    let cases = [
        (
            "#20",
            json!({"personas_audience_key": "mismatched_audience", "dmp_user_action": null}),
            settings("123"),
            mismatch,
        ),
        (
            "#21",
            json!({"personas_audience_key": KEY}),
            json!({"ad_account_id": "123", "send_email": false, "send_google_advertising_id": false}),
            no_identifier,
        ),
        (
            "#22",
            json!({"personas_audience_key": "mismatched_audience", "dmp_user_action": "AUTO"}),
            settings("123"),
            mismatch,
        ),
    ];
    for (case, mapping, settings, message) in cases {
        let mut t = harness().await;
        let opts = options(event(), mapping).settings(settings);
        let e = t.test_action(ACTION, opts).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Integration, "{case}");
        assert_eq!(e.code(), Some("INVALID_SETTINGS"), "{case}");
        assert_eq!(e.status(), Some(400), "{case}");
        assert_eq!(e.message(), message, "{case}");
    }
}

/// 7.2 #23: the stable API version without feature flags; 7.2 #24: the canary flag selects the
/// canary version (the same value today).
#[tokio::test]
async fn sends_the_api_version_the_flags_select() {
    let canary = default_options().feature("linkedin-audiences-canary-version");
    for opts in [default_options(), canary] {
        let (x, _) = send(opts).await;
        let versions: Vec<_> = x
            .iter()
            .map(|e| e.request.header("linkedin-version").unwrap_or(""))
            .collect();
        assert_eq!(versions, ["202604", "202604"]);
    }
}

/// No access token: a clear error before any request (the reference sends `Bearer undefined`).
#[tokio::test]
async fn without_an_access_token_nothing_is_sent() {
    let mut t = harness().await;
    let opts = default_options().auth(actions_core::oauth::AuthTokens::default());
    let e = t.test_action(ACTION, opts).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidAuthentication);
    assert_eq!(e.status(), Some(401));
}

/// A payload without email or advertising id resolves the segment but sends nothing.
#[tokio::test]
async fn a_payload_without_identifiers_only_resolves_the_segment() {
    let mut t = harness().await;
    mock_lookup(&mut t, "123", KEY, json!([{"id": "dmp_segment_id"}])).await;
    let mut e = event();
    e["context"] = json!({});
    let opts = options(e, json!({"personas_audience_key": KEY}));
    let x = t.test_action(ACTION, opts).await.unwrap();
    assert_eq!(x.len(), 1);
    let last = t.results().last().cloned().unwrap();
    assert_eq!(last.output.as_deref(), Some("Action Executed"));
    assert_eq!(last.data, None);
}
