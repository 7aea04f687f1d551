//! `updateCompanyAudience` (reference `updateCompanyAudience/__tests__`, section 7.3), with the
//! real URLs and bodies. The reference's cases that differ only in their inputs are tables here;
//! each row names the reference case it ports. The reference's unit cases of
//! `to_organization_urn` are the crate's unit test `organization_urns_are_normalised`.

mod common;

use actions_core::ErrorClass;
use actions_core::prelude::*;
use actions_testkit::{TestIntegration, TestOptions};
use common::{JSON, body_json, error_summary, harness, multistatus_json, requests, tokens};
use linkedin_audiences::LinkedInAudiences;

const ACTION: &str = "updateCompanyAudience";
const LOOKUP: &str = "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A12345&sourceSegmentId=aud_key&sourcePlatform=SEGMENT";
const MEMBERS: &str = "/rest/dmpSegments/dmp_segment_id/companies";
const CREATED_MEMBERS: &str = "/rest/dmpSegments/created_company_id/companies";
const ONE_CREATED: &str = r#"{"elements":[{"status":201}]}"#;
const NO_IDENTIFIER: &str = "At least one of 'Company Domain' or 'LinkedIn Company ID' is required in the 'Identifiers' field.";

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

fn add_mapping() -> Value {
    base_mapping(json!("ADD"))
}

