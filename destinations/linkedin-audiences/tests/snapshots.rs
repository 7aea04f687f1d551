//! Request snapshots (reference section 7.7) for fixed inputs: a required-fields and an
//! all-fields payload per action. Every request is recorded with its secrets redacted
//! (`PreparedRequest::redacted`); the reference's recorded bodies are asserted as well.

mod common;

use actions_core::prelude::*;
use actions_core::request::Exchange;
use actions_testkit::{TestIntegration, TestOptions};
use common::{JSON, harness, tokens};
use linkedin_audiences::LinkedInAudiences;
use serde_json::Map;

type T = TestIntegration<LinkedInAudiences>;

const LOOKUP: &str = "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A512345678&sourceSegmentId=aud_key&sourcePlatform=SEGMENT";

/// The requests of a run as JSON: method, URL, headers (secrets redacted), body (parsed when
/// it is JSON).
fn recorded(exchanges: &[Exchange]) -> Value {
    Value::Array(
        exchanges
            .iter()
            .map(|e| {
                let r = e.request.redacted();
                let headers: Map<String, Value> = r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                let body = r.body.as_deref().map(|b| {
                    serde_json::from_str(b).unwrap_or_else(|_| Value::String(b.to_string()))
                });
                json!({"method": r.method, "url": r.url, "headers": headers, "body": body})
            })
            .collect(),
    )
}

fn settings(send_email: bool, send_gaid: bool) -> Value {
    json!({"ad_account_id": "512345678", "send_email": send_email,
           "send_google_advertising_id": send_gaid})
}

fn options(mapping: Value, settings: Value) -> TestOptions {
    TestOptions::event(json!({"type": "track", "event": "Audience Entered"}))
        .mapping(mapping)
        .settings(settings)
        .auth(tokens("snapshot-access-token", "snapshot-refresh-token"))
}

fn update_audience_required() -> Value {
    json!({"personas_audience_key": "aud_key", "source_segment_id": "aud_key",
           "google_advertising_id": "gaid-7f3c"})
}

/// Mocks `method path` answering 200 with the JSON `body`.
async fn answer_json(t: &mut T, method: &str, path: &str, body: &str) {
    t.mock(method, path)
        .with_header(JSON.0, JSON.1)
        .with_body(body)
        .create_async()
        .await;
}

const ONE_CREATED: &str = r#"{"elements":[{"status":201}]}"#;

#[tokio::test]
async fn update_audience_required_fields() {
    let mut t = harness().await;
    answer_json(
        &mut t,
        "GET",
        LOOKUP,
        r#"{"elements":[{"id":546109929,"type":"USER"}]}"#,
    )
    .await;
    answer_json(
        &mut t,
        "POST",
        "/rest/dmpSegments/546109929/users",
        ONE_CREATED,
    )
    .await;
    let options = options(update_audience_required(), settings(true, true));
    let x = t.test_action("updateAudience", options).await.unwrap();
    // The reference's snapshot is the lookup GET: no body.
    assert_eq!(x[0].request.body, None);
    assert_eq!(
        x[1].request.body.as_deref(),
        Some(
            r#"{"elements":[{"action":"ADD","userIds":[{"idType":"GOOGLE_AID","idValue":"gaid-7f3c"}]}]}"#
        )
    );
    insta::assert_json_snapshot!("update_audience_required_fields", recorded(&x));
}

#[tokio::test]
async fn update_audience_all_fields() {
    let mut t = harness().await;
    answer_json(&mut t, "GET", LOOKUP, r#"{"elements":[]}"#).await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(201)
        .with_header("x-linkedin-id", "194395617")
        .with_header("x-restli-id", "194395617")
        .create_async()
        .await;
    answer_json(
        &mut t,
        "POST",
        "/rest/dmpSegments/194395617/users",
        ONE_CREATED,
    )
    .await;
    let mapping = json!({
        "dmp_segment_name": "Snapshot VIPs",
        "enable_batching": true,
        "email": "Snapshot.User@Example.com",
        "first_name": "Snap",
        "last_name": "Shot",
        "title": "Engineer",
        "company": "Acme",
        "country": "US",
        "google_advertising_id": "gaid-7f3c",
        "source_segment_id": "aud_key",
        "personas_audience_key": "aud_key",
        "event_name": "Audience Exited",
        "dmp_user_action": "AUTO"
    });
    let x = t
        .test_action("updateAudience", options(mapping, settings(true, true)))
        .await
        .unwrap();
    assert_eq!(x.len(), 3);
    insta::assert_json_snapshot!("update_audience_all_fields", recorded(&x));
}

#[tokio::test]
async fn update_audience_required_fields_invalid_combination() {
    let mut t = harness().await;
    let options = options(update_audience_required(), settings(false, false));
    let e = t.test_action("updateAudience", options).await.unwrap_err();
    insta::assert_snapshot!(
        "update_audience_required_fields_invalid_combination",
        format!("[{}: {}]", e.class(), e.message())
    );
}

/// The company action with the required fields and with every field: the recorded requests,
/// and the reference's recorded body.
#[tokio::test]
async fn update_company_audience_snapshots() {
    let required = json!({
        "identifiers": {"companyDomain": "microsoft.com"},
        "dmp_company_action": "ADD",
        "audience_source": "ENGAGE_RETL",
        "computation_key": "aud_key"
    });
    let all = json!({
        "identifiers": {"companyDomain": "t$O9PpW&", "linkedInCompanyId": "t$O9PpW&"},
        "dmp_company_action": "ADD",
        "audience_source": "ENGAGE_RETL",
        "segment_name": "Snapshot Companies",
        "computation_key": "aud_key",
        "enable_batching": true,
        "batch_size": 5000,
        "batch_keys": ["dmp_company_action", "audience_source", "segment_name", "computation_key"]
    });
    let cases = [
        (
            "update_company_audience_required_fields",
            required,
            r#"{"elements":[{"action":"ADD","companyWebsiteDomain":"microsoft.com"}]}"#,
        ),
        (
            "update_company_audience_all_fields",
            all,
            r#"{"elements":[{"action":"ADD","companyWebsiteDomain":"t$o9ppw&","organizationUrn":"urn:li:organization:t$O9PpW&"}]}"#,
        ),
    ];
    for (name, mapping, body) in cases {
        let mut t = harness().await;
        let company_list =
            r#"{"elements":[{"id":"dmp_segment_id","name":"Company Audience","type":"COMPANY"}]}"#;
        answer_json(&mut t, "GET", LOOKUP, company_list).await;
        let members = "/rest/dmpSegments/dmp_segment_id/companies";
        answer_json(&mut t, "POST", members, ONE_CREATED).await;
        let options = options(mapping, settings(true, true));
        let x = t
            .test_action("updateCompanyAudience", options)
            .await
            .unwrap();
        assert_eq!(
            x.last().and_then(|e| e.request.body.as_deref()),
            Some(body),
            "{name}"
        );
        insta::assert_json_snapshot!(name, recorded(&x));
    }
}
