//! Ports of the reference's `streamConversion/__tests__/index.test.ts` (reference section 7.6),
//! one test each, asserting the real URLs, headers and bodies; then a few behaviours the
//! reference leaves untested (campaign association, the deviations listed in the README).

mod common;

use actions_core::prelude::*;
use actions_core::{DestinationRuntime, RuntimeConfig};
use actions_testkit::{Stamp, TestOptions, create_test_event};
use common::{NOW, body_json, harness, requests};
use linkedin_conversions::LinkedInConversions;
use mockito::Matcher;
use serde_json::Map;

const ACTION: &str = "streamConversion";
const H1: &str = "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777";
const H_E2: &str = "9155510f76fbf498f1d9d69198150962106ee10169eae019115efbeb16969921";

fn event_e() -> Value {
    json!({
        "messageId": "this-is-an-event-id12345",
        "event": "Example Event",
        "type": "track",
        "timestamp": NOW.to_string(),
        "context": {"traits": {
            "email": "testing@testing.com",
            "upperCaseEmail": "WHYAREYOUYELLING@EMAIL.com",
            "preHashedEmail": H1,
            "first_name": "mike",
            "last_name": "smith",
            "title": "software engineer",
            "companyName": "microsoft",
            "countryCode": "US",
            "value": 100
        }},
        "traits": {"email": "testing@testing.com"},
        "properties": {"currency": "USD", "revenue": 200}
    })
}

fn event_e2() -> Value {
    json!({
        "messageId": "another-event-12345",
        "event": "Example Event",
        "type": "track",
        "timestamp": NOW.to_string(),
        "context": {"traits": {
            "email": "nick@testing.com",
            "upperCaseEmail": "some_email@EMAIL.com",
            "first_name": "sponge",
            "last_name": "bob",
            "title": "software engineer",
            "companyName": "Krusty Krab",
            "countryCode": "US",
            "value": 1000
        }},
        "traits": {"email": "nick@testing.com"},
        "properties": {"currency": "USD", "revenue": 300}
    })
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An event 100 days old.
fn stale(email: &str) -> Value {
    json!({
        "type": "track",
        "event": "Example Event",
        "timestamp": iso(NOW - 100 * 24 * 3600 * 1000),
        "context": {"traits": {"email": email}}
    })
}

fn m0() -> Value {
    json!({"onMappingSave": {"inputs": {}, "outputs": {"id": 789123}}, "enable_batching": true, "batch_size": 5000})
}

fn email() -> Value {
    json!({"email": {"@path": "$.context.traits.email"}, "conversionHappenedAt": {"@path": "$.timestamp"}})
}

fn ui() -> Value {
    json!({"userInfo": {
        "firstName": {"@path": "$.context.traits.first_name"},
        "lastName": {"@path": "$.context.traits.last_name"},
        "title": {"@path": "$.context.traits.title"},
        "companyName": {"@path": "$.context.traits.companyName"},
        "countryCode": {"@path": "$.context.traits.countryCode"}
    }})
}

fn cv() -> Value {
    json!({"conversionValue": {"currencyCode": "USD", "amount": {"@path": "$.context.traits.value"}}})
}

/// The union of mapping parts (later parts win).
fn mapping(parts: &[Value]) -> Value {
    let mut m = Map::new();
    for part in parts {
        if let Value::Object(o) = part {
            for (k, v) in o {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(m)
}

fn h1() -> Value {
    json!({"idType": "SHA256_EMAIL", "idValue": H1})
}

/// The element of event E with mapping EMAIL.
fn el_e() -> Value {
    json!({"conversion": "urn:lla:llaPartnerConversion:789123", "conversionHappenedAt": NOW, "user": {"userIds": [h1()]}})
}

fn multistatus_json(t: &actions_testkit::TestIntegration<LinkedInConversions>) -> Vec<Value> {
    t.multistatus()
        .iter()
        .map(|n| serde_json::to_value(n).expect("node serialises"))
        .collect()
}

async fn mock_events(
    t: &mut actions_testkit::TestIntegration<LinkedInConversions>,
    status: usize,
) -> mockito::Mock {
    t.mock("POST", "/rest/conversionEvents")
        .with_status(status)
        .create_async()
        .await
}

// ---------------------------------------------------------------------------------------------
// perform

/// Reference 7.6 #1.
#[tokio::test]
async fn sends_a_conversion_with_a_hashed_email() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[email(), m0()])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(
        requests(&ex),
        ["POST https://api.linkedin.com/rest/conversionEvents"]
    );
    assert_eq!(
        ex[0].request.header("content-type"),
        Some("application/json")
    );
    assert_eq!(ex[0].request.header("x-restli-method"), None);
    assert_eq!(
        ex[0].request.header("x-restli-protocol-version"),
        Some("2.0.0")
    );
    assert_eq!(body_json(&ex[0]), el_e());
}

/// Reference 7.6 #2.
#[tokio::test]
async fn sends_conversion_value_and_user_info() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[email(), cv(), ui(), m0()])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    // The exact text: conversionValue and userInfo keep the mapping's key order.
    assert_eq!(
        ex[0].request.body.as_deref(),
        Some(
            &*json!({
                "conversion": "urn:lla:llaPartnerConversion:789123",
                "conversionHappenedAt": NOW,
                "conversionValue": {"currencyCode": "USD", "amount": "100"},
                "user": {"userIds": [h1()], "userInfo": {
                    "firstName": "mike", "lastName": "smith", "title": "software engineer",
                    "companyName": "microsoft", "countryCode": "US"
                }}
            })
            .to_string()
        )
    );
}

