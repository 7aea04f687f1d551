//! Helpers shared by the integration tests. The expected signature and idempotency key are
//! computed here with the `hmac`, `sha1` and `sha2` crates directly, independently of the
//! destination's own code.
#![allow(dead_code)]

use std::sync::Arc;

use actions_core::context::FixedClock;
use actions_core::request::Exchange;
use actions_core::{Error, RuntimeConfig};
use actions_testkit::{ExchangeExt, Stamp, TestIntegration, TestOptions, create_test_event};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Digest;
use webhook::Webhook;

/// The origins the reference's tests post to; both lead to the mock server.
pub const ORIGINS: [&str; 2] = ["https://example.com", "https://example.build"];

/// A fixed "now" (2024-05-05T09:06:40Z).
pub const NOW: i64 = 1_714_900_000_000;

/// The harness, with the clock at [`NOW`].
pub async fn harness() -> TestIntegration<Webhook> {
    harness_at(NOW).await
}

/// The harness, with the clock at `now` (milliseconds since the epoch).
pub async fn harness_at(now: i64) -> TestIntegration<Webhook> {
    let config = RuntimeConfig {
        clock: Arc::new(FixedClock::new(now)),
        ..RuntimeConfig::default()
    };
    TestIntegration::with_config(Webhook::new(), &ORIGINS, config)
        .await
        .expect("the harness starts")
}

/// The event `test_action` builds from `overrides` with the stamp `Stamp::Fixed { seed, NOW }`.
pub fn test_event(overrides: Value, seed: u64) -> Value {
    create_test_event(overrides, Stamp::Fixed { seed, now_ms: NOW })
}

/// The stamp matching [`test_event`].
pub fn stamp(seed: u64) -> Stamp {
    Stamp::Fixed { seed, now_ms: NOW }
}

/// Hex HMAC-SHA1 of `body` keyed with `secret`, as Node's
/// `createHmac('sha1', secret).update(body).digest('hex')`.
pub fn hmac_sha1_hex(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The first 32 hex digits of SHA-256(`key`).
pub fn sha256_32(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.as_bytes()))[..32].to_string()
}

/// A message id as a string.
pub fn message_id(event: &Value) -> &str {
    event["messageId"]
        .as_str()
        .expect("the event has a messageId")
}

/// `options` posting each event's properties as `data` to `https://example.com`, signed with
/// `secret`, every other field at its default mapping.
pub fn signed(options: TestOptions, secret: &str) -> TestOptions {
    options
        .mapping(json!({"url": "https://example.com", "data": {"@path": "$.properties"}}))
        .settings(json!({"sharedSecret": secret}))
        .default_mappings()
}

/// The one request a call made, asserting that the call succeeded, made exactly one request
/// and got `status` back.
pub fn only(sent: Result<Vec<Exchange>, Error>, status: u16) -> Exchange {
    let mut exchanges = sent.expect("the call succeeds");
    assert_eq!(exchanges.len(), 1, "one request");
    assert_eq!(exchanges[0].status(), Some(status));
    exchanges.remove(0)
}

/// The statuses of the last batch's multistatus answer, in event order.
pub fn statuses(t: &TestIntegration<Webhook>) -> Vec<u16> {
    t.multistatus().iter().map(|n| n.status()).collect()
}
