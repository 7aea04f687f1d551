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

use actions_core::request::Exchange;
use actions_testkit::TestOptions;
use actions_testkit::snapshot::request_snapshot;
use common::{harness, only, stamp};
use serde_json::json;

/// The one request `send` makes for `options` (signed with the snapshot secret, default
/// mappings for the rest) when `METHOD /path` answers 200; batches go through
/// `test_batch_action`.
async fn the_request(endpoint: (&str, &str), options: TestOptions, batch: bool) -> Exchange {
    let mut t = harness().await;
    t.expect_request(endpoint.0, endpoint.1)
        .respond(200)
        .create()
        .await;
    let options = options
        .settings(json!({"sharedSecret": "snapshot-secret"}))
        .default_mappings();
    let sent = if batch {
        t.test_batch_action("send", options).await
    } else {
        t.test_action("send", options).await
    };
    only(sent, 200)
}

/// The default mapping on the reference's test event: the whole event as the body, keyed by
/// its message id, signed.
#[tokio::test]
async fn send_default_mapping_request() {
    let event = json!({"event": "Order Completed", "properties": {"total": 9.5}});
    let options = TestOptions::event(event)
        .stamp(stamp(1))
        .mapping(json!({"url": "https://example.com/webhook"}));
    let sent = the_request(("POST", "/webhook"), options, false).await;
    insta::assert_json_snapshot!("send_default_mapping_request", request_snapshot(&sent));
}

/// A batch of three: a bare array, the first event's URL, method and headers, the batch key.
#[tokio::test]
async fn send_batch_request() {
    let events = vec![
        json!({"properties": {"sku": "a", "qty": 1}}),
        json!({"properties": {"sku": "b", "qty": 2.0}}),
        json!({"properties": {"sku": "c", "qty": 1e21}}),
    ];
    let options = TestOptions::events(events)
        .stamp(stamp(100))
        .mapping(json!({
            "url": "https://example.build/batch",
            "method": "PUT",
            "headers": {"X-Source": "segment"},
            "data": {"@path": "$.properties"}
        }));
    let sent = the_request(("PUT", "/batch"), options, true).await;
    // JavaScript prints 2.0 as 2 and 1e21 as 1e+21.
    assert_eq!(
        sent.request.body.as_deref(),
        Some(r#"[{"sku":"a","qty":1},{"sku":"b","qty":2},{"sku":"c","qty":1e+21}]"#)
    );
    insta::assert_json_snapshot!("send_batch_request", request_snapshot(&sent));
}