async fn external_ids_body(external_ids: Value) -> Value {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[
                email(),
                cv(),
                ui(),
                m0(),
                json!({"externalIds": external_ids}),
            ])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    body_json(&ex[0])
}

/// Reference 7.6 #3.
#[tokio::test]
async fn sends_external_ids() {
    let body = external_ids_body(json!(["external_id_12345"])).await;
    assert_eq!(body["user"]["externalIds"], json!(["external_id_12345"]));
    assert_eq!(body["user"]["userIds"], json!([h1()]));
}

/// Reference 7.6 #4.
#[tokio::test]
async fn sends_an_external_id_given_as_a_string() {
    let body = external_ids_body(json!("external_id_12345")).await;
    assert_eq!(body["user"]["externalIds"], json!(["external_id_12345"]));
}

/// Reference 7.6 #5.
#[tokio::test]
async fn sends_only_the_first_external_id() {
    let body = external_ids_body(json!(["external_id_12345", "external_id_67890"])).await;
    assert_eq!(body["user"]["externalIds"], json!(["external_id_12345"]));
}

/// Reference 7.6 #6.
#[tokio::test]
async fn batches_events_in_one_batch_create_request() {
    let mut t = harness().await;
    let m = t
        .mock("POST", "/rest/conversionEvents")
        .match_header("x-restli-method", "BATCH_CREATE")
        .with_status(201)
        .create_async()
        .await;
    let ex = t
        .test_batch_action(
            ACTION,
            TestOptions::events(vec![event_e(), event_e2()]).mapping(mapping(&[
                email(),
                cv(),
                ui(),
                m0(),
            ])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].request.header("content-type"),
        Some("application/json")
    );
    assert_eq!(
        body_json(&ex[0]),
        json!({"elements": [
            {
                "conversion": "urn:lla:llaPartnerConversion:789123",
                "conversionHappenedAt": NOW,
                "conversionValue": {"currencyCode": "USD", "amount": "100"},
                "user": {"userIds": [h1()], "userInfo": {
                    "firstName": "mike", "lastName": "smith", "title": "software engineer",
                    "companyName": "microsoft", "countryCode": "US"
                }}
            },
            {
                "conversion": "urn:lla:llaPartnerConversion:789123",
                "conversionHappenedAt": NOW,
                "conversionValue": {"currencyCode": "USD", "amount": "1000"},
                "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": H_E2}], "userInfo": {
                    "firstName": "sponge", "lastName": "bob", "title": "software engineer",
                    "companyName": "Krusty Krab", "countryCode": "US"
                }}
            }
        ]})
    );
    let statuses: Vec<u16> = t.multistatus().iter().map(|n| n.status()).collect();
    assert_eq!(statuses, [201, 201]);
}

/// Reference 7.6 #7.
#[tokio::test]
async fn default_mappings_send_value_event_id_and_email() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e())
                .mapping(m0())
                .default_mappings(),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(
        ex[0].request.body.as_deref(),
        Some(
            &*json!({
                "conversion": "urn:lla:llaPartnerConversion:789123",
                "conversionHappenedAt": NOW,
                "conversionValue": {"currencyCode": "USD", "amount": "200"},
                "eventId": "this-is-an-event-id12345",
                "user": {"userIds": [h1()]}
            })
            .to_string()
        )
    );
}

