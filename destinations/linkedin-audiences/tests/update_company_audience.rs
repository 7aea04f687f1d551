//! `updateCompanyAudience` (reference `updateCompanyAudience/__tests__`, section 7.3), with the
//! real URLs and bodies.

mod common;

use actions_core::ErrorClass;
use actions_core::prelude::*;
use actions_testkit::{TestIntegration, TestOptions};
use common::{JSON, body_json, harness, requests, tokens};
use linkedin_audiences::LinkedInAudiences;
use linkedin_audiences::actions::update_company_audience::to_organization_urn;

const ACTION: &str = "updateCompanyAudience";
const LOOKUP: &str = "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A12345&sourceSegmentId=aud_key&sourcePlatform=SEGMENT";
const MEMBERS: &str = "/rest/dmpSegments/dmp_segment_id/companies";

type T = TestIntegration<LinkedInAudiences>;

fn settings() -> Value {
    json!({"ad_account_id": "12345", "send_email": true, "send_google_advertising_id": true})
}

fn base_mapping(action: Value) -> Value {
    json!({
        "dmp_company_action": action,
        "audience_source": "ENGAGE_RETL",
        "computation_key": "aud_key",
        "identifiers": {
            "companyDomain": {"@path": "$.traits.company_domain"},
            "linkedInCompanyId": {"@path": "$.traits.linkedin_company_id"}
        }
    })
}

fn single(traits: Value, mapping: Value) -> TestOptions {
    TestOptions::event(json!({"type": "track", "traits": traits}))
        .mapping(mapping)
        .default_mappings()
        .settings(settings())
        .auth(tokens("token", "refresh"))
}

fn batch(traits: Vec<Value>, mapping: Value) -> TestOptions {
    TestOptions::events(
        traits
            .into_iter()
            .map(|t| json!({"type": "track", "traits": t}))
            .collect(),
    )
    .mapping(mapping)
    .settings(settings())
    .auth(tokens("token", "refresh"))
}

async fn mock_lookup_with(t: &mut T, path: &str, elements: Value) -> mockito::Mock {
    t.mock("GET", path)
        .match_header("x-restli-protocol-version", "2.0.0")
        .match_header("linkedin-version", "202604")
        .match_header("authorization", "Bearer token")
        .with_header(JSON.0, JSON.1)
        .with_body(json!({"elements": elements}).to_string())
        .create_async()
        .await
}

async fn mock_lookup(t: &mut T) -> mockito::Mock {
    mock_lookup_with(
        t,
        LOOKUP,
        json!([{"id": "dmp_segment_id", "name": "My ABM Audience", "type": "COMPANY"}]),
    )
    .await
}

async fn mock_members_at(t: &mut T, path: &str, status: usize, body: &str) -> mockito::Mock {
    t.mock("POST", path)
        .match_header("x-restli-method", "BATCH_CREATE")
        .match_header("x-restli-protocol-version", "2.0.0")
        .match_header("linkedin-version", "202604")
        .match_header("content-type", "application/json")
        .with_status(status)
        .with_header(JSON.0, JSON.1)
        .with_body(body)
        .create_async()
        .await
}

async fn mock_members(t: &mut T, status: usize, body: &str) -> mockito::Mock {
    mock_members_at(t, MEMBERS, status, body).await
}

/// 7.3 unit: `'1035'`.
#[test]
fn organization_urn_from_a_bare_id() {
    assert_eq!(to_organization_urn("1035"), "urn:li:organization:1035");
}

/// 7.3 unit: an URN is kept.
#[test]
fn organization_urn_from_an_urn() {
    assert_eq!(
        to_organization_urn("urn:li:organization:1035"),
        "urn:li:organization:1035"
    );
}

/// 7.3 unit: a doubled prefix is removed.
#[test]
fn organization_urn_from_a_doubled_urn() {
    assert_eq!(
        to_organization_urn("urn:li:organization:urn:li:organization:1035"),
        "urn:li:organization:1035"
    );
}

