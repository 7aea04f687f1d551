//! Snapshot tests (reference section 7.7): fixed inputs, the recorded request as output. The
//! reference seeds random data and pins `Date.now()` to 1714900000000; these use the values it
//! recorded (timestamp `1714813600000`, email `nick@twilio.com`, rule `1234`). Secrets in headers
//! are redacted in the snapshots.

mod common;

use actions_core::prelude::*;
use actions_core::request::Exchange;
use actions_testkit::{TestIntegration, TestOptions};
use common::{body_json, config, harness_with};
use linkedin_conversions::LinkedInConversions;

const NOW: i64 = 1_714_900_000_000;
const NICK: &str = "e290e11fef012fc831059c96e9186cda491dd0b259641815f23463cb4c54b7e1";

fn settings() -> Value {
    json!({"oauth": {"access_token": "snapshot-access-token", "refresh_token": "snapshot-refresh-token"}})
}

fn required_fields() -> Value {
    json!({
        "conversionHappenedAt": "1714813600000",
        "email": "nick@twilio.com",
        "onMappingSave": {"inputs": {}, "outputs": {"id": "1234"}}
    })
}

fn all_fields() -> Value {
    let mut m = required_fields();
    m["conversionValue"] = json!({"currencyCode": "USD", "amount": 100});
    m["userInfo"] = json!({
        "firstName": "mike", "lastName": "smith", "title": "software engineer",
        "companyName": "microsoft", "countryCode": "US"
    });
    m
}

fn every_field() -> Value {
    let mut m = all_fields();
    m["eventId"] = json!("event-1234");
    m["linkedInUUID"] = json!("li-fat-id-1234");
    m["acxiomID"] = json!("acxiom-1234");
    m["oracleID"] = json!("oracle-1234");
    m["externalIds"] = json!(["external-1", "external-2"]);
    m["enable_batching"] = json!(true);
    m["batch_size"] = json!(5000);
    m
}

/// Runs `options` (as a batch when `batch`) against LinkedIn answering `answer` (status, JSON
/// body); the one request sent, and the harness.
async fn one_request(
    options: TestOptions,
    batch: bool,
    answer: (usize, Option<&str>),
) -> (Exchange, TestIntegration<LinkedInConversions>) {
    let mut t = harness_with(config(NOW, &[])).await;
    let mut mock = t
        .mock("POST", "/rest/conversionEvents")
        .with_status(answer.0);
    if let Some(body) = answer.1 {
        mock = mock
            .with_header("content-type", "application/json")
            .with_body(body);
    }
    let m = mock.create_async().await;
    let options = options.settings(settings());
    let mut ex = if batch {
        t.test_batch_action("streamConversion", options).await
    } else {
        t.test_action("streamConversion", options).await
    }
    .expect("sent");
    m.assert_async().await;
    assert_eq!(ex.len(), 1);
    (ex.remove(0), t)
}

async fn single_request(mapping: Value) -> Exchange {
    let options = TestOptions::event(json!({"type": "track"})).mapping(mapping);
    one_request(options, false, (200, None)).await.0
}

#[tokio::test]
async fn stream_conversion_required_fields() {
    let exchange = single_request(required_fields()).await;
    assert_eq!(
        exchange.request.body.as_deref(),
        Some(
            r#"{"conversion":"urn:lla:llaPartnerConversion:1234","conversionHappenedAt":1714813600000,"user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"e290e11fef012fc831059c96e9186cda491dd0b259641815f23463cb4c54b7e1"}]}}"#
        )
    );
    let redacted = exchange.request.redacted();
    assert_eq!(redacted.header("authorization"), Some("<redacted>"));
    insta::assert_json_snapshot!("stream_conversion_required_fields", redacted);
}

#[tokio::test]
async fn stream_conversion_all_fields() {
    let exchange = single_request(all_fields()).await;
    assert_eq!(
        exchange.request.body.as_deref(),
        Some(
            r#"{"conversion":"urn:lla:llaPartnerConversion:1234","conversionHappenedAt":1714813600000,"conversionValue":{"currencyCode":"USD","amount":"100"},"user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"e290e11fef012fc831059c96e9186cda491dd0b259641815f23463cb4c54b7e1"}],"userInfo":{"firstName":"mike","lastName":"smith","title":"software engineer","companyName":"microsoft","countryCode":"US"}}}"#
        )
    );
    insta::assert_json_snapshot!("stream_conversion_all_fields", exchange.request.redacted());
}

#[tokio::test]
async fn stream_conversion_every_field() {
    let exchange = single_request(every_field()).await;
    assert_eq!(
        body_json(&exchange)["user"],
        json!({
            "userIds": [
                {"idType": "SHA256_EMAIL", "idValue": NICK},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "li-fat-id-1234"},
                {"idType": "AXCIOM_ID", "idValue": "acxiom-1234"},
                {"idType": "ORACLE_MOAT_ID", "idValue": "oracle-1234"}
            ],
            "userInfo": {"firstName": "mike", "lastName": "smith", "title": "software engineer",
                         "companyName": "microsoft", "countryCode": "US"},
            "externalIds": ["external-1"]
        })
    );
    insta::assert_json_snapshot!("stream_conversion_every_field", exchange.request.redacted());
}

#[tokio::test]
async fn stream_conversion_batch() {
    let mapping = json!({
        "conversionHappenedAt": {"@path": "$.properties.at"},
        "email": {"@path": "$.properties.email"},
        "eventId": {"@path": "$.messageId"},
        "conversionValue": {"currencyCode": "USD", "amount": {"@path": "$.properties.revenue"}},
        "onMappingSave": {"inputs": {}, "outputs": {"id": "1234"}}
    });
    let events = vec![
        json!({"messageId": "m-1", "properties": {"at": "1714813600000", "email": "nick@twilio.com", "revenue": 12.5}}),
        json!({"messageId": "m-2", "properties": {"at": "2024-05-04T10:00:00.000Z", "email": "NICK@twilio.com", "revenue": 3}}),
    ];
    let answer = r#"{"elements":[{"status":201},{"status":201}]}"#;
    let options = TestOptions::events(events).mapping(mapping);
    let (exchange, t) = one_request(options, true, (200, Some(answer))).await;
    assert_eq!(
        exchange.request.header("x-restli-method"),
        Some("BATCH_CREATE")
    );
    let statuses: Vec<u16> = t.multistatus().iter().map(|n| n.status()).collect();
    assert_eq!(statuses, [200, 200]);
    insta::assert_json_snapshot!("stream_conversion_batch", exchange.request.redacted());
}