fn microsoft() -> Value {
    json!({"company_domain": "microsoft.com"})
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

/// A harness where the company segment `dmp_segment_id` exists and its members endpoint answers
/// `status` with `body`.
async fn existing_segment(status: usize, body: &str) -> T {
    let mut t = harness().await;
    mock_lookup(&mut t).await;
    mock_members_at(&mut t, MEMBERS, status, body).await;
    t
}

/// A harness where no segment exists for `lookup` and the creation answers `status` (with the
/// new id `created_company_id` in `x-restli-id` when it succeeds).
async fn missing_segment(lookup: &str, status: usize) -> T {
    let mut t = harness().await;
    mock_lookup_with(&mut t, lookup, json!([])).await;
    let mut create = t.mock("POST", "/rest/dmpSegments").with_status(status);
    if status < 300 {
        create = create.with_header("x-restli-id", "created_company_id");
    }
    create.create_async().await;
    t
}

/// A harness where the segment cannot be resolved: the lookup answers 500 (`None`), or no
/// segment exists and its creation answers `Some(status)`.
async fn unresolvable_segment(create_status: Option<usize>) -> T {
    match create_status {
        Some(status) => missing_segment(LOOKUP, status).await,
        None => {
            let mut t = harness().await;
            t.mock("GET", LOOKUP)
                .with_status(500)
                .with_header(JSON.0, JSON.1)
                .with_body("{}")
                .create_async()
                .await;
            t
        }
    }
}

/// The error of adding microsoft.com (by domain) with this harness.
async fn add_microsoft_error(mut t: T) -> Error {
    t.test_action(ACTION, single(microsoft(), add_mapping()))
        .await
        .unwrap_err()
}

/// 7.3 #1: domain and organisation id.
#[tokio::test]
async fn sends_domain_and_organization() {
    let mut t = existing_segment(200, ONE_CREATED).await;
    let traits = json!({"company_domain": "microsoft.com", "linkedin_company_id": "1035"});
    let x = t
        .test_action(ACTION, single(traits, add_mapping()))
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

/// 7.3 #2–#6: the element sent: a domain-only company (#2), REMOVE (#3); the audience
/// membership boolean never changes the chosen action (#4 `false` with ADD, #5 `true` with
/// REMOVE, #6 none).
#[tokio::test]
async fn the_element_carries_the_chosen_action() {
    let context_domain = |action: &str| {
        json!({"dmp_company_action": action, "audience_source": "ENGAGE_RETL",
               "computation_key": "aud_key",
               "identifiers": {"companyDomain": {"@path": "$.context.traits.company_domain"}}})
    };
    let membership_event = |membership: Option<bool>| {
        let mut e = json!({"type": "track", "properties": {},
                           "context": {"traits": {"company_domain": "microsoft.com"}}});
        if let Some(m) = membership {
            e["properties"]["aud_key"] = json!(m);
        }
        e
    };
    let with = |event: Value, mapping: Value| {
        TestOptions::event(event)
            .mapping(mapping)
            .settings(settings())
            .auth(tokens("token", "refresh"))
    };
    let cases = [
        ("#2", single(microsoft(), add_mapping()), "ADD"),
        (
            "#3",
            single(microsoft(), base_mapping(json!("REMOVE"))),
            "REMOVE",
        ),
        (
            "#4",
            with(membership_event(Some(false)), context_domain("ADD")),
            "ADD",
        ),
        (
            "#5",
            with(membership_event(Some(true)), context_domain("REMOVE")),
            "REMOVE",
        ),
        (
            "#6",
            with(membership_event(None), context_domain("ADD")),
            "ADD",
        ),
    ];
    for (case, opts, action) in cases {
        let mut t = existing_segment(200, ONE_CREATED).await;
        let x = t.test_action(ACTION, opts).await.unwrap();
        assert_eq!(
            body_json(x.last().unwrap())["elements"][0],
            json!({"action": action, "companyWebsiteDomain": "microsoft.com"}),
            "{case}"
        );
    }
}

/// 7.3 #7: only a USER segment exists for the key: a COMPANY segment is created and its id read
/// from `x-restli-id`.
#[tokio::test]
async fn creates_a_company_segment_when_only_a_user_segment_exists() {
    let mut t = harness().await;
    let user_list = json!([{"id": "user_segment", "name": "A User List", "type": "USER"}]);
    mock_lookup_with(&mut t, LOOKUP, user_list).await;
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
    mock_members_at(&mut t, CREATED_MEMBERS, 200, ONE_CREATED).await;
    let x = t
        .test_action(ACTION, single(microsoft(), add_mapping()))
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
    let mut t = missing_segment(
        "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A12345&sourceSegmentId=My+Connections+Audience&sourcePlatform=SEGMENT",
        201,
    )
    .await;
    mock_members_at(&mut t, CREATED_MEMBERS, 200, ONE_CREATED).await;
    let opts = single(
        microsoft(),
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

const TRANSIENT: &str = "Transient error while syncing to the LinkedIn DMP Company Segment. This event will be retried.";
const FAILED_400: &str =
    "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400.";

/// 7.3 #9–#11: a failing lookup (500) is retryable (#9); on creation a conflict is retried as
/// 429 (#10) and a bad request is an API error, not retried (#11).
#[tokio::test]
async fn segment_resolution_failures_map_to_the_reference_errors() {
    let conflict =
        "Conflict while syncing to the LinkedIn DMP Company Segment. This event will be retried.";
    let retryable = |status, message| {
        (
            ErrorClass::Retryable,
            Some("RETRYABLE_ERROR"),
            Some(status),
            message,
        )
    };
    let cases = [
        ("#9", None, retryable(500, TRANSIENT)),
        ("#10", Some(409), retryable(429, conflict)),
        (
            "#11",
            Some(400),
            (ErrorClass::Api, Some("400"), Some(400), FAILED_400),
        ),
    ];
    for (case, create_status, expected) in cases {
        let e = add_microsoft_error(unresolvable_segment(create_status).await).await;
        assert_eq!(error_summary(&e), expected, "{case}");
    }
}

/// 7.3 #12–#17: invalid payloads fail before any request: ENGAGE_RETL needs the audience key
/// (#12), CONNECTIONS the segment name (#13); a blank audience key (#14); no identifier at all
/// (#15); an organisation URN without an id is no identifier (#16); the action must be exactly
/// ADD or REMOVE (#17).
#[tokio::test]
async fn invalid_payloads_fail_without_a_request() {
    let domain_only = |source: &str| {
        json!({"dmp_company_action": "ADD", "audience_source": source,
               "identifiers": {"companyDomain": {"@path": "$.traits.company_domain"}}})
    };
    let mut blank_key = add_mapping();
    blank_key["computation_key"] = json!("   ");
    let mut no_identifiers = add_mapping();
    no_identifiers["identifiers"] = json!({});
    let cases = [
        (
            "#12",
            single(microsoft(), domain_only("ENGAGE_RETL")),
            ErrorClass::SchemaValidation,
            "missing the required field 'computation_key'",
        ),
        (
            "#13",
            single(microsoft(), domain_only("CONNECTIONS")),
            ErrorClass::SchemaValidation,
            "missing the required field 'segment_name'",
        ),
        (
            "#14",
            single(microsoft(), blank_key),
            ErrorClass::PayloadValidation,
            "`Audience Key` field is required",
        ),
        (
            "#15",
            single(json!({}), no_identifiers),
            ErrorClass::PayloadValidation,
            NO_IDENTIFIER,
        ),
        (
            "#16",
            single(
                json!({"linkedin_company_id": "urn:li:organization:"}),
                add_mapping(),
            ),
            ErrorClass::PayloadValidation,
            NO_IDENTIFIER,
        ),
        (
            "#17",
            single(
                json!({"company_domain": "microsoft.com", "action": "remove"}),
                base_mapping(json!({"@path": "$.traits.action"})),
            ),
            ErrorClass::SchemaValidation,
            "Company Segment Action must be one of: \"ADD\" or \"REMOVE\"",
        ),
    ];
    for (case, opts, class, message) in cases {
        let mut t = harness().await;
        let e = t.test_action(ACTION, opts).await.unwrap_err();
        assert_eq!(e.class(), class, "{case}: {e:?}");
        assert!(e.message().contains(message), "{case}: {e:?}");
    }
}

/// 7.3 #18–#25: the members endpoint's failures, of the request (#18 429 stays 429, #19 500,
/// #20 401 asks for a new token, #21 400 is not retried, #22 404 — segment not ready — is
/// retried as 429) and of the element (#23 a 400 names LinkedIn's message, #24 a 429 is
/// retried, #25 no element result at all).
#[tokio::test]
async fn members_failures_map_to_the_reference_errors() {
    let retryable = |status, message| {
        (
            ErrorClass::Retryable,
            Some("RETRYABLE_ERROR"),
            Some(status),
            message,
        )
    };
    let api_400 = |message| (ErrorClass::Api, Some("400"), Some(400), message);
    let cases = [
        ("#18", 429, "{}", retryable(429, TRANSIENT)),
        ("#19", 500, "{}", retryable(500, TRANSIENT)),
        (
            "#20",
            401,
            "{}",
            (
                ErrorClass::InvalidAuthentication,
                Some("INVALID_AUTHENTICATION"),
                Some(401),
                "Invalid LinkedIn OAuth access token. New authentication token will be requested.",
            ),
        ),
        ("#21", 400, "{}", api_400(FAILED_400)),
        (
            "#22",
            404,
            "{}",
            retryable(
                429,
                "LinkedIn DMP Company Segment is not available yet. It may have just been created. This event will be retried.",
            ),
        ),
        (
            "#23",
            200,
            r#"{"elements":[{"status":400,"error":{"message":"Invalid organization urn"}}]}"#,
            api_400(
                "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400. LinkedIn returned: Invalid organization urn",
            ),
        ),
        (
            "#24",
            200,
            r#"{"elements":[{"status":429}]}"#,
            retryable(429, TRANSIENT),
        ),
        ("#25", 200, r#"{"elements":[]}"#, api_400(FAILED_400)),
    ];
    for (case, status, body, expected) in cases {
        let e = add_microsoft_error(existing_segment(status, body).await).await;
        assert_eq!(error_summary(&e), expected, "{case}");
    }
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
    let no_id = invalid(NO_IDENTIFIER);
    assert_eq!(
        multistatus_json(&t),
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

/// The node of an event rejected before sending.
fn invalid(message: &str) -> Value {
    json!({"status": 400, "errortype": "PAYLOAD_VALIDATION_FAILED", "errormessage": message,
           "errorreporter": "INTEGRATIONS"})
}

/// The node of a company LinkedIn did not accept.
fn rejected(domain: &str, message: &str, body: Value) -> Value {
    json!({"status": 400, "errortype": "BAD_REQUEST", "errormessage": message,
           "sent": {"action": "ADD", "companyWebsiteDomain": domain}, "body": body,
           "errorreporter": "DESTINATION"})
}

/// 7.3 #27–#29, #32: each event of a batch gets its own node: per-element success and failure
/// (#27); an invalid event does not stop the valid one (#28); LinkedIn answers fewer results
/// than companies (#29); an invalid action fails only its event (#32).
#[tokio::test]
async fn batch_events_get_their_own_results() {
    let microsoft_ok = json!({"status": 201,
        "sent": {"action": "ADD", "companyWebsiteDomain": "microsoft.com"}, "body": {"status": 201}});
    let invalid_company = json!({"status": 400, "error": {"message": "Invalid company"}});
    let by_action = base_mapping(json!({"@path": "$.traits.action"}));
    let cases = [
        (
            "#27",
            vec![microsoft(), json!({"company_domain": "invalid"})],
            add_mapping(),
            r#"{"elements":[{"status":201},{"status":400,"error":{"message":"Invalid company"}}]}"#,
            [
                microsoft_ok.clone(),
                rejected("invalid", "Invalid company", invalid_company),
            ],
        ),
        (
            "#28",
            vec![json!({}), microsoft()],
            add_mapping(),
            ONE_CREATED,
            [invalid(NO_IDENTIFIER), microsoft_ok.clone()],
        ),
        (
            "#29",
            vec![microsoft(), json!({"company_domain": "apple.com"})],
            add_mapping(),
            ONE_CREATED,
            [
                microsoft_ok.clone(),
                rejected(
                    "apple.com",
                    "LinkedIn did not return a result for this company.",
                    json!({}),
                ),
            ],
        ),
        (
            "#32",
            vec![
                json!({"company_domain": "microsoft.com", "action": "nope"}),
                json!({"company_domain": "microsoft.com", "action": "ADD"}),
            ],
            by_action,
            ONE_CREATED,
            [
                invalid("Company Segment Action must be one of: \"ADD\" or \"REMOVE\"."),
                microsoft_ok,
            ],
        ),
    ];
    for (case, traits, mapping, reply, expected) in cases {
        let mut t = existing_segment(200, reply).await;
        t.test_batch_action(ACTION, batch(traits, mapping))
            .await
            .unwrap();
        assert_eq!(multistatus_json(&t), expected, "{case}");
    }
}

/// 7.3 #30, #31, #33: what fails the segment of a single-segment batch fails the batch: a
/// failing segment creation (#30), a failing lookup, as retryable (#31), a blank audience key,
/// before any request (#33).
#[tokio::test]
async fn batch_fails_when_its_segment_cannot_be_resolved() {
    let mut blank_key = add_mapping();
    blank_key["computation_key"] = json!("   ");
    let cases = [
        (
            "#30",
            Some(400),
            add_mapping(),
            (ErrorClass::Api, Some("400"), Some(400), FAILED_400),
        ),
        (
            "#31",
            None,
            add_mapping(),
            (
                ErrorClass::Retryable,
                Some("RETRYABLE_ERROR"),
                Some(500),
                TRANSIENT,
            ),
        ),
    ];
    for (case, create_status, mapping, expected) in cases {
        let mut t = unresolvable_segment(create_status).await;
        let e = t
            .test_batch_action(ACTION, batch(vec![microsoft()], mapping))
            .await
            .unwrap_err();
        assert_eq!(error_summary(&e), expected, "{case}");
    }
    let mut t = harness().await;
    let e = t
        .test_batch_action(ACTION, batch(vec![microsoft()], blank_key))
        .await
        .unwrap_err();
    assert!(
        e.message().contains("`Audience Key` field is required"),
        "#33: {e:?}"
    );
}