/// 7.3 unit: the prefix in any case.
#[test]
fn organization_urn_prefix_in_upper_case() {
    assert_eq!(
        to_organization_urn("URN:LI:ORGANIZATION:1035"),
        "urn:li:organization:1035"
    );
}

/// 7.3 unit: surrounding spaces.
#[test]
fn organization_urn_trims() {
    assert_eq!(to_organization_urn("  1035  "), "urn:li:organization:1035");
}

/// 7.3 #1: domain and organisation id.
#[tokio::test]
async fn sends_domain_and_organization() {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members(&mut t, 200, r#"{"elements":[{"status":201}]}"#).await;
    let x = t
        .test_action(
            ACTION,
            single(
                json!({"company_domain": "microsoft.com", "linkedin_company_id": "1035"}),
                base_mapping(json!("ADD")),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        requests(&x),
        [
            format!("GET https://api.linkedin.com{LOOKUP}"),
            format!("POST https://api.linkedin.com{MEMBERS}")
        ]
    );
    assert_eq!(x[1].response.as_ref().unwrap().status(), 200);
    assert_eq!(
        x[1].request.body.as_deref(),
        Some(
            r#"{"elements":[{"action":"ADD","companyWebsiteDomain":"microsoft.com","organizationUrn":"urn:li:organization:1035"}]}"#
        )
    );
}

async fn first_element(traits: Value, mapping: Value) -> Value {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members(&mut t, 200, r#"{"elements":[{"status":201}]}"#).await;
    let x = t
        .test_action(ACTION, single(traits, mapping))
        .await
        .unwrap();
    body_json(x.last().unwrap())["elements"][0].clone()
}

/// 7.3 #2: domain only.
#[tokio::test]
async fn sends_a_domain_only_company() {
    let el = first_element(
        json!({"company_domain": "microsoft.com"}),
        base_mapping(json!("ADD")),
    )
    .await;
    assert_eq!(
        el,
        json!({"action": "ADD", "companyWebsiteDomain": "microsoft.com"})
    );
}

/// 7.3 #3: REMOVE.
#[tokio::test]
async fn sends_remove() {
    let el = first_element(
        json!({"company_domain": "microsoft.com"}),
        base_mapping(json!("REMOVE")),
    )
    .await;
    assert_eq!(el["action"], "REMOVE");
}

async fn action_with_membership(membership: Option<bool>, action: &str) -> Value {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members(&mut t, 200, r#"{"elements":[{"status":201}]}"#).await;
    let mut properties = json!({});
    if let Some(m) = membership {
        properties["aud_key"] = json!(m);
    }
    let opts = TestOptions::event(json!({
        "type": "track", "properties": properties,
        "context": {"traits": {"company_domain": "microsoft.com"}}
    }))
    .mapping(json!({
        "dmp_company_action": action, "audience_source": "ENGAGE_RETL", "computation_key": "aud_key",
        "identifiers": {"companyDomain": {"@path": "$.context.traits.company_domain"}}
    }))
    .settings(settings())
    .auth(tokens("token", "refresh"));
    let x = t.test_action(ACTION, opts).await.unwrap();
    body_json(x.last().unwrap())["elements"][0]["action"].clone()
}

/// 7.3 #4: the membership boolean (`false`) is ignored: ADD stays ADD.
#[tokio::test]
async fn membership_false_does_not_change_add() {
    assert_eq!(action_with_membership(Some(false), "ADD").await, "ADD");
}

/// 7.3 #5: REMOVE with membership `true` stays REMOVE.
#[tokio::test]
async fn membership_true_does_not_change_remove() {
    assert_eq!(action_with_membership(Some(true), "REMOVE").await, "REMOVE");
}

/// 7.3 #6: no membership boolean.
#[tokio::test]
async fn no_membership_boolean_uses_the_action() {
    assert_eq!(action_with_membership(None, "ADD").await, "ADD");
}

/// 7.3 #7: only a USER segment exists for the key: a COMPANY segment is created and its id read
/// from `x-restli-id`.
#[tokio::test]
async fn creates_a_company_segment_when_only_a_user_segment_exists() {
    let mut t = harness().await;
    mock_lookup_with(
        &mut t,
        LOOKUP,
        json!([{"id": "user_segment", "name": "A User List", "type": "USER"}]),
    )
    .await;
    let create = t
        .mock("POST", "/rest/dmpSegments")
        .match_header("x-restli-protocol-version", "2.0.0")
        .match_body(mockito::Matcher::Exact(
            r#"{"name":"aud_key","sourcePlatform":"SEGMENT","sourceSegmentId":"aud_key","account":"urn:li:sponsoredAccount:12345","type":"COMPANY","destinations":[{"destination":"LINKEDIN"}]}"#.into(),
        ))
        .with_status(201)
        .with_header("x-restli-id", "created_company_id")
        .with_header(JSON.0, JSON.1)
        .with_body("{}")
        .create_async()
        .await;
    mock_members_at(
        &mut t,
        "/rest/dmpSegments/created_company_id/companies",
        200,
        r#"{"elements":[{"status":201}]}"#,
    )
    .await;
    let x = t
        .test_action(
            ACTION,
            single(
                json!({"company_domain": "microsoft.com"}),
                base_mapping(json!("ADD")),
            ),
        )
        .await
        .unwrap();
    create.assert_async().await;
    assert_eq!(
        body_json(&x[2])["elements"][0],
        json!({"action": "ADD", "companyWebsiteDomain": "microsoft.com"})
    );
    assert_eq!(
        t.state().entries(),
        [(
            "company_dmpsegment_id_aud_key".to_string(),
            "created_company_id".to_string(),
            actions_core::context::Ttl::hours(24)
        )]
    );
}

/// 7.3 #8: Connections: the segment name is the source segment id (form-encoded in the query).
#[tokio::test]
async fn connections_use_the_segment_name() {
    let mut t = harness().await;
    mock_lookup_with(
        &mut t,
        "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A12345&sourceSegmentId=My+Connections+Audience&sourcePlatform=SEGMENT",
        json!([]),
    )
    .await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(201)
        .with_header("x-restli-id", "created_company_id")
        .create_async()
        .await;
    mock_members_at(
        &mut t,
        "/rest/dmpSegments/created_company_id/companies",
        200,
        r#"{"elements":[{"status":201}]}"#,
    )
    .await;
    let opts = single(
        json!({"company_domain": "microsoft.com"}),
        json!({"dmp_company_action": "ADD", "audience_source": "CONNECTIONS",
               "segment_name": "My Connections Audience",
               "identifiers": {"companyDomain": {"@path": "$.traits.company_domain"}}}),
    );
    let x = t.test_action(ACTION, opts).await.unwrap();
    let created = body_json(&x[1]);
    assert_eq!(created["type"], "COMPANY");
    assert_eq!(created["name"], "My Connections Audience");
    assert_eq!(created["sourceSegmentId"], "My Connections Audience");
    assert_eq!(x[2].response.as_ref().unwrap().status(), 200);
}

fn domain_options() -> TestOptions {
    single(
        json!({"company_domain": "microsoft.com"}),
        base_mapping(json!("ADD")),
    )
}

/// 7.3 #9: a failing lookup (500) is retryable.
#[tokio::test]
async fn a_failing_lookup_is_retryable() {
    let mut t = harness().await;
    t.mock("GET", LOOKUP)
        .with_status(500)
        .with_header(JSON.0, JSON.1)
        .with_body("{}")
        .create_async()
        .await;
    let e = t.test_action(ACTION, domain_options()).await.unwrap_err();
    assert_eq!(e.code(), Some("RETRYABLE_ERROR"));
    assert_eq!(e.status(), Some(500));
}

async fn create_failure(status: usize) -> Error {
    let mut t = harness().await;
    mock_lookup_with(&mut t, LOOKUP, json!([])).await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(status)
        .create_async()
        .await;
    t.test_action(ACTION, domain_options()).await.unwrap_err()
}

/// 7.3 #10: a 409 on creation is retried as 429.
#[tokio::test]
async fn a_conflict_on_creation_is_retryable_as_429() {
    let e = create_failure(409).await;
    assert_eq!(e.code(), Some("RETRYABLE_ERROR"));
    assert_eq!(e.status(), Some(429));
}

/// 7.3 #11: a 400 on creation is not retryable.
#[tokio::test]
async fn a_bad_request_on_creation_is_an_api_error() {
    let e = create_failure(400).await;
    assert_ne!(e.code(), Some("RETRYABLE_ERROR"));
    assert_eq!(e.class(), ErrorClass::Api);
    assert_eq!(e.status(), Some(400));
    assert_eq!(
        e.message(),
        "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400."
    );
}

async fn error_without_requests(opts: TestOptions) -> Error {
    let mut t = harness().await;
    t.test_action(ACTION, opts).await.unwrap_err()
}

/// 7.3 #12: ENGAGE_RETL needs the audience key.
#[tokio::test]
async fn engage_needs_the_audience_key() {
    let e = error_without_requests(single(
        json!({"company_domain": "microsoft.com"}),
        json!({"dmp_company_action": "ADD", "audience_source": "ENGAGE_RETL",
               "identifiers": {"companyDomain": {"@path": "$.traits.company_domain"}}}),
    ))
    .await;
    assert!(
        e.message()
            .contains("missing the required field 'computation_key'"),
        "{e:?}"
    );
}

/// 7.3 #13: CONNECTIONS needs the segment name.
#[tokio::test]
async fn connections_need_the_segment_name() {
    let e = error_without_requests(single(
        json!({"company_domain": "microsoft.com"}),
        json!({"dmp_company_action": "ADD", "audience_source": "CONNECTIONS",
               "identifiers": {"companyDomain": {"@path": "$.traits.company_domain"}}}),
    ))
    .await;
    assert!(
        e.message()
            .contains("missing the required field 'segment_name'"),
        "{e:?}"
    );
}

/// 7.3 #14: a blank audience key.
#[tokio::test]
async fn a_blank_audience_key_is_rejected() {
    let mut mapping = base_mapping(json!("ADD"));
    mapping["computation_key"] = json!("   ");
    let e =
        error_without_requests(single(json!({"company_domain": "microsoft.com"}), mapping)).await;
    assert_eq!(e.class(), ErrorClass::PayloadValidation);
    assert!(
        e.message().contains("`Audience Key` field is required"),
        "{e:?}"
    );
}

/// 7.3 #15: no identifier at all.
#[tokio::test]
async fn a_company_needs_an_identifier() {
    let mut mapping = base_mapping(json!("ADD"));
    mapping["identifiers"] = json!({});
    let e = error_without_requests(single(json!({}), mapping)).await;
    assert_eq!(e.class(), ErrorClass::PayloadValidation);
    assert!(
        e.message()
            .contains("At least one of 'Company Domain' or 'LinkedIn Company ID' is required"),
        "{e:?}"
    );
}

/// 7.3 #16: an organisation URN without an id is no identifier.
#[tokio::test]
async fn an_empty_organization_urn_is_no_identifier() {
    let e = error_without_requests(single(
        json!({"linkedin_company_id": "urn:li:organization:"}),
        base_mapping(json!("ADD")),
    ))
    .await;
    assert!(
        e.message()
            .contains("At least one of 'Company Domain' or 'LinkedIn Company ID' is required"),
        "{e:?}"
    );
}

/// 7.3 #17: the action must be exactly ADD or REMOVE.
#[tokio::test]
async fn the_action_must_be_add_or_remove() {
    let e = error_without_requests(single(
        json!({"company_domain": "microsoft.com", "action": "remove"}),
        base_mapping(json!({"@path": "$.traits.action"})),
    ))
    .await;
    assert!(
        e.message()
            .contains("Company Segment Action must be one of: \"ADD\" or \"REMOVE\""),
        "{e:?}"
    );
}

async fn members_error(status: usize, body: &str) -> Error {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members(&mut t, status, body).await;
    t.test_action(ACTION, domain_options()).await.unwrap_err()
}

/// 7.3 #18: 429 stays 429 and is retryable.
#[tokio::test]
async fn members_429_is_retryable() {
    let e = members_error(429, "{}").await;
    assert_eq!((e.code(), e.status()), (Some("RETRYABLE_ERROR"), Some(429)));
}

/// 7.3 #19: 500 is retryable.
#[tokio::test]
async fn members_500_is_retryable() {
    let e = members_error(500, "{}").await;
    assert_eq!((e.code(), e.status()), (Some("RETRYABLE_ERROR"), Some(500)));
}

/// 7.3 #20: 401 asks for a new token.
#[tokio::test]
async fn members_401_is_invalid_authentication() {
    let e = members_error(401, "{}").await;
    assert_eq!(e.code(), Some("INVALID_AUTHENTICATION"));
    assert_eq!(
        e.message(),
        "Invalid LinkedIn OAuth access token. New authentication token will be requested."
    );
}

/// 7.3 #21: 400 is not retryable.
#[tokio::test]
async fn members_400_is_not_retryable() {
    let e = members_error(400, "{}").await;
    assert_ne!(e.code(), Some("RETRYABLE_ERROR"));
    assert_eq!(e.status(), Some(400));
}

/// 7.3 #22: 404 (segment not ready) is retried as 429.
#[tokio::test]
async fn members_404_is_retryable_as_429() {
    let e = members_error(404, "{}").await;
    assert_eq!((e.code(), e.status()), (Some("RETRYABLE_ERROR"), Some(429)));
    assert_eq!(
        e.message(),
        "LinkedIn DMP Company Segment is not available yet. It may have just been created. This event will be retried."
    );
}

/// 7.3 #23: an element-level 400 names LinkedIn's message.
#[tokio::test]
async fn an_element_400_is_an_api_error_with_linkedins_message() {
    let e = members_error(
        200,
        r#"{"elements":[{"status":400,"error":{"message":"Invalid organization urn"}}]}"#,
    )
    .await;
    assert_eq!(e.class(), ErrorClass::Api);
    assert_eq!(e.status(), Some(400));
    assert_eq!(
        e.message(),
        "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400. LinkedIn returned: Invalid organization urn"
    );
}

/// 7.3 #24: an element-level 429 is retryable.
#[tokio::test]
async fn an_element_429_is_retryable() {
    let e = members_error(200, r#"{"elements":[{"status":429}]}"#).await;
    assert_eq!((e.code(), e.status()), (Some("RETRYABLE_ERROR"), Some(429)));
}

/// 7.3 #25: no element result at all.
#[tokio::test]
async fn no_element_result_is_an_error() {
    let e = members_error(200, r#"{"elements":[]}"#).await;
    assert_ne!(e.code(), Some("RETRYABLE_ERROR"));
    assert_eq!(e.status(), Some(400));
}

fn multistatus(t: &T) -> Vec<Value> {
    t.multistatus()
        .iter()
        .map(|n| serde_json::to_value(n).unwrap())
        .collect()
}

/// 7.3 #26: a batch is deduplicated by normalised company; every event gets its company's
/// result.
#[tokio::test]
async fn batch_deduplicates_companies() {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    let members = t
        .mock("POST", MEMBERS)
        .match_body(mockito::Matcher::Exact(
            r#"{"elements":[{"action":"ADD","companyWebsiteDomain":"adobe.com","organizationUrn":"urn:li:organization:1480"},{"action":"ADD","companyWebsiteDomain":"oracle.com"},{"action":"ADD","organizationUrn":"urn:li:organization:1476"},{"action":"ADD","companyWebsiteDomain":"ibm.com"}]}"#.into(),
        ))
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"elements":[{"status":201},{"status":201},{"status":400,"error":{"message":"Invalid organization urn"}},{"status":201}]}"#)
        .create_async()
        .await;
    let traits = vec![
        json!({"company_domain": "Adobe.com", "linkedin_company_id": "1480", "action": "ADD"}),
        json!({"company_domain": "oracle.com", "action": "ADD"}),
        json!({"action": "ADD"}),
        json!({"company_domain": "adobe.com", "linkedin_company_id": "urn:li:organization:1480", "action": "ADD"}),
        json!({"linkedin_company_id": "1476", "action": "ADD"}),
        json!({"company_domain": "ibm.com", "action": "ADD"}),
        json!({"company_domain": "ADOBE.COM", "linkedin_company_id": "1480", "action": "ADD"}),
        json!({"action": "REMOVE"}),
        json!({"company_domain": " oracle.com ", "action": "ADD"}),
        json!({"linkedin_company_id": "urn:li:organization:1476", "action": "ADD"}),
        json!({"company_domain": "IBM.com", "action": "ADD"}),
        json!({"company_domain": "adobe.com", "linkedin_company_id": "1480", "action": "ADD"}),
    ];
    t.test_batch_action(
        ACTION,
        batch(traits, base_mapping(json!({"@path": "$.traits.action"}))),
    )
    .await
    .unwrap();
    members.assert_async().await;
    let ok = |sent: Value| json!({"status": 201, "sent": sent, "body": {"status": 201}});
    let adobe = ok(
        json!({"action": "ADD", "companyWebsiteDomain": "adobe.com", "organizationUrn": "urn:li:organization:1480"}),
    );
    let oracle = ok(json!({"action": "ADD", "companyWebsiteDomain": "oracle.com"}));
    let ibm = ok(json!({"action": "ADD", "companyWebsiteDomain": "ibm.com"}));
    let org1476 = json!({"status": 400, "errortype": "BAD_REQUEST",
        "errormessage": "Invalid organization urn",
        "sent": {"action": "ADD", "organizationUrn": "urn:li:organization:1476"},
        "body": {"status": 400, "error": {"message": "Invalid organization urn"}},
        "errorreporter": "DESTINATION"});
    let no_id = json!({"status": 400, "errortype": "PAYLOAD_VALIDATION_FAILED",
        "errormessage": "At least one of 'Company Domain' or 'LinkedIn Company ID' is required in the 'Identifiers' field.",
        "errorreporter": "INTEGRATIONS"});
    assert_eq!(
        multistatus(&t),
        [
            adobe.clone(),
            oracle.clone(),
            no_id.clone(),
            adobe.clone(),
            org1476.clone(),
            ibm.clone(),
            adobe.clone(),
            no_id,
            oracle,
            org1476,
            ibm,
            adobe
        ]
    );
}

async fn batch_of(traits: Vec<Value>, reply: &str) -> Vec<Value> {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members(&mut t, 200, reply).await;
    t.test_batch_action(ACTION, batch(traits, base_mapping(json!("ADD"))))
        .await
        .unwrap();
    multistatus(&t)
}

/// 7.3 #27: per-element success and failure.
#[tokio::test]
async fn batch_reports_each_element() {
    let ms = batch_of(
        vec![
            json!({"company_domain": "microsoft.com"}),
            json!({"company_domain": "invalid"}),
        ],
        r#"{"elements":[{"status":201},{"status":400,"error":{"message":"Invalid company"}}]}"#,
    )
    .await;
    assert_eq!(
        ms[0],
        json!({"status": 201, "sent": {"action": "ADD", "companyWebsiteDomain": "microsoft.com"},
               "body": {"status": 201}})
    );
    assert_eq!(ms[1]["status"], 400);
    assert_eq!(ms[1]["errormessage"], "Invalid company");
    assert_eq!(
        ms[1]["sent"],
        json!({"action": "ADD", "companyWebsiteDomain": "invalid"})
    );
    assert_eq!(
        ms[1]["body"],
        json!({"status": 400, "error": {"message": "Invalid company"}})
    );
}

/// 7.3 #28: an invalid event does not stop the valid one.
#[tokio::test]
async fn batch_keeps_valid_events_next_to_invalid_ones() {
    let ms = batch_of(
        vec![json!({}), json!({"company_domain": "microsoft.com"})],
        r#"{"elements":[{"status":201}]}"#,
    )
    .await;
    assert_eq!(ms[0]["status"], 400);
    assert!(
        ms[0]["errormessage"]
            .as_str()
            .unwrap()
            .contains("At least one of 'Company Domain'")
    );
    assert_eq!(ms[1]["status"], 201);
}

/// 7.3 #29: LinkedIn answers fewer results than companies.
#[tokio::test]
async fn batch_reports_missing_results() {
    let ms = batch_of(
        vec![
            json!({"company_domain": "microsoft.com"}),
            json!({"company_domain": "apple.com"}),
        ],
        r#"{"elements":[{"status":201}]}"#,
    )
    .await;
    assert_eq!(ms[0]["status"], 201);
    assert_eq!(ms[1]["status"], 400);
    assert!(
        ms[1]["errormessage"]
            .as_str()
            .unwrap()
            .contains("did not return a result")
    );
}

/// 7.3 #30: a failing segment creation fails the batch.
#[tokio::test]
async fn batch_fails_when_the_segment_cannot_be_created() {
    let mut t = harness().await;
    mock_lookup_with(&mut t, LOOKUP, json!([])).await;
    t.mock("POST", "/rest/dmpSegments")
        .with_status(400)
        .create_async()
        .await;
    let e = t
        .test_batch_action(
            ACTION,
            batch(
                vec![json!({"company_domain": "microsoft.com"})],
                base_mapping(json!("ADD")),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
}

/// 7.3 #31: a failing lookup fails the batch as retryable.
#[tokio::test]
async fn batch_fails_retryably_when_the_lookup_fails() {
    let mut t = harness().await;
    t.mock("GET", LOOKUP).with_status(500).create_async().await;
    let e = t
        .test_batch_action(
            ACTION,
            batch(
                vec![json!({"company_domain": "microsoft.com"})],
                base_mapping(json!("ADD")),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("RETRYABLE_ERROR"));
}

/// 7.3 #32: an invalid action fails only its event.
#[tokio::test]
async fn batch_rejects_an_invalid_action_per_event() {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members(&mut t, 200, r#"{"elements":[{"status":201}]}"#).await;
    t.test_batch_action(
        ACTION,
        batch(
            vec![
                json!({"company_domain": "microsoft.com", "action": "nope"}),
                json!({"company_domain": "microsoft.com", "action": "ADD"}),
            ],
            base_mapping(json!({"@path": "$.traits.action"})),
        ),
    )
    .await
    .unwrap();
    let ms = multistatus(&t);
    assert_eq!(ms[0]["status"], 400);
    assert!(
        ms[0]["errormessage"]
            .as_str()
            .unwrap()
            .contains("Company Segment Action must be one of")
    );
    assert_eq!(ms[1]["status"], 201);
}

/// 7.3 #33: a blank audience key fails the batch before any request.
#[tokio::test]
async fn batch_rejects_a_blank_audience_key() {
    let mut t = harness().await;
    let mut mapping = base_mapping(json!("ADD"));
    mapping["computation_key"] = json!("   ");
    let e = t
        .test_batch_action(
            ACTION,
            batch(vec![json!({"company_domain": "microsoft.com"})], mapping),
        )
        .await
        .unwrap_err();
    assert!(
        e.message().contains("`Audience Key` field is required"),
        "{e:?}"
    );
}
