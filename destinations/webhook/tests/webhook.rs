//! The reference's webhook tests (`destinations/webhook/__test__/webhook.test.ts`), one Rust
//! test per reference test, named after it.

mod common;

use actions_core::prelude::*;
use actions_testkit::{ExchangeExt, TestIntegration, TestOptions};
use common::{
    harness, hmac_sha1_hex, message_id, only, sha256_32, signed, stamp, statuses, test_event,
};
use webhook::Webhook;
use webhook::actions::send::{SendPayload, unique_batch_keys};

/// `it('should work with default mapping')`: the whole event is POSTed as JSON.
#[tokio::test]
async fn should_work_with_default_mapping() {
    let mut t = harness().await;
    let event = test_event(json!({}), 11);
    let mock = t
        .expect_request("POST", "/")
        .match_json(event.clone())
        .match_header("content-type", "application/json")
        .match_header("idempotency-key", sha256_32(message_id(&event)))
        .respond(200)
        .create()
        .await;
    let options = TestOptions::event(json!({}))
        .stamp(stamp(11))
        .mapping(json!({"url": "https://example.com"}));
    let sent = only(t.test_action("send", options.default_mappings()).await, 200);
    mock.assert_async().await;
    // No shared secret: no signature.
    assert_eq!(sent.request.header("x-signature"), None);
    assert_eq!(sent.request.url, "https://example.com/");
}

/// The reference's customized mapping: PUT to `https://example.build` with `Custom-Header`.
fn customized(header_value: &str) -> TestOptions {
    TestOptions::event(json!({})).mapping(json!({
        "url": "https://example.build",
        "method": "PUT",
        "headers": {"Custom-Header": header_value},
        "data": {"cool": true}
    }))
}

/// `it('supports customizations')`: method, headers and a literal `data`.
#[tokio::test]
async fn supports_customizations() {
    let mut t = harness().await;
    let mock = t
        .expect_request("PUT", "/")
        .match_json(json!({"cool": true}))
        .match_header("Custom-Header", "Custom-Value")
        .respond(200)
        .create()
        .await;
    let sent = only(t.test_action("send", customized("Custom-Value")).await, 200);
    mock.assert_async().await;
    // Without the default mappings there is no business key, hence no Idempotency-Key.
    assert_eq!(sent.request.header("idempotency-key"), None);
}

/// The reference's shared secret.
const SHARED_SECRET: &str = "abc123";

/// Expects one `POST /` whose body is exactly `body`, answered 200 `OK`.
async fn expect_signed_post(t: &mut TestIntegration<Webhook>, body: &str) -> mockito::Mock {
    t.expect_request("POST", "/")
        .match_text(body)
        .respond_text(200, "OK")
        .create()
        .await
}

/// `it('supports request signing')`: `X-Signature` is the hex HMAC-SHA1 of the body.
#[tokio::test]
async fn supports_request_signing() {
    let mut t = harness().await;
    let mock = expect_signed_post(&mut t, r#"{"cool":true}"#).await;
    let event = TestOptions::event(json!({"properties": {"cool": true}}));
    let options = signed(event, SHARED_SECRET);
    let sent = only(t.test_action("send", options).await, 200);
    mock.assert_async().await;
    let body = sent.request.body.as_deref().unwrap();
    // What the reference's receiver checks: the HMAC of JSON.stringify(body).
    let expected = hmac_sha1_hex(SHARED_SECRET, body);
    assert_eq!(sent.request.header("x-signature"), Some(expected.as_str()));
}

/// `it('supports request signing with batched events')`: the batch body is a bare array of
/// the events' data; the reference signs the **first** element's data (JSON.stringify(body[0])),
/// and so do we, for receivers that verify it.
#[tokio::test]
async fn supports_request_signing_with_batched_events() {
    let mut t = harness().await;
    let mock = expect_signed_post(&mut t, r#"[{"cool":false},{"cool":true}]"#).await;
    let events = vec![
        json!({"properties": {"cool": false}}),
        json!({"properties": {"cool": true}}),
    ];
    let options = signed(TestOptions::events(events), SHARED_SECRET);
    let sent = only(t.test_batch_action("send", options).await, 200);
    mock.assert_async().await;
    let body = sent.request_json().unwrap();
    let first = serde_json::to_string(&body[0]).unwrap();
    let expected = hmac_sha1_hex(SHARED_SECRET, &first);
    assert_eq!(sent.request.header("x-signature"), Some(expected.as_str()));
    assert_eq!(statuses(&t), [200, 200]);
}

/// `it('should throw an error when header value is invalid')`: a non-ASCII header value is a
/// `PayloadValidationError` (the reference's fetch throws a TypeError); nothing is sent.
#[tokio::test]
async fn should_throw_an_error_when_header_value_is_invalid() {
    let mut t = harness().await;
    let err = t.test_action("send", customized("هيثم")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::PayloadValidation);
    assert_eq!(err.status(), Some(400));
    assert!(
        err.message().contains("headers.Custom-Header")
            && err
                .message()
                .contains("only ASCII characters are supported"),
        "{}",
        err.message()
    );
    assert!(t.last_exchanges().is_empty(), "nothing may be sent");
    assert!(matches!(
        Outcome::of_error(&err),
        Outcome::Permanent {
            status: Some(400),
            ..
        }
    ));
}

/// `it('should incr stats by unique url, headers and method count')`: a batch whose events map
/// to different methods goes out as **one** request with the first event's URL, method and
/// headers (the host groups by `batch_keys`), and the number of distinct combinations — the
/// reference's histogram `webhook.configurable_batch_keys.unique_keys` — is 2.
#[tokio::test]
async fn should_incr_stats_by_unique_url_headers_and_method_count() {
    let mut t = harness().await;
    let event1 = json!({"properties": {"url": "https://example.build", "method": "POST",
                                       "headers": {"sample-header": "value1"}}});
    let event2 = json!({"properties": {"url": "https://example.build", "method": "PUT",
                                       "headers": {"sample-header": "value1"}}});
    let mock = t
        .expect_request("POST", "/")
        .respond_json(200, json!({"success": true}))
        .create()
        .await;
    let mapping = json!({
        "url": {"@path": "$.properties.url"},
        "method": {"@path": "$.properties.method"},
        "headers": {"sample-header": {"@path": "$.properties.sample-header"}}
    });
    let options = TestOptions::events(vec![event1, event2]).mapping(mapping);
    only(
        t.test_batch_action("send", options.default_mappings())
            .await,
        200,
    );
    mock.assert_async().await;
    assert_eq!(statuses(&t), [200, 200]);
    // The statistic over the payloads the mapping produced.
    let payloads: Vec<SendPayload> = ["POST", "PUT"]
        .iter()
        .map(|m| {
            serde_json::from_value(
                json!({"url": "https://example.build", "method": m, "headers": {}}),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(unique_batch_keys(&payloads), 2);
}

/// `it('should have batch keys default to url, method, headers')`.
#[tokio::test]
async fn should_have_batch_keys_default_to_url_method_headers() {
    let t = harness().await;
    let (_, fields) = t
        .runtime()
        .actions()
        .find(|(d, _)| d.key == "send")
        .unwrap();
    let batch_keys = &fields["batch_keys"];
    assert_eq!(
        batch_keys.default,
        Some(json!(["url", "method", "headers"]))
    );
    assert_eq!(batch_keys.unsafe_hidden, Some(true));
    assert_eq!(batch_keys.multiple, Some(true));
}