/// Reference 7.6 #8.
#[tokio::test]
async fn rejects_a_timestamp_older_than_90_days() {
    let mut t = harness().await;
    let err = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(json!({
                "user": {"@path": "$.context.traits.email"},
                "conversionHappenedAt": "50000000000",
                "enable_batching": true,
                "batch_size": 5000
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::PayloadValidation);
    assert_eq!(
        err.message(),
        "Timestamp should be within the past 90 days."
    );
}

/// Reference 7.6 #9.
#[tokio::test]
async fn rejects_a_payload_without_identifiers() {
    let mut t = harness().await;
    let err = t
        .test_action(
            ACTION,
            TestOptions::event(event_e())
                .mapping(json!({"conversionHappenedAt": {"@path": "$.timestamp"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::PayloadValidation);
    assert_eq!(
        err.message(),
        "One of email or LinkedIn UUID or Acxiom ID or Oracle ID is required."
    );
}

/// Reference 7.6 #10.
#[tokio::test]
async fn lower_cases_the_email_before_hashing() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[
                email(),
                m0(),
                json!({"email": {"@path": "$.context.traits.upperCaseEmail"}}),
            ])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(
        body_json(&ex[0])["user"]["userIds"],
        json!([{"idType": "SHA256_EMAIL", "idValue": "691f95429e014a31230a8963ea28daff1da1c2e4d95f9723a4ea36c548ed2e58"}])
    );
}

async fn user_info_error(user_info: Value) -> Error {
    let mut t = harness().await;
    t.test_action(
        ACTION,
        TestOptions::event(event_e()).mapping(mapping(&[
            email(),
            m0(),
            json!({"userInfo": user_info}),
        ])),
    )
    .await
    .unwrap_err()
}

/// Reference 7.6 #11.
#[tokio::test]
async fn rejects_user_info_without_first_and_last_name() {
    let err =
        user_info_error(json!({"companyName": {"@path": "$.context.traits.companyName"}})).await;
    assert_eq!(err.class(), ErrorClass::SchemaValidation);
    assert_eq!(
        err.message(),
        "User Info is missing the required field 'firstName'. User Info is missing the required field 'lastName'."
    );
}

/// Reference 7.6 #12.
#[tokio::test]
async fn rejects_user_info_without_first_name() {
    let err = user_info_error(json!({"lastName": {"@path": "$.context.traits.lastName"}})).await;
    assert!(
        err.message()
            .contains("User Info is missing the required field 'firstName'."),
        "{err}"
    );
}

/// Reference 7.6 #13.
#[tokio::test]
async fn rejects_user_info_without_last_name() {
    let err = user_info_error(json!({"firstName": {"@path": "$.context.traits.firstName"}})).await;
    assert!(
        err.message()
            .contains("User Info is missing the required field 'lastName'."),
        "{err}"
    );
}

/// Reference 7.6 #14.
#[tokio::test]
async fn passes_an_already_hashed_email_through() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[
                email(),
                m0(),
                json!({"email": {"@path": "$.context.traits.preHashedEmail"}}),
            ])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(body_json(&ex[0])["user"]["userIds"], json!([h1()]));
}

/// Reference 7.6 #15.
#[tokio::test]
async fn conversion_rules_field_needs_an_ad_account() {
    let mut t = harness().await;
    let r = t
        .test_dynamic_field(
            ACTION,
            "conversionRuleId",
            &json!({}),
            &json!({"adAccountId": ""}),
        )
        .await
        .expect("answered");
    assert_eq!(
        serde_json::to_value(&r).expect("serialises"),
        json!({"choices": [], "error": {
            "message": "Please select Ad Account first to get list of Conversion Rules.",
            "code": "FIELD_NOT_SELECTED"
        }})
    );
}

/// Reference 7.6 #16.
#[tokio::test]
async fn campaigns_field_needs_an_ad_account() {
    let mut t = harness().await;
    let r = t
        .test_dynamic_field(
            ACTION,
            "campaignId",
            &json!({}),
            &json!({"adAccountId": ""}),
        )
        .await
        .expect("answered");
    assert_eq!(
        serde_json::to_value(&r).expect("serialises"),
        json!({"choices": [], "error": {
            "message": "Please select Ad Account first to get list of Conversion Rules.",
            "code": "FIELD_NOT_SELECTED"
        }})
    );
}

async fn version_sent(options: TestOptions) -> Option<String> {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(ACTION, options.mapping(mapping(&[email(), m0()])))
        .await
        .expect("sent");
    m.assert_async().await;
    ex[0].request.header("linkedin-version").map(str::to_string)
}

/// Reference 7.6 #17.
#[tokio::test]
async fn sends_the_stable_api_version_without_features() {
    let version = version_sent(TestOptions::event(event_e())).await;
    assert_eq!(version.as_deref(), Some("202603"));
}

/// Reference 7.6 #18.
#[tokio::test]
async fn sends_the_canary_api_version_with_the_canary_flag() {
    let version =
        version_sent(TestOptions::event(event_e()).feature("linkedin-conversions-canary-version"))
            .await;
    assert_eq!(version.as_deref(), Some("202603"));
}

/// Reference 7.6 #19.
#[tokio::test]
async fn accepts_an_epoch_millisecond_string_timestamp() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[email(), m0()])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(body_json(&ex[0])["conversionHappenedAt"], json!(NOW));
    assert_eq!(
        t.results().last().and_then(|r| r.output.as_deref()),
        Some("Action Executed")
    );
}

