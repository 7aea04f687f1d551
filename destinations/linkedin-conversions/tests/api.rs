//! Ports of the reference's `api/api.test.ts` (reference section 7.5): the API class (here the
//! wire calls of `api` with the hook and dynamic-field functions that read their answers) used
//! with a bare request client (no authorization or version headers), against a mock server.

use std::sync::Arc;

use actions_core::prelude::*;
use actions_core::request::{HttpClient, OriginOverrides};
use linkedin_conversions::actions::stream_conversion::OnMappingSaveInputs;
use linkedin_conversions::actions::stream_conversion::{dynamic_fields, hook};
use linkedin_conversions::api::ConversionsApi;
use mockito::{Matcher, ServerGuard};

async fn bare_client() -> (ServerGuard, RequestClient) {
    let server = mockito::Server::new_async().await;
    let origins = OriginOverrides::new().with("https://api.linkedin.com", &server.url());
    let client = RequestClient::new(
        HttpClient::new().expect("http client"),
        RequestOptions::new(),
    )
    .with_origins(Arc::new(origins));
    (server, client)
}

fn inputs() -> OnMappingSaveInputs {
    serde_json::from_value(json!({
        "adAccountId": "urn:li:sponsoredAccount:123456",
        "name": "A different name that should trigger an update",
        "conversionType": "PURCHASE",
        "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
        "post_click_attribution_window_size": 30,
        "view_through_attribution_window_size": 7
    }))
    .expect("inputs")
}

fn outputs() -> Value {
    json!({
        "id": "56789",
        "name": "The original name",
        "conversionType": "LEAD",
        "attribution_type": "LAST_TOUCH_BY_CONVERSION",
        "post_click_attribution_window_size": 30,
        "view_through_attribution_window_size": 7
    })
}

fn hook_json(result: &HookResult) -> Value {
    serde_json::to_value(result).expect("hook result serialises")
}

/// A mock answering `status` with a JSON `body` (no content type without a body).
fn answer(
    server: &mut ServerGuard,
    method: &str,
    path: &str,
    status: usize,
    body: &str,
) -> mockito::Mock {
    let mock = server.mock(method, path).with_status(status);
    match body {
        "" => mock,
        body => mock
            .with_header("content-type", "application/json")
            .with_body(body),
    }
}

const UPDATE_PATH: &str = "/rest/conversions/56789?account=urn%3Ali%3AsponsoredAccount%3A123456";

/// Reference 7.5 #1 (the changed values are sent and saved), #3 (an existing rule id in the
/// inputs verifies that rule instead) and #4 (an update failure keeps the saved rule and reports
/// the status text).
#[tokio::test]
async fn update_rule_sends_the_changes_or_verifies_the_named_rule() {
    let updated = json!({
        "successMessage": "Conversion rule 56789 updated successfully!",
        "savedData": {
            "id": "56789",
            "name": "A different name that should trigger an update",
            "conversionType": "PURCHASE",
            "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
            "post_click_attribution_window_size": 30,
            "view_through_attribution_window_size": 7
        }
    });
    let verified = json!({
        "successMessage": "Using existing Conversion Rule: 5678 ",
        "savedData": {
            "id": "5678",
            "name": "Exists already",
            "conversionType": "PURCHASE",
            "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
            "post_click_attribution_window_size": 1,
            "view_through_attribution_window_size": 1
        }
    });
    let failed = json!({
        "savedData": outputs(),
        "error": {
            "message": "Failed to update conversion rule: Internal Server Error",
            "code": "CONVERSION_RULE_UPDATE_FAILURE"
        }
    });
    let existing = r#"{"id":"5678","name":"Exists already","type":"PURCHASE","attributionType":"LAST_TOUCH_BY_CAMPAIGN","postClickAttributionWindowSize":1,"viewThroughAttributionWindowSize":1}"#;
    let verify_path = "/rest/conversions/5678?account=urn%3Ali%3AsponsoredAccount%3A123456";
    #[rustfmt::skip]
    let cases = [
        ("#1", None, ("POST", UPDATE_PATH, 204, ""), updated),
        ("#3", Some("5678"), ("GET", verify_path, 200, existing), verified),
        ("#4", None, ("POST", UPDATE_PATH, 500, ""), failed),
    ];
    for (case, rule_id, (method, path, status, body), expected) in cases {
        let (mut server, client) = bare_client().await;
        let mut mock = answer(&mut server, method, path, status, body);
        if case == "#1" {
            mock = mock
                .match_header("x-restli-method", "PARTIAL_UPDATE")
                .match_header("content-type", "application/json")
                .match_body(Matcher::Json(json!({"patch": {"$set": {
                    "name": "A different name that should trigger an update",
                    "type": "PURCHASE",
                    "attributionType": "LAST_TOUCH_BY_CAMPAIGN"
                }}})));
        }
        let mock = mock.create_async().await;
        let mut inputs = inputs();
        inputs.conversion_rule_id = rule_id.map(str::to_string);
        let result =
            hook::update_rule(ConversionsApi::new(&client), &inputs, Some(&outputs())).await;
        mock.assert_async().await;
        assert_eq!(hook_json(&result), expected, "{case}");
    }
}

