//! Retry-safe posting: the `Idempotency-Key` of every attempt, driven through the production
//! pipeline (`DestinationRuntime::deliver_event` / `deliver_batch`, subscriptions included) and
//! classified with `Outcome::of_result`.

mod common;

use actions_core::prelude::*;
use actions_core::request::{Capture, Exchange};
use actions_testkit::{ExchangeExt, TestIntegration};
use common::{harness, harness_at, message_id, sha256_32, test_event};
use mockito::Mock;
use sha2::Digest;
use webhook::Webhook;

/// Settings with one subscription of `send` to `https://example.com/hook`, every field at its
/// default mapping.
fn settings() -> Value {
    json!({
        "sharedSecret": "retry-secret",
        "subscription": {
            "partnerAction": "send",
            "subscribe": "type = \"track\"",
            "mapping": {
                "url": "https://example.com/hook",
                "method": "POST",
                "data": {"@path": "$.properties"},
                "idempotency_key": {"@path": "$.messageId"}
            }
        }
    })
}

/// Options that record every request of the call into the returned capture.
fn capturing() -> (Capture, EventOptions) {
    let capture = Capture::new();
    let opts = EventOptions {
        capture: Some(capture.clone()),
        ..EventOptions::default()
    };
    (capture, opts)
}

/// What one delivery attempt sends.
#[derive(Clone, Copy)]
enum Sending<'a> {
    /// One event (`deliver_event`).
    Event(&'a Value),
    /// A batch (`deliver_batch`).
    Batch(&'a [Value]),
}

/// Runs one delivery attempt under `settings` and returns its outcome and the requests it made.
async fn deliver(
    t: &TestIntegration<Webhook>,
    sending: Sending<'_>,
    settings: &Value,
) -> (Outcome, Vec<Exchange>) {
    let (capture, opts) = capturing();
    let runtime = t.runtime();
    let delivery = match sending {
        Sending::Event(event) => runtime.deliver_event(event, settings, &opts).await,
        Sending::Batch(events) => runtime.deliver_batch(events, settings, &opts).await,
    };
    (delivery.outcome, capture.take())
}

/// One attempt of `event` under `settings`.
async fn attempt(
    t: &TestIntegration<Webhook>,
    event: &Value,
    settings: &Value,
) -> (Outcome, Vec<Exchange>) {
    deliver(t, Sending::Event(event), settings).await
}

/// Expects `times` requests to `POST /hook` (with `Idempotency-Key: <key>` when given), each
/// answered 200.
async fn hook_accepts(t: &mut TestIntegration<Webhook>, times: usize, key: Option<String>) -> Mock {
    let mut mock = t.expect_request("POST", "/hook");
    if let Some(key) = key {
        mock = mock.match_header("idempotency-key", key);
    }
    mock.respond(200).times(times).create().await
}

fn key_of(exchange: &Exchange) -> String {
    exchange
        .request
        .header("idempotency-key")
        .expect("every request carries an Idempotency-Key")
        .to_string()
}

/// A normal publish: one request, delivered, keyed by the message id.
#[tokio::test]
async fn a_normal_publish_is_delivered_with_the_key_of_its_message_id() {
    let mut t = harness().await;
    let event = test_event(json!({"properties": {"order": "o-1"}}), 1);
    let mock = t
        .expect_request("POST", "/hook")
        .match_json(json!({"order": "o-1"}))
        .match_header("Idempotency-Key", sha256_32(message_id(&event)))
        .respond_json(202, json!({"queued": true}))
        .create()
        .await;
    let (outcome, exchanges) = attempt(&t, &event, &settings()).await;
    mock.assert_async().await;
    assert_eq!(outcome, Outcome::Delivered);
    assert_eq!(exchanges.len(), 1);
    assert_eq!(key_of(&exchanges[0]).len(), 32);
}

/// 500, 500, then 202: three attempts of one logical delivery, all with the same key; the
/// outcomes are Retry, Retry, Delivered.
#[tokio::test]
async fn two_500s_then_202_is_one_logical_delivery_with_one_key() {
    let mut t = harness().await;
    let event = test_event(json!({"properties": {"order": "o-2"}}), 2);
    let mocks = t
        .mock_sequence(
            "POST",
            "/hook",
            &[(500, r#"{"error":"db down"}"#), (500, "{}"), (202, "{}")],
        )
        .await;
    let mut outcomes = Vec::new();
    let mut keys = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let (outcome, exchanges) = attempt(&t, &event, &settings()).await;
        assert_eq!(exchanges.len(), 1, "one request per attempt");
        keys.push(key_of(&exchanges[0]));
        bodies.push(exchanges[0].request.body.clone());
        outcomes.push(outcome);
    }
    for m in &mocks {
        m.assert_async().await;
    }
    assert!(
        matches!(
            outcomes[0],
            Outcome::Retry {
                status: Some(500),
                ..
            }
        ),
        "{:?}",
        outcomes[0]
    );
    assert!(
        matches!(
            outcomes[1],
            Outcome::Retry {
                status: Some(500),
                ..
            }
        ),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], Outcome::Delivered);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[1], keys[2]);
    assert_eq!(keys[0], sha256_32(message_id(&event)));
    // The same request each time (so the signature is the same too).
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

/// The same event sent twice (a duplicate upstream): the same key both times, so the endpoint
/// can drop the second.
#[tokio::test]
async fn the_same_event_sent_twice_carries_the_same_key() {
    let mut t = harness().await;
    let mock = hook_accepts(&mut t, 2, None).await;
    let event = test_event(json!({"properties": {"order": "o-3"}}), 3);
    let (first, a) = attempt(&t, &event, &settings()).await;
    let (second, b) = attempt(&t, &event.clone(), &settings()).await;
    mock.assert_async().await;
    assert_eq!((first, second), (Outcome::Delivered, Outcome::Delivered));
    assert_eq!(key_of(&a[0]), key_of(&b[0]));
    // A different event gets a different key.
    let other = test_event(json!({"properties": {"order": "o-3"}}), 4);
    assert_ne!(sha256_32(message_id(&other)), key_of(&a[0]));
}

/// The business key is configurable: mapped to an order id, two events with different message
/// ids but the same order share a key.
#[tokio::test]
async fn the_business_key_comes_from_the_mapping() {
    let mut t = harness().await;
    let mut settings = settings();
    settings["subscription"]["mapping"]["idempotency_key"] = json!({"@path": "$.properties.order"});
    let mock = hook_accepts(&mut t, 2, Some(sha256_32("o-9"))).await;
    for seed in [5, 6] {
        let event = test_event(json!({"properties": {"order": "o-9"}}), seed);
        let (outcome, _) = attempt(&t, &event, &settings).await;
        assert_eq!(outcome, Outcome::Delivered);
    }
    mock.assert_async().await;
}

/// Without a business key no `Idempotency-Key` is sent (never a made-up one).
#[tokio::test]
async fn no_business_key_no_header() {
    let mut t = harness().await;
    let mut settings = settings();
    settings["subscription"]["mapping"]["idempotency_key"] = json!({"@path": "$.properties.none"});
    hook_accepts(&mut t, 1, None).await;
    let event = test_event(json!({"properties": {}}), 7);
    let (outcome, exchanges) = attempt(&t, &event, &settings).await;
    assert_eq!(outcome, Outcome::Delivered);
    assert_eq!(exchanges[0].request.header("idempotency-key"), None);
}

/// The batch key from the elements' keys, independently: SHA-256 over a domain prefix and the
/// length-prefixed keys in order, first 32 hex digits.
fn expected_batch_key(keys: &[&str]) -> String {
    let mut h = sha2::Sha256::new();
    h.update(b"actions-webhook/batch/v1\0");
    for k in keys {
        h.update((k.len() as u64).to_be_bytes());
        h.update(k.as_bytes());
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// One attempt of a batch of `events` under the default settings.
async fn deliver_batch(t: &TestIntegration<Webhook>, events: &[Value]) -> (Outcome, Vec<Exchange>) {
    deliver(t, Sending::Batch(events), &settings()).await
}

/// A batch body is a bare JSON array; its key is derived from its elements' keys in order and
/// changes when the elements change (a retried partial batch is a new logical request).
#[tokio::test]
async fn a_batch_is_a_bare_array_keyed_by_its_elements() {
    let mut t = harness().await;
    hook_accepts(&mut t, 3, None).await;
    let a = test_event(json!({"properties": {"n": 1}}), 10);
    let b = test_event(json!({"properties": {"n": 2}}), 11);
    let c = test_event(json!({"properties": {"n": 3}}), 12);

    let (outcome, ab) = deliver_batch(&t, &[a.clone(), b.clone()]).await;
    assert_eq!(
        outcome,
        Outcome::Partial(vec![Outcome::Delivered, Outcome::Delivered])
    );
    assert_eq!(ab.len(), 1);
    assert_eq!(ab[0].request_json(), Some(json!([{"n": 1}, {"n": 2}])));
    assert_eq!(
        key_of(&ab[0]),
        expected_batch_key(&[message_id(&a), message_id(&b)])
    );

    let (_, ab_again) = deliver_batch(&t, &[a.clone(), b.clone()]).await;
    assert_eq!(key_of(&ab_again[0]), key_of(&ab[0]), "same batch, same key");

    let (_, ac) = deliver_batch(&t, &[a.clone(), c.clone()]).await;
    assert_ne!(key_of(&ac[0]), key_of(&ab[0]), "other elements, other key");
    assert_eq!(
        key_of(&ac[0]),
        expected_batch_key(&[message_id(&a), message_id(&c)])
    );
    // A batch of one never reuses the single request's key (the bodies differ).
    assert_ne!(
        expected_batch_key(&[message_id(&a)]),
        sha256_32(message_id(&a))
    );
}

/// The key is computed from the business key alone: never from the clock. Two runtimes with
/// different clocks give the same key to the same event.
#[tokio::test]
async fn the_key_does_not_depend_on_the_clock() {
    let event = test_event(json!({"properties": {}}), 20);
    let mut keys = Vec::new();
    for now in [0, 1_900_000_000_000] {
        let mut t = harness_at(now).await;
        hook_accepts(&mut t, 1, None).await;
        let (_, exchanges) = attempt(&t, &event, &settings()).await;
        keys.push(key_of(&exchanges[0]));
    }
    assert_eq!(keys[0], keys[1]);
}