/// Reference 7.6 #20.
#[tokio::test]
async fn accepts_an_epoch_millisecond_string_one_day_old() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let day_ago = NOW - 24 * 3600 * 1000;
    let mut event = event_e();
    event["timestamp"] = json!(day_ago.to_string());
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event).mapping(mapping(&[email(), m0()])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(body_json(&ex[0])["conversionHappenedAt"], json!(day_ago));
}

async fn uses_saved_rule(rule_id: &str) {
    let mut t = harness().await;
    let create = t
        .mock("POST", "/rest/conversions")
        .with_status(201)
        .expect(0)
        .create_async()
        .await;
    let events = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[
                email(),
                json!({"onMappingSave": {"inputs": {}, "outputs": {"id": rule_id}}}),
            ])),
        )
        .await
        .expect("sent");
    events.assert_async().await;
    // `expect(0)`: asserting the mock checks it was never called (no rule is created).
    create.assert_async().await;
    assert_eq!(
        requests(&ex),
        ["POST https://api.linkedin.com/rest/conversionEvents"]
    );
    assert_eq!(
        body_json(&ex[0])["conversion"],
        json!(format!("urn:lla:llaPartnerConversion:{rule_id}"))
    );
}

/// Reference 7.6 #21.
#[tokio::test]
async fn uses_the_saved_rule_123456_without_creating_one() {
    uses_saved_rule("123456").await;
}

/// Reference 7.6 #22.
#[tokio::test]
async fn uses_the_saved_rule_existing123_without_creating_one() {
    uses_saved_rule("existing123").await;
}

/// Reference 7.6 #23.
#[tokio::test]
async fn uses_the_saved_rule_789456_without_creating_one() {
    uses_saved_rule("789456").await;
}

// ---------------------------------------------------------------------------------------------
// onMappingSave

async fn run_hook(
    t: &mut actions_testkit::TestIntegration<LinkedInConversions>,
    inputs: Value,
    outputs: Value,
) -> Value {
    let r = t
        .test_hook(ACTION, "onMappingSave", &json!({}), &inputs, Some(&outputs))
        .await
        .expect("the hook answers");
    serde_json::to_value(r).expect("serialises")
}

/// Reference 7.6 #24.
#[tokio::test]
async fn hook_lists_every_missing_field_for_a_new_rule() {
    let mut t = harness().await;
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345"}),
        json!({}),
    )
    .await;
    assert_eq!(
        r,
        json!({"error": {
            "message": "Missing required fields for creating a new conversion rule: Name, Conversion Type, Attribution Type",
            "code": "MISSING_REQUIRED_FIELD"
        }})
    );
}

/// Reference 7.6 #25.
#[tokio::test]
async fn hook_lists_the_remaining_missing_fields() {
    let mut t = harness().await;
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345", "name": "My Rule"}),
        json!({}),
    )
    .await;
    assert_eq!(
        r["error"]["message"],
        "Missing required fields for creating a new conversion rule: Conversion Type, Attribution Type"
    );
}

/// Reference 7.6 #26.
#[tokio::test]
async fn hook_uses_an_existing_rule() {
    let mut t = harness().await;
    let get = t
        .mock(
            "GET",
            "/rest/conversions/existingRule123?account=urn%3Ali%3AsponsoredAccount%3A12345",
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"name":"Existing Rule","type":"PURCHASE","attributionType":"LAST_TOUCH_BY_CAMPAIGN","postClickAttributionWindowSize":30,"viewThroughAttributionWindowSize":7}"#)
        .create_async()
        .await;
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345", "conversionRuleId": "existingRule123"}),
        json!({}),
    )
    .await;
    get.assert_async().await;
    assert_eq!(
        r,
        json!({
            "successMessage": "Using existing Conversion Rule: existingRule123 ",
            "savedData": {
                "id": "existingRule123", "name": "Existing Rule", "conversionType": "PURCHASE",
                "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
                "post_click_attribution_window_size": 30, "view_through_attribution_window_size": 7
            }
        })
    );
}

