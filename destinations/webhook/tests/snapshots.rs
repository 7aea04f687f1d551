//! Snapshot tests (the testkit's seeded `snapshot_tests!`): the request `send` makes for the
//! generated payload with every field and with the required fields only — method, URL, headers
//! (`Idempotency-Key`, `X-Signature` of the generated shared secret), body. Review changes with
//! `cargo insta review`.
//!
//! The webhook URL is itself a field, so the generator picks it: for the seed
//! `actions-webhook#send` it is `http://zupota.org/vude`, and that origin is the one routed to
//! the mock server (were the generator to change, the snapshots would show a failed request to
//! another origin).

use webhook::Webhook;

actions_testkit::snapshot_tests!(
    Webhook::new(),
    origins = ["http://zupota.org"],
    actions = [send],
);

mod common;

use actions_testkit::TestOptions;
use actions_testkit::snapshot::request_snapshot;
use common::{harness, stamp};
use serde_json::json;

/// The default mapping on the reference's test event: the whole event as the body, keyed by
/// its message id, signed.
#[tokio::test]
async fn send_default_mapping_request() {
    let mut t = harness().await;
    t.expect_request("POST", "/webhook")
        .respond(200)
        .create()
        .await;
    let exchanges = t
        .test_action(
            "send",
            TestOptions::event(json!({"event": "Order Completed", "properties": {"total": 9.5}}))
                .stamp(stamp(1))
                .mapping(json!({"url": "https://example.com/webhook"}))
                .settings(json!({"sharedSecret": "snapshot-secret"}))
                .default_mappings(),
        )
        .await
        .unwrap();
    insta::assert_json_snapshot!(
        "send_default_mapping_request",
        request_snapshot(&exchanges[0])
    );
}

/// A batch of three: a bare array, the first event's URL, method and headers, the batch key.
#[tokio::test]
async fn send_batch_request() {
    let mut t = harness().await;
    t.expect_request("PUT", "/batch")
        .respond(200)
        .create()
        .await;
    let exchanges = t
        .test_batch_action(
            "send",
            TestOptions::events(vec![
                json!({"properties": {"sku": "a", "qty": 1}}),
                json!({"properties": {"sku": "b", "qty": 2.0}}),
                json!({"properties": {"sku": "c", "qty": 1e21}}),
            ])
            .stamp(stamp(100))
            .mapping(json!({
                "url": "https://example.build/batch",
                "method": "PUT",
                "headers": {"X-Source": "segment"},
                "data": {"@path": "$.properties"}
            }))
            .settings(json!({"sharedSecret": "snapshot-secret"}))
            .default_mappings(),
        )
        .await
        .unwrap();
    assert_eq!(exchanges.len(), 1);
    // JavaScript prints 2.0 as 2 and 1e21 as 1e+21.
    assert_eq!(
        exchanges[0].request.body.as_deref(),
        Some(r#"[{"sku":"a","qty":1},{"sku":"b","qty":2},{"sku":"c","qty":1e+21}]"#)
    );
    insta::assert_json_snapshot!("send_batch_request", request_snapshot(&exchanges[0]));
}
