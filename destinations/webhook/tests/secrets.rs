//! The shared secret never shows: not in logs, errors (Display or Debug), result logs or the
//! printed exchanges — for one event and for a batch, under 200, 400, 401, 429 and 500 answers.

mod common;

use actions_testkit::{TestOptions, assert_no_secret_leak};
use common::ORIGINS;
use serde_json::json;
use webhook::Webhook;

#[tokio::test]
async fn the_shared_secret_never_leaks() {
    assert_no_secret_leak(
        Webhook::new(),
        &ORIGINS,
        "send",
        TestOptions::event(json!({"properties": {"cool": true}}))
            .mapping(json!({"url": "https://example.com/hook", "data": {"@path": "$.properties"}}))
            .default_mappings(),
    )
    .await;
}

#[test]
fn the_settings_debug_hides_the_secret() {
    let settings: webhook::Settings =
        serde_json::from_value(json!({"sharedSecret": "very-secret-value"})).unwrap();
    let shown = format!("{settings:?}");
    assert!(!shown.contains("very-secret-value"), "{shown}");
    assert!(settings.shared_secret.is_some());
}