/// Reference 7.6 #27.
#[tokio::test]
async fn hook_updates_the_previous_rule_even_without_changes() {
    let mut t = harness().await;
    let update = t
        .mock(
            "POST",
            "/rest/conversions/prevRule456?account=urn%3Ali%3AsponsoredAccount%3A12345",
        )
        .match_header("x-restli-method", "PARTIAL_UPDATE")
        .match_body(Matcher::Json(json!({"patch": {"$set": {}}})))
        .with_status(200)
        .create_async()
        .await;
    let previous = json!({
        "id": "prevRule456", "name": "Previous Rule", "conversionType": "LEAD",
        "attribution_type": "LAST_TOUCH_BY_CONVERSION",
        "post_click_attribution_window_size": 30, "view_through_attribution_window_size": 7
    });
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345"}),
        json!({"onMappingSave": {"outputs": previous}}),
    )
    .await;
    update.assert_async().await;
    assert_eq!(
        r,
        json!({"successMessage": "Conversion rule prevRule456 updated successfully!", "savedData": previous})
    );
}

/// Reference 7.6 #28.
#[tokio::test]
async fn hook_creates_a_new_rule() {
    let mut t = harness().await;
    let create = t
        .mock("POST", "/rest/conversions")
        .match_body(Matcher::Exact(r#"{"name":"New Rule","account":"urn:li:sponsoredAccount:12345","conversionMethod":"CONVERSIONS_API","postClickAttributionWindowSize":30,"viewThroughAttributionWindowSize":7,"attributionType":"LAST_TOUCH_BY_CAMPAIGN","type":"PURCHASE"}"#.into()))
        .with_status(201)
        .with_header("content-type", "application/json")
        .with_body(r#"{"id":"newRule789","name":"New Rule","type":"PURCHASE","attributionType":"LAST_TOUCH_BY_CAMPAIGN","postClickAttributionWindowSize":30,"viewThroughAttributionWindowSize":7}"#)
        .create_async()
        .await;
    let r = run_hook(
        &mut t,
        json!({
            "adAccountId": "urn:li:sponsoredAccount:12345", "name": "New Rule",
            "conversionType": "PURCHASE", "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
            "post_click_attribution_window_size": 30, "view_through_attribution_window_size": 7
        }),
        json!({}),
    )
    .await;
    create.assert_async().await;
    assert_eq!(
        r,
        json!({
            "successMessage": "Conversion rule newRule789 created successfully!",
            "savedData": {
                "id": "newRule789", "name": "New Rule", "conversionType": "PURCHASE",
                "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
                "post_click_attribution_window_size": 30, "view_through_attribution_window_size": 7
            }
        })
    );
}

/// Reference 7.6 #29.
#[tokio::test]
async fn hook_needs_an_ad_account_to_create_a_rule() {
    let mut t = harness().await;
    let r = run_hook(
        &mut t,
        json!({
            "adAccountId": "", "name": "New Rule", "conversionType": "PURCHASE",
            "attribution_type": "LAST_TOUCH_BY_CAMPAIGN"
        }),
        json!({}),
    )
    .await;
    assert_eq!(
        r,
        json!({"error": {
            "message": "Failed to create conversion rule: No Ad Account selected.",
            "code": "CONVERSION_RULE_CREATION_FAILURE"
        }})
    );
}

// ---------------------------------------------------------------------------------------------
// performBatch: multistatus

async fn batch(
    events: Vec<Value>,
    answer: Option<(usize, &str, &str)>,
) -> (
    Vec<Value>,
    Vec<actions_core::request::Exchange>,
    actions_testkit::TestIntegration<LinkedInConversions>,
) {
    let mut t = harness().await;
    let mock = match answer {
        Some((status, content_type, body)) => Some(
            t.mock("POST", "/rest/conversionEvents")
                .with_status(status)
                .with_header("content-type", content_type)
                .with_body(body)
                .create_async()
                .await,
        ),
        None => None,
    };
    let ex = t
        .test_batch_action(
            ACTION,
            TestOptions::events(events).mapping(mapping(&[email(), m0()])),
        )
        .await
        .expect("the batch ran");
    if let Some(m) = mock {
        m.assert_async().await;
    }
    (multistatus_json(&t), ex, t)
}

fn validation_node(message: &str) -> Value {
    json!({"status": 400, "errortype": "PAYLOAD_VALIDATION_FAILED", "errormessage": message, "errorreporter": "INTEGRATIONS"})
}

const STALE: &str = "Timestamp should be within the past 90 days.";

/// Reference 7.6 #30.
#[tokio::test]
async fn batch_sends_only_valid_events_and_reports_stale_ones() {
    let (nodes, ex, _t) = batch(
        vec![event_e(), stale("stale@example.com")],
        Some((201, "text/plain", "")),
    )
    .await;
    assert_eq!(body_json(&ex[0]), json!({"elements": [el_e()]}));
    assert_eq!(nodes[0], json!({"status": 201, "sent": el_e(), "body": ""}));
    assert_eq!(nodes[1], validation_node(STALE));
}

/// Reference 7.6 #31.
#[tokio::test]
async fn batch_of_only_invalid_events_sends_nothing() {
    let (nodes, ex, _t) = batch(
        vec![stale("stale@example.com"), stale("stale2@example.com")],
        None,
    )
    .await;
    assert!(ex.is_empty());
    assert_eq!(nodes, [validation_node(STALE), validation_node(STALE)]);
}

/// Reference 7.6 #32.
#[tokio::test]
async fn batch_reports_events_without_identifiers() {
    let no_ids = json!({"type": "track", "timestamp": NOW.to_string(), "context": {"traits": {}}});
    let (nodes, ex, _t) = batch(vec![event_e(), no_ids], Some((201, "text/plain", ""))).await;
    assert_eq!(body_json(&ex[0]), json!({"elements": [el_e()]}));
    assert_eq!(nodes[0]["status"], 201);
    assert_eq!(
        nodes[1],
        validation_node("One of email or LinkedIn UUID or Acxiom ID or Oracle ID is required.")
    );
}

/// Reference 7.6 #33.
#[tokio::test]
async fn batch_keeps_results_in_event_order() {
    let (nodes, ex, _t) = batch(
        vec![stale("a@example.com"), event_e(), stale("b@example.com")],
        Some((201, "text/plain", "")),
    )
    .await;
    assert_eq!(body_json(&ex[0]), json!({"elements": [el_e()]}));
    let statuses: Vec<&Value> = nodes.iter().map(|n| &n["status"]).collect();
    assert_eq!(statuses, [&json!(400), &json!(201), &json!(400)]);
}

fn destination_error(status: u16, errortype: &str, message: &str, sent: Value) -> Value {
    json!({"status": status, "errortype": errortype, "errormessage": message, "sent": sent, "errorreporter": "DESTINATION"})
}

/// Reference 7.6 #34.
#[tokio::test]
async fn batch_reports_a_401_per_event_without_throwing() {
    let (nodes, _ex, _t) = batch(
        vec![event_e()],
        Some((401, "application/json", r#"{"message":"Unauthorized"}"#)),
    )
    .await;
    assert_eq!(
        nodes,
        [destination_error(
            401,
            "UNAUTHORIZED",
            r#"{"message":"Unauthorized"}"#,
            el_e()
        )]
    );
}

/// Reference 7.6 #35.
#[tokio::test]
async fn batch_reports_a_401_for_every_event() {
    let (nodes, _ex, _t) = batch(
        vec![event_e(), event_e2()],
        Some((401, "application/json", r#"{"message":"Unauthorized"}"#)),
    )
    .await;
    assert_eq!(nodes.len(), 2);
    for n in &nodes {
        assert_eq!(n["status"], 401);
        assert_eq!(n["errorreporter"], "DESTINATION");
    }
    assert_eq!(
        nodes[1]["sent"]["user"]["userIds"][0]["idValue"],
        json!(H_E2)
    );
}

/// Reference 7.6 #36.
#[tokio::test]
async fn batch_reports_validation_and_401_side_by_side() {
    let (nodes, _ex, _t) = batch(
        vec![stale("stale@example.com"), event_e()],
        Some((401, "application/json", r#"{"message":"Unauthorized"}"#)),
    )
    .await;
    assert_eq!(nodes[0], validation_node(STALE));
    assert_eq!(
        nodes[1],
        destination_error(401, "UNAUTHORIZED", r#"{"message":"Unauthorized"}"#, el_e())
    );
}

/// Reference 7.6 #37.
#[tokio::test]
async fn batch_reports_rate_limiting_per_event() {
    let (nodes, _ex, _t) = batch(
        vec![event_e(), event_e2()],
        Some((429, "text/plain", "Too Many Requests")),
    )
    .await;
    for n in &nodes {
        assert_eq!(n["status"], 429);
        assert_eq!(n["errortype"], "TOO_MANY_REQUESTS");
        assert_eq!(n["errormessage"], "Too Many Requests");
        assert_eq!(n["errorreporter"], "DESTINATION");
    }
}

/// Reference 7.6 #38.
#[tokio::test]
async fn batch_reports_linkedins_error_body() {
    let (nodes, _ex, _t) = batch(
        vec![event_e()],
        Some((
            400,
            "application/json",
            r#"{"message":"Invalid conversion rule ID","code":"INVALID_CONVERSION_RULE"}"#,
        )),
    )
    .await;
    assert_eq!(nodes[0]["status"], 400);
    assert_eq!(nodes[0]["errortype"], "BAD_REQUEST");
    assert_eq!(nodes[0]["errorreporter"], "DESTINATION");
    assert!(
        nodes[0]["errormessage"]
            .as_str()
            .is_some_and(|m| m.contains("INVALID_CONVERSION_RULE"))
    );
}

/// Reference 7.6 #39.
#[tokio::test]
async fn batch_reports_a_server_error_with_what_was_sent() {
    let (nodes, _ex, _t) = batch(
        vec![event_e()],
        Some((500, "text/plain", "Internal Server Error")),
    )
    .await;
    assert_eq!(
        nodes,
        [destination_error(
            500,
            "INTERNAL_SERVER_ERROR",
            "Internal Server Error",
            el_e()
        )]
    );
}

/// Reference 7.6 #40.
#[tokio::test]
async fn batch_reports_a_server_error_for_every_event() {
    let (nodes, _ex, _t) = batch(
        vec![event_e(), event_e2()],
        Some((500, "text/plain", "Internal Server Error")),
    )
    .await;
    let statuses: Vec<&Value> = nodes.iter().map(|n| &n["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500)]);
    assert!(nodes.iter().all(|n| n["errorreporter"] == "DESTINATION"));
}

/// Reference 7.6 #41.
#[tokio::test]
async fn batch_fails_as_a_whole_on_a_connection_error() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let config = RuntimeConfig {
        origins: actions_core::request::OriginOverrides::new().with(
            "https://api.linkedin.com",
            &format!("http://127.0.0.1:{port}"),
        ),
        ..common::config(NOW, &[])
    };
    let runtime =
        DestinationRuntime::with_config(LinkedInConversions::new(), config).expect("runtime");
    let events = vec![create_test_event(
        event_e(),
        Stamp::Fixed {
            seed: 1,
            now_ms: NOW,
        },
    )];
    let err = runtime
        .execute_batch_action(
            ACTION,
            &events,
            &mapping(&[email(), m0()]),
            &json!({}),
            None,
            &EventOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::RequestClient);
}

// ---------------------------------------------------------------------------------------------
// Beyond the reference's tests

#[tokio::test]
async fn batch_without_a_rule_id_fails_as_a_whole() {
    let mut t = harness().await;
    let err = t
        .test_batch_action(
            ACTION,
            TestOptions::events(vec![event_e()]).mapping(email()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::PayloadValidation);
    assert_eq!(err.message(), "Conversion Rule ID is required.");
}

#[tokio::test]
async fn sends_every_identifier_in_the_reference_order() {
    let mut t = harness().await;
    let m = mock_events(&mut t, 201).await;
    let ex = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[
                email(),
                m0(),
                json!({"linkedInUUID": "li-uuid", "acxiomID": "ax-1", "oracleID": "or-1"}),
            ])),
        )
        .await
        .expect("sent");
    m.assert_async().await;
    assert_eq!(
        body_json(&ex[0])["user"]["userIds"],
        json!([
            h1(),
            {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "li-uuid"},
            {"idType": "AXCIOM_ID", "idValue": "ax-1"},
            {"idType": "ORACLE_MOAT_ID", "idValue": "or-1"}
        ])
    );
}

#[tokio::test]
async fn rejects_a_timestamp_that_is_not_a_date() {
    let mut t = harness().await;
    let err = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[
                email(),
                m0(),
                json!({"conversionHappenedAt": "garbage"}),
            ])),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message(), "Timestamp is not a valid date.");
}

#[tokio::test]
async fn a_single_event_error_is_the_raw_http_error() {
    let mut t = harness().await;
    t.mock("POST", "/rest/conversionEvents")
        .with_status(404)
        .create_async()
        .await;
    let err = t
        .test_action(
            ACTION,
            TestOptions::event(event_e()).mapping(mapping(&[email(), m0()])),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Http);
    assert_eq!(err.message(), "Not Found");
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn hook_associates_several_campaigns_once_each() {
    let mut t = harness().await;
    t.mock(
        "GET",
        "/rest/conversions/r1?account=urn%3Ali%3AsponsoredAccount%3A12345",
    )
    .with_status(200)
    .with_header("content-type", "application/json")
    .with_body(r#"{"name":"Rule","type":"LEAD","attributionType":"LAST_TOUCH_BY_CAMPAIGN"}"#)
    .create_async()
    .await;
    let put = t
        .mock(
            "PUT",
            "/rest/campaignConversions?ids=List((campaign:urn%3Ali%3AsponsoredCampaign%3A5,conversion:urn%3Alla%3AllaPartnerConversion%3Ar1),(campaign:urn%3Ali%3AsponsoredCampaign%3A6,conversion:urn%3Alla%3AllaPartnerConversion%3Ar1))",
        )
        .match_body(Matcher::Json(json!({"entities": {
            "(campaign:urn%3Ali%3AsponsoredCampaign%3A5,conversion:urn%3Alla%3AllaPartnerConversion%3Ar1)":
                {"campaign": "urn:li:sponsoredCampaign:5", "conversion": "urn:lla:llaPartnerConversion:r1"},
            "(campaign:urn%3Ali%3AsponsoredCampaign%3A6,conversion:urn%3Alla%3AllaPartnerConversion%3Ar1)":
                {"campaign": "urn:li:sponsoredCampaign:6", "conversion": "urn:lla:llaPartnerConversion:r1"}
        }})))
        .with_status(200)
        .create_async()
        .await;
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345", "conversionRuleId": "r1", "campaignId": ["5", "6", "5"]}),
        json!({}),
    )
    .await;
    put.assert_async().await;
    assert_eq!(r["savedData"]["id"], "r1");
    assert_eq!(r["savedData"]["post_click_attribution_window_size"], 30);
}

#[tokio::test]
async fn hook_reports_a_failed_campaign_association() {
    let mut t = harness().await;
    t.mock(
        "GET",
        "/rest/conversions/r1?account=urn%3Ali%3AsponsoredAccount%3A12345",
    )
    .with_status(200)
    .with_header("content-type", "application/json")
    .with_body(r#"{"name":"Rule","type":"LEAD","attributionType":"LAST_TOUCH_BY_CAMPAIGN"}"#)
    .create_async()
    .await;
    t.mock(
        "PUT",
        "/rest/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A5,conversion:urn%3Alla%3AllaPartnerConversion%3Ar1)",
    )
    .match_header("content-type", "text/plain;charset=UTF-8")
    .with_status(404)
    .create_async()
    .await;
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345", "conversionRuleId": "r1", "campaignId": ["5"]}),
        json!({}),
    )
    .await;
    assert_eq!(r["error"]["code"], "ASSOCIATE_CAMPAIGN_TO_CONVERSION_ERROR");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message
            .starts_with("Failed to associate campaigns to conversion rule, please try again: {"),
        "{message}"
    );
    assert!(message.contains("Not Found"), "{message}");
    assert!(r.get("savedData").is_none());
}

#[tokio::test]
async fn hook_refuses_saved_outputs_without_a_rule_id() {
    // The reference would send `/conversions/undefined`; this port reports it.
    let mut t = harness().await;
    let r = run_hook(
        &mut t,
        json!({"adAccountId": "urn:li:sponsoredAccount:12345", "name": "x"}),
        json!({"onMappingSave": {"outputs": {"name": "no id"}}}),
    )
    .await;
    assert_eq!(
        r,
        json!({"error": {
            "message": "Failed to update conversion rule: No existing rule to update.",
            "code": "CONVERSION_RULE_UPDATE_FAILURE"
        }})
    );
}

#[tokio::test]
async fn dynamic_fields_list_rules_and_campaigns_of_the_selected_account() {
    let mut t = harness().await;
    t.mock(
        "GET",
        "/rest/conversions?q=account&account=urn%3Ali%3AsponsoredAccount%3A12345&start=0&count=100",
    )
    .with_status(200)
    .with_header("content-type", "application/json")
    .with_body(r#"{"elements":[{"id":1,"name":"Rule 1","enabled":true,"conversionMethod":"CONVERSIONS_API"}]}"#)
    .create_async()
    .await;
    t.mock(
        "GET",
        "/rest/adAccounts/12345/adCampaigns?q=search&search=(status:(values:List(ACTIVE,DRAFT)))",
    )
    .with_status(200)
    .with_header("content-type", "application/json")
    .with_body(r#"{"elements":[{"id":7,"name":"Campaign 7"}]}"#)
    .create_async()
    .await;
    let inputs = json!({"adAccountId": "urn:li:sponsoredAccount:12345"});
    let rules = t
        .test_hook_dynamic_field(ACTION, "conversionRuleId", &json!({}), &inputs)
        .await
        .expect("rules");
    assert_eq!(
        serde_json::to_value(rules).expect("json"),
        json!({"choices": [{"label": "Rule 1", "value": 1}]})
    );
    let campaigns = t
        .test_hook_dynamic_field(ACTION, "campaignId", &json!({}), &inputs)
        .await
        .expect("campaigns");
    assert_eq!(
        serde_json::to_value(campaigns).expect("json"),
        json!({"choices": [{"label": "Campaign 7", "value": 7}]})
    );
}

#[tokio::test]
async fn dynamic_field_errors_carry_linkedins_message_and_code() {
    let mut t = harness().await;
    t.mock("GET", "/rest/adAccounts?q=search")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(r#"{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}"#)
        .create_async()
        .await;
    let r = t
        .test_dynamic_field(ACTION, "adAccountId", &json!({}), &json!({}))
        .await
        .expect("answered");
    assert_eq!(
        serde_json::to_value(r).expect("json"),
        json!({"choices": [], "error": {"message": "Invalid access token", "code": "INVALID_ACCESS_TOKEN"}})
    );
}