/// Reference 7.5 #2.
#[tokio::test]
async fn create_conversion_rule_posts_the_rule_in_the_reference_key_order() {
    let (mut server, client) = bare_client().await;
    let created = r#"{"id":"12345","name":"A different name that should trigger an update","type":"PURCHASE","attributionType":"LAST_TOUCH_BY_CAMPAIGN","postClickAttributionWindowSize":30,"viewThroughAttributionWindowSize":7}"#;
    let mock = answer(&mut server, "POST", "/rest/conversions", 201, created)
        .create_async()
        .await;
    let capture = actions_core::request::Capture::new();
    let client = client.with_capture(capture.clone());
    let result = hook::create_rule(ConversionsApi::new(&client), &inputs()).await;
    mock.assert_async().await;
    let sent = capture.take();
    assert_eq!(sent.len(), 1);
    // The exact text: key order is part of the wire contract.
    assert_eq!(
        sent[0].request.body.as_deref(),
        Some(
            r#"{"name":"A different name that should trigger an update","account":"urn:li:sponsoredAccount:123456","conversionMethod":"CONVERSIONS_API","postClickAttributionWindowSize":30,"viewThroughAttributionWindowSize":7,"attributionType":"LAST_TOUCH_BY_CAMPAIGN","type":"PURCHASE"}"#
        )
    );
    assert_eq!(
        hook_json(&result),
        json!({
            "successMessage": "Conversion rule 12345 created successfully!",
            "savedData": {
                "id": "12345",
                "name": "A different name that should trigger an update",
                "conversionType": "PURCHASE",
                "attribution_type": "LAST_TOUCH_BY_CAMPAIGN",
                "post_click_attribution_window_size": 30,
                "view_through_attribution_window_size": 7
            }
        })
    );
}

/// Reference 7.5 #5 (ad accounts valued with their URNs), #6 (only the enabled Conversions-API
/// rules), #7 (campaigns through the Rest.li search query).
#[tokio::test]
async fn dynamic_fields_read_linkedins_lists() {
    let accounts = r#"{"elements":[{"test":false,"notifiedOnCreativeRejection":true,"name":"Test Ad Account","currency":"USD","id":101100090,"status":"ACTIVE","type":"BUSINESS"},{"test":false,"name":"Krusty Krab Ads","currency":"USD","id":998877665,"status":"ACTIVE","type":"BUSINESS"}],"paging":{"count":1000,"links":[],"start":0,"total":2}}"#;
    let rules = r#"{"elements":[
            {"name":"Conversion API Segment 2","id":104012,"enabled":true,"conversionMethod":"CONVERSIONS_API","type":"LEAD"},
            {"name":"Insight tag rule","id":104000,"enabled":true,"conversionMethod":"INSIGHT_TAG","type":"LEAD"},
            {"name":"Disabled","id":104001,"enabled":false,"conversionMethod":"CONVERSIONS_API","type":"LEAD"},
            {"name":"Conversion API Segment 3","id":104004,"enabled":true,"conversionMethod":"CONVERSIONS_API","type":"LEAD"}
        ],"paging":{"count":100,"links":[],"start":0,"total":4}}"#;
    let campaigns = r#"{"paging":{"start":0,"count":10,"links":[],"total":1},"elements":[{"test":false,"storyDeliveryEnabled":false,"format":"TEXT_AD","name":"Test","id":125868226,"status":"ACTIVE","account":"urn:li:sponsoredAccount:123456"}]}"#;
    let cases = [
        (
            "adAccountId",
            "/rest/adAccounts?q=search",
            accounts,
            json!([
                {"label": "Test Ad Account", "value": "urn:li:sponsoredAccount:101100090"},
                {"label": "Krusty Krab Ads", "value": "urn:li:sponsoredAccount:998877665"}
            ]),
        ),
        (
            "conversionRuleId",
            "/rest/conversions?q=account&account=123456&start=0&count=100",
            rules,
            json!([
                {"label": "Conversion API Segment 2", "value": 104012},
                {"label": "Conversion API Segment 3", "value": 104004}
            ]),
        ),
        (
            "campaignId",
            "/rest/adAccounts/123456/adCampaigns?q=search&search=(status:(values:List(ACTIVE,DRAFT)))",
            campaigns,
            json!([{"label": "Test", "value": 125868226}]),
        ),
    ];
    for (field, path, body, choices) in cases {
        let (mut server, client) = bare_client().await;
        let mock = answer(&mut server, "GET", path, 200, body)
            .create_async()
            .await;
        let api = ConversionsApi::new(&client);
        let result = match field {
            "adAccountId" => dynamic_fields::ad_accounts(api).await,
            "conversionRuleId" => dynamic_fields::conversion_rules(api, Some("123456")).await,
            _ => dynamic_fields::campaigns(api, Some("123456")).await,
        };
        mock.assert_async().await;
        assert_eq!(
            serde_json::to_value(&result).expect("serialises"),
            json!({"choices": choices}),
            "{field}"
        );
    }
}
