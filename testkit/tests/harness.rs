//! The test harness end to end, on small destinations defined here: `TestIntegration` (actions,
//! batches, authentication, token refresh, dynamic fields, hooks, strict mocking and its diff
//! report, scripted sequences), `create_test_event`, seeded snapshot generation and the
//! `snapshot_tests!` macro, and the secret-leak check (a clean destination passes, each kind of
//! leak is caught).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actions_core::context::FixedClock;
use actions_core::fields::{CompiledSchema, Fields, fields_to_json_schema};
use actions_core::prelude::*;
use actions_core::{ErrorClass, RuntimeConfig};
use actions_testkit::leak::{ResponseScenario, SecretLeakCheck, Surface};
use actions_testkit::snapshot::{
    FIXED_DATETIME, FieldSet, Snapshotter, generate_payload, generate_settings, seed_of,
};
use actions_testkit::{
    ExchangeExt, Stamp, TEST_USER_AGENT, TestIntegration, TestOptions, assert_no_secret_leak,
    create_test_event,
};
use base64::Engine as _;
use futures::FutureExt as _;
use serde::Deserialize;

const API: &str = "https://api.harness.test";
const AUTH: &str = "https://auth.harness.test";
const KEY: &str = "key-0123456789";

// ---------------------------------------------------------------------------------------------
// The test destination: OAuth 2 plus an API key; `track` (batchable, with a hook), `identify`
// (every field type, a dynamic field), `rejectAll` (always an IntegrationError).

/// The harness test destination's settings: an API key, its workspace, a data region.
#[derive(Deserialize, JsonSchema)]
struct Settings {
    /// The API key.
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    api_key: String,
    /// The workspace slug.
    #[schemars(title = "Workspace")]
    workspace: String,
    /// The data region.
    #[schemars(title = "Region", extend("x-field" = {"choices": ["us", "eu"]}))]
    region: Option<String>,
}

/// A track call.
#[derive(Deserialize, JsonSchema)]
struct Track {
    /// The event name.
    #[schemars(title = "Event", extend("x-field" = {"default": {"@path": "$.event"}}))]
    event: String,
    /// The user.
    #[schemars(title = "User ID", extend("x-field" = {"default": {"@path": "$.userId"}}))]
    user_id: Option<String>,
    /// Event properties.
    #[schemars(title = "Properties", extend("x-field" = {"default": {"@path": "$.properties"}}))]
    properties: Option<serde_json::Map<String, Value>>,
}

/// What an action of the harness test destination gets.
type Input<'a, P> = ExecuteInput<'a, Settings, P>;
type Performed = Result<Option<Value>, Error>;

/// The URL of `path` in the settings' workspace.
fn workspace_url(settings: &Settings, path: &str) -> String {
    format!("{API}/v1/{}/{path}", settings.workspace)
}

struct TrackAction;

#[async_trait]
impl Action<Settings> for TrackAction {
    type Payload = Track;

    fn supports_batch(&self) -> bool {
        true
    }

    async fn perform(&self, client: &RequestClient, input: Input<'_, Track>) -> Performed {
        let p = &input.payload;
        let mut body = json!({"event": p.event, "userId": p.user_id});
        if let Some(props) = &p.properties {
            body["properties"] = Value::Object(props.clone());
        }
        let url = workspace_url(input.settings, "track");
        let r = client.post(url).json(body).send().await?;
        Ok(Some(r.result_data()))
    }

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("track", "Track", "Sends a track event.")
    }

    async fn perform_batch(&self, client: &RequestClient, input: Input<'_, Vec<Track>>) -> Batched {
        let events: Vec<Value> = input.payload.iter().map(|p| json!(p.event)).collect();
        let url = workspace_url(input.settings, "batch");
        let r = client
            .post(url)
            .json(json!({"events": events}))
            .send()
            .await?;
        Ok(BatchResponse::Response(r))
    }

    fn hooks(&self) -> Vec<ActionHookDefinition> {
        let input_fields: Fields = serde_json::from_value(json!({
            "name": {"label": "Name", "type": "string", "required": true}
        }))
        .unwrap_or_default();
        vec![ActionHookDefinition {
            key: "onMappingSave".to_string(),
            label: "Create a list".to_string(),
            description: "Creates the list events go to.".to_string(),
            input_fields,
            output_types: Default::default(),
        }]
    }

    async fn perform_hook(&self, client: &RequestClient, _: &str, input: Hook<'_>) -> Hooked {
        let body = json!({"name": input.hook_inputs["name"]});
        let url = workspace_url(input.settings, "lists");
        let r = client.post(url).json(body).send().await?;
        Ok(HookResult {
            success_message: Some("List created".to_string()),
            saved_data: r.data().cloned(),
            error: None,
        })
    }
}

type Batched = Result<BatchResponse, Error>;
type Hook<'a> = HookInput<'a, Settings>;
type Hooked = Result<HookResult, Error>;

struct IdentifyAction;

/// Every field type the generator knows, declared as JSON.
fn identify_fields() -> Value {
    json!({
        "email": {"label": "Email", "type": "string", "format": "email", "required": true},
        "user_id": {"label": "User ID", "type": "string"},
        "plan": {"label": "Plan", "type": "string", "required": true, "dynamic": true,
                 "choices": ["free", "pro", {"value": "enterprise", "label": "Enterprise"}]},
        "seats": {"label": "Seats", "type": "integer", "minimum": 1, "maximum": 500},
        "revenue": {"label": "Revenue", "type": "number", "minimum": 0.5, "maximum": 99.5},
        "score": {"label": "Score", "type": "number"},
        "active": {"label": "Active", "type": "boolean"},
        "created_at": {"label": "Created", "type": "datetime"},
        "birthday": {"label": "Birthday", "type": "string", "format": "date"},
        "login_time": {"label": "Login time", "type": "string", "format": "time"},
        "signup": {"label": "Signup", "type": "string", "format": "date-time"},
        "website": {"label": "Website", "type": "string", "format": "uri"},
        "host": {"label": "Host", "type": "string", "format": "hostname"},
        "last_ip": {"label": "Last IP", "type": "string", "format": "ipv4"},
        "last_ip6": {"label": "Last IPv6", "type": "string", "format": "ipv6"},
        "device": {"label": "Device", "type": "string", "format": "uuid"},
        "bio": {"label": "Bio", "type": "text", "maximum": 40},
        "nickname": {"label": "Nickname", "type": "string", "minimum": 3, "maximum": 8},
        "currency": {"label": "Currency", "type": "string"},
        "phone_number": {"label": "Phone", "type": "string"},
        "tags": {"label": "Tags", "type": "string", "multiple": true},
        "vip": {"label": "VIP", "type": "boolean",
                "required": {"conditions": [{"fieldKey": "plan", "operator": "is", "value": "enterprise"}]}},
        "address": {"label": "Address", "type": "object", "required": true, "properties": {
            "street": {"label": "Street", "type": "string", "required": true},
            "city": {"label": "City", "type": "string"},
            "email": {"label": "Contact", "type": "string"}
        }},
        "consent": {"label": "Consent", "type": "object"},
        "traits": {"label": "Traits", "type": "object"},
        "note": {"label": "Note", "type": "string"}
    })
}

#[async_trait]
impl Action<Settings> for IdentifyAction {
    type Payload = Value;

    fn fields(&self) -> Result<Fields, Error> {
        serde_json::from_value(identify_fields()).map_err(|e| Error::plain(e.to_string()))
    }

    async fn perform(&self, client: &RequestClient, input: Input<'_, Value>) -> Performed {
        let email = input.payload["email"].as_str().unwrap_or_default();
        let plan = input.payload["plan"].as_str().unwrap_or_default();
        let url = workspace_url(input.settings, &format!("users/{email}"));
        let request = client.put(url).search_params([("plan", plan)]);
        let r = request.json(input.payload.clone()).send().await?;
        Ok(Some(r.result_data()))
    }

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("identify", "Identify", "Creates or updates a user.")
    }

    fn dynamic_fields(&self) -> Vec<String> {
        vec!["plan".to_string()]
    }

    async fn dynamic_field(&self, client: &RequestClient, _: &str, input: Dynamic<'_>) -> Choices {
        let url = workspace_url(input.settings, "plans");
        let plans = client.get(url).send().await?.json()?;
        let choices = plans
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| DynamicChoice {
                label: p["name"].as_str().unwrap_or_default().to_string(),
                value: p["id"].clone(),
                description: None,
            })
            .collect();
        Ok(DynamicFieldResponse {
            choices,
            next_page: None,
            error: None,
        })
    }
}

type Dynamic<'a> = DynamicFieldInput<'a, Settings>;
type Choices = Result<DynamicFieldResponse, Error>;

/// `rejectAll`: fails every payload with an IntegrationError.
struct RejectAction;

/// The payload of `rejectAll`.
#[derive(Deserialize, JsonSchema)]
struct Reject {
    /// Why.
    #[schemars(title = "Reason")]
    reason: String,
}

#[async_trait]
impl Action<Settings> for RejectAction {
    type Payload = Reject;

    async fn perform(&self, _: &RequestClient, input: Input<'_, Reject>) -> Performed {
        let message = format!("Unsupported reason {:?}", input.payload.reason);
        Err(Error::integration(message, "UNSUPPORTED", 400))
    }

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("rejectAll", "Reject", "Rejects every payload.")
    }
}

struct HarnessTest;

#[async_trait]
impl Destination for HarnessTest {
    type Settings = Settings;

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![
            Arc::new(TrackAction),
            Arc::new(IdentifyAction),
            Arc::new(RejectAction),
        ]
    }

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Harness Test", "actions-harness-test", AuthScheme::OAuth2)
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        let mut o = RequestOptions::new();
        if let Some(s) = ctx.settings {
            o = o.header("x-api-key", s.api_key.clone());
            if let Some(region) = &s.region {
                o = o.header("x-region", region.clone());
            }
        }
        if let Some(t) = ctx.auth.access_token() {
            o = o.header("authorization", format!("Bearer {t}"));
        }
        o
    }

    async fn test_authentication(&self, client: &RequestClient, ctx: Auth<'_>) -> Tested {
        client.get(workspace_url(ctx.settings, "me")).send().await?;
        Ok(())
    }

    /// The refresh-token grant, with the client's id and secret in the form.
    async fn refresh_access_token(&self, client: &RequestClient, ctx: Auth<'_>) -> Refreshed {
        let secret = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_string());
        let form = [
            ("grant_type", "refresh_token".to_string()),
            (
                "refresh_token",
                secret(&ctx.auth.refresh_token).unwrap_or_default(),
            ),
            ("client_id", ctx.auth.client_id.clone().unwrap_or_default()),
            (
                "client_secret",
                secret(&ctx.auth.client_secret).unwrap_or_default(),
            ),
        ];
        let r = client
            .post(format!("{AUTH}/token"))
            .form(form)
            .send()
            .await?;
        let token = r.json()?["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::plain("the token response has no access_token"))?;
        Ok(Some(RefreshedTokens::access(token)))
    }
}

type Auth<'a> = AuthContext<'a, Settings>;
type Tested = Result<(), Error>;
type Refreshed = Result<Option<RefreshedTokens>, Error>;

fn settings() -> Value {
    json!({
        "workspace": "acme",
        "api_key": KEY,
        "oauth": {"access_token": "AT-1", "refresh_token": "RT-1",
                  "clientId": "cid", "clientSecret": "CS-1"}
    })
}

async fn harness() -> TestIntegration<HarnessTest> {
    TestIntegration::new(HarnessTest, &[API, AUTH])
        .await
        .expect("the harness starts")
}

fn track(event: &str) -> TestOptions {
    TestOptions::event(json!({"event": event, "properties": {"plan": "pro"}}))
        .default_mappings()
        .settings(settings())
}

// ---------------------------------------------------------------------------------------------
// TestIntegration

#[tokio::test]
async fn test_action_sends_the_mapped_event_and_logs_the_steps() {
    let mut t = harness().await;
    let mock = t
        .expect_request("POST", "/v1/acme/track")
        .match_json(
            json!({"event": "Signed Up", "userId": "user1234", "properties": {"plan": "pro"}}),
        )
        .match_header("x-api-key", KEY)
        .match_header("authorization", "Bearer AT-1")
        .respond_json(200, json!({"ok": true}))
        .create()
        .await;
    let sent = t.test_action("track", track("Signed Up")).await.unwrap();
    mock.assert_async().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].path_and_query(), "/v1/acme/track");
    assert_eq!(
        sent[0].request.url,
        format!("{API}/v1/acme/track"),
        "captures keep the logical URL"
    );
    assert_eq!(sent[0].request_json().unwrap()["event"], json!("Signed Up"));
    let outputs: Vec<_> = t
        .results()
        .iter()
        .map(|r| r.output.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        outputs,
        ["Mappings resolved", "Payload validated", "Action Executed"]
    );
    assert_eq!(t.results()[2].data, Some(json!({"ok": true})));
}

#[tokio::test]
async fn the_given_mapping_wins_over_default_mappings() {
    let mut t = harness().await;
    t.expect_request("POST", "/v1/acme/track")
        .match_json(
            json!({"event": "Renamed", "userId": "user1234", "properties": {"plan": "pro"}}),
        )
        .create()
        .await;
    t.test_action(
        "track",
        track("Signed Up").mapping(json!({"event": "Renamed"})),
    )
    .await
    .unwrap();
    // Without default mappings only the mapped field is sent.
    t.expect_request("POST", "/v1/acme/track")
        .match_json(json!({"event": "Only", "userId": null}))
        .create()
        .await;
    let opts = TestOptions::event(json!({}))
        .mapping(json!({"event": "Only"}))
        .settings(settings());
    t.test_action("track", opts).await.unwrap();
}

#[tokio::test]
async fn a_validation_error_is_returned_and_clears_the_result_log() {
    let mut t = harness().await;
    t.accept_all().await;
    t.test_action("track", track("ok")).await.unwrap();
    assert_eq!(t.results().len(), 3);
    let err = t
        .test_action("track", TestOptions::event(json!({})).settings(settings()))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::SchemaValidation);
    assert!(err.message().to_lowercase().contains("event"), "{err}");
    assert!(t.results().is_empty());
    assert!(t.last_exchanges().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn test_batch_action_reports_each_event() {
    let mut t = harness().await;
    t.expect_request("POST", "/v1/acme/batch")
        .match_json(json!({"events": ["a", "b"]}))
        .respond_json(200, json!({"accepted": 2}))
        .create()
        .await;
    let opts = TestOptions::events(vec![
        json!({"event": "a"}),
        json!({"event": null}),
        json!({"event": "b"}),
    ])
    .default_mappings()
    .settings(settings());
    let sent = t.test_batch_action("track", opts).await.unwrap();
    assert_eq!(sent.len(), 1);
    let statuses: Vec<u16> = t.multistatus().iter().map(|n| n.status()).collect();
    assert_eq!(statuses, [200, 400, 200]);
}

#[tokio::test]
async fn test_authentication_passes_and_fails_like_the_reference() {
    let mut t = harness().await;
    t.expect_request("GET", "/v1/acme/me")
        .respond_json(200, json!({"id": 1}))
        .create()
        .await;
    t.test_authentication(&settings()).await.unwrap();
    let mut t = harness().await;
    t.expect_request("GET", "/v1/acme/me")
        .respond_json(401, json!({"message": "bad key"}))
        .create()
        .await;
    let err = t.test_authentication(&settings()).await.unwrap_err();
    assert_eq!(err.message(), "Credentials are invalid: 401 Unauthorized");
}

#[tokio::test]
async fn refresh_access_token_posts_the_form_and_records_the_tokens() {
    let mut t = harness().await;
    let mock = t
        .expect_request("POST", "/token")
        .match_form([
            ("grant_type", "refresh_token"),
            ("refresh_token", "RT-1"),
            ("client_secret", "CS-1"),
        ])
        .respond_json(200, json!({"access_token": "AT-2"}))
        .create()
        .await;
    let tokens = t.refresh_access_token(&settings()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(tokens.access_token.expose(), "AT-2");
    let seen: Vec<String> = t
        .token_refreshes()
        .iter()
        .map(|r| r.access_token.expose().to_string())
        .collect();
    assert_eq!(seen, ["AT-2"]);
}

#[tokio::test]
async fn dynamic_fields_and_hooks_run_through_the_mock_server() {
    let mut t = harness().await;
    t.expect_request("GET", "/v1/acme/plans")
        .respond_json(200, json!([{"id": 7, "name": "Pro"}]))
        .create()
        .await;
    let r = t
        .test_dynamic_field("identify", "plan", &settings(), &json!({}))
        .await
        .unwrap();
    assert_eq!(r.choices.len(), 1);
    assert_eq!(
        (r.choices[0].label.as_str(), &r.choices[0].value),
        ("Pro", &json!(7))
    );
    let missing = t
        .test_dynamic_field("identify", "nope", &settings(), &json!({}))
        .await
        .unwrap();
    assert_eq!(missing.error.map(|e| e.code), Some("404".to_string()));

    t.expect_request("POST", "/v1/acme/lists")
        .match_json(json!({"name": "VIPs"}))
        .respond_json(201, json!({"id": "list-9"}))
        .create()
        .await;
    let hook = t
        .test_hook(
            "track",
            "onMappingSave",
            &settings(),
            &json!({"name": "VIPs"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(hook.saved_data, Some(json!({"id": "list-9"})));
    let invalid = t
        .test_hook("track", "onMappingSave", &settings(), &json!({}), None)
        .await
        .unwrap_err();
    assert!(
        invalid.message().to_lowercase().contains("name"),
        "{invalid}"
    );
}

#[tokio::test]
async fn a_scripted_sequence_answers_in_order() {
    let mut t = harness().await;
    let answers = [
        (429, r#"{"m":"slow down"}"#),
        (500, "{}"),
        (200, r#"{"ok":1}"#),
    ];
    let mocks = t.mock_sequence("POST", "/v1/acme/track", &answers).await;
    let first = t.test_action("track", track("x")).await.unwrap_err();
    let second = t.test_action("track", track("x")).await.unwrap_err();
    let third = t.test_action("track", track("x")).await.unwrap();
    assert_eq!((first.status(), second.status()), (Some(429), Some(500)));
    assert_eq!(third[0].status(), Some(200));
    for m in mocks {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn default_event_stamps_follow_the_runtime_clock() {
    let now = 1_700_000_000_000;
    let config = RuntimeConfig {
        clock: Arc::new(FixedClock::new(now)),
        ..RuntimeConfig::default()
    };
    let mut t = TestIntegration::with_config(HarnessTest, &[API], config)
        .await
        .unwrap();
    t.accept_all().await;
    let opts = TestOptions::event(json!({}))
        .mapping(json!({"event": {"@path": "$.timestamp"}, "user_id": {"@path": "$.messageId"}}))
        .settings(settings());
    let sent = t.test_action("track", opts.clone()).await.unwrap();
    let expected = create_test_event(
        json!({}),
        Stamp::Fixed {
            seed: 0,
            now_ms: now,
        },
    );
    let body = sent[0].request_json().unwrap();
    assert_eq!(body["event"], json!("2023-11-14T22:13:20.000Z"));
    assert_eq!(body["userId"], expected["messageId"]);
    let again = t.test_action("track", opts).await.unwrap();
    assert_eq!(again[0].request_json(), Some(body), "deterministic");
}

#[tokio::test]
async fn query_parameters_match_in_any_order_and_legacy_mocks_still_work() {
    let mut t = harness().await;
    let mock = t
        .expect_request("PUT", "/v1/acme/users/a@b.co?plan=pro")
        .match_partial_json(json!({"email": "a@b.co", "address": {"street": "Main"}}))
        .create()
        .await;
    let opts = TestOptions::event(json!({}))
        .mapping(
            json!({"email": "a@b.co", "plan": "pro", "address": {"street": "Main", "city": "X"}}),
        )
        .settings(settings());
    t.test_action("identify", opts.clone()).await.unwrap();
    mock.assert_async().await;
    let mut t = harness().await;
    let legacy = t
        .mock("PUT", "/v1/acme/users/a@b.co?plan=pro")
        .with_status(204)
        .create_async()
        .await;
    let sent = t.test_action("identify", opts).await.unwrap();
    legacy.assert_async().await;
    assert_eq!(sent[0].status(), Some(204));
}

// ---------------------------------------------------------------------------------------------
// Strict mocking and its report

/// Declares three mocks, the second closest to `POST /v1/acme/track` with
/// `{"event": "Signed In", …}` (it wants `?source=web` and `"Signed Up"`).
async fn harness_with_near_miss(strict: bool) -> TestIntegration<HarnessTest> {
    let mut t = harness().await.strict(strict);
    t.expect_request("GET", "/v1/acme/me").create().await;
    t.expect_request("POST", "/v1/acme/track?source=web")
        .match_json(
            json!({"event": "Signed Up", "userId": "user1234", "properties": {"plan": "pro"}}),
        )
        .create()
        .await;
    t.mock("POST", "/v1/other/track").create_async().await;
    t
}

fn signed_in() -> TestOptions {
    track("Signed In")
}

#[tokio::test]
#[should_panic(expected = "closest declared mock (#2 of 3): POST /v1/acme/track?source=web")]
async fn strict_mode_fails_the_test_on_an_unexpected_request() {
    let mut t = harness_with_near_miss(true).await;
    let _ = t.test_action("track", signed_in()).await;
}

#[tokio::test]
async fn the_report_diffs_the_request_against_the_closest_mock() {
    let mut t = harness_with_near_miss(true).await;
    let outcome = AssertUnwindSafe(t.test_action("track", signed_in()))
        .catch_unwind()
        .await;
    let panic = outcome.expect_err("an unexpected request fails the test");
    let report = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    let expected_lines = [
        "unexpected request — no mock matched it:",
        "  POST https://api.harness.test/v1/acme/track",
        "    x-api-key: <redacted>",
        "    authorization: <redacted>",
        "closest declared mock (#2 of 3): POST /v1/acme/track?source=web [exact JSON body]",
        "  differences (- expected, + sent):",
        "  query parameters:",
        "    - source=web  (missing)",
        "  body (exact JSON):",
        "    $.event: - \"Signed Up\" + \"Signed In\"",
        "declared mocks:",
        "  #1 GET /v1/acme/me",
        "  #3 POST /v1/other/track [mock(): builder matchers not shown]",
    ];
    for line in expected_lines {
        assert!(
            report.lines().any(|l| l == line),
            "missing line {line:?} in:\n{report}"
        );
    }
    assert!(
        !report.contains(KEY) && !report.contains("AT-1"),
        "{report}"
    );
}

#[tokio::test]
async fn without_strictness_the_reports_are_kept_and_the_call_fails_on_its_own() {
    let mut t = harness_with_near_miss(false).await;
    let err = t.test_action("track", signed_in()).await.unwrap_err();
    assert_eq!(err.status(), Some(599));
    let reports = t.unmatched_requests();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].contains("$.event: - \"Signed Up\" + \"Signed In\""));
    // A matched call clears them.
    t.expect_request("POST", "/v1/acme/track").create().await;
    t.test_action("track", signed_in()).await.unwrap();
    assert!(t.unmatched_requests().is_empty());
}

#[tokio::test]
async fn the_report_lists_method_path_query_header_and_form_differences() {
    let mut t = harness().await.strict(false);
    t.expect_request("POST", "/tokens?scope=a&scope=b")
        .match_header("x-api-key", "another-key")
        .match_form([("grant_type", "client_credentials")])
        .create()
        .await;
    t.expect_request("DELETE", "/elsewhere/x").create().await;
    let _ = t.refresh_access_token(&settings()).await;
    let report = t.unmatched_requests().join("\n");
    for line in [
        "closest declared mock (#1 of 2): POST /tokens?scope=a&scope=b [header x-api-key] [form fields body]",
        "  path:",
        "    - /tokens",
        "    + /token",
        "    - scope=a  (missing)",
        "    - scope=b  (missing)",
        "  header x-api-key: - <redacted> + <redacted, differs>",
        "    - grant_type=client_credentials",
        "    + grant_type=refresh_token",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "missing line {line:?} in:\n{report}"
        );
    }
    assert!(
        !report.contains("RT-1") && !report.contains("CS-1"),
        "{report}"
    );
    let mut t = harness().await.strict(false);
    let _ = t.test_authentication(&settings()).await;
    assert!(
        t.unmatched_requests()[0].contains("no mocks were declared"),
        "{:?}",
        t.unmatched_requests()
    );
}

// ---------------------------------------------------------------------------------------------
// create_test_event

#[test]
fn test_events_have_the_reference_defaults() {
    let e = create_test_event(json!({}), Stamp::Fixed { seed: 3, now_ms: 0 });
    assert_eq!(e["type"], "track");
    assert_eq!(e["event"], "Test Event");
    assert_eq!(e["userId"], "user1234");
    assert_eq!(e["anonymousId"], "anonId1234");
    assert_eq!(e["properties"], json!({}));
    assert_eq!(e["traits"], json!({}));
    for k in ["receivedAt", "sentAt", "timestamp"] {
        assert_eq!(e[k], "1970-01-01T00:00:00.000Z");
    }
    assert_eq!(e["context"]["ip"], "8.8.8.8");
    assert_eq!(
        e["context"]["library"],
        json!({"name": "analytics.js", "version": "2.11.1"})
    );
    assert_eq!(e["context"]["location"]["latitude"], json!(40.2964197));
    assert_eq!(e["context"]["page"]["url"], "https://segment.com/academy/");
    assert_eq!(e["context"]["timezone"], "Europe/Amsterdam");
    assert_eq!(e["context"]["userAgent"], TEST_USER_AGENT);
    let id = uuid::Uuid::parse_str(e["messageId"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4);
}

#[test]
fn overrides_merge_shallowly_and_fixed_stamps_are_deterministic() {
    let e = create_test_event(
        json!({"context": {"ip": "1.2.3.4"}, "event": "Order Completed"}),
        Stamp::Fixed {
            seed: 1,
            now_ms: 1_612_137_600_000,
        },
    );
    assert_eq!(
        e["context"],
        json!({"ip": "1.2.3.4"}),
        "context is replaced wholesale"
    );
    assert_eq!(e["event"], "Order Completed");
    assert_eq!(e["timestamp"], "2021-02-01T00:00:00.000Z");
    let same = create_test_event(json!({}), Stamp::Fixed { seed: 1, now_ms: 5 });
    let other = create_test_event(json!({}), Stamp::Fixed { seed: 2, now_ms: 5 });
    assert_eq!(e["messageId"], same["messageId"]);
    assert_ne!(e["messageId"], other["messageId"]);
    let now = chrono::Utc::now().timestamp_millis();
    let a = create_test_event(json!({}), Stamp::Now);
    let b = create_test_event(json!({}), Stamp::Now);
    assert_ne!(a["messageId"], b["messageId"]);
    let stamped = chrono::DateTime::parse_from_rfc3339(a["timestamp"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!((stamped - now).abs() < 60_000, "{stamped} vs {now}");
}

// ---------------------------------------------------------------------------------------------
// Seeded test data

fn fields() -> Fields {
    serde_json::from_value(identify_fields()).unwrap()
}

fn validate(payload: &Value, fields: &Fields) -> Result<Value, String> {
    let schema = fields_to_json_schema(fields).map_err(|e| e.to_string())?;
    let compiled = CompiledSchema::compile(&schema).map_err(|e| e.to_string())?;
    let mut p = actions_core::fields::remove_empty_values(payload.clone(), &schema, true)
        .unwrap_or_else(|| json!({}));
    compiled.validate(&mut p, &[]).map_err(|e| e.to_string())?;
    Ok(p)
}

#[test]
fn generated_payloads_are_deterministic_and_valid() {
    let fields = fields();
    let seed = seed_of("actions-harness-test", "identify");
    assert_eq!(seed, "actions-harness-test#identify");
    for set in FieldSet::BOTH {
        let a = generate_payload(&seed, &fields, set).unwrap();
        assert_eq!(a, generate_payload(&seed, &fields, set).unwrap());
        assert_ne!(
            a,
            generate_payload("actions-harness-test#other", &fields, set).unwrap()
        );
        let validated = validate(&a, &fields).unwrap_or_else(|e| panic!("{set:?}: {e}\n{a:#}"));
        assert_eq!(validated, a, "validation keeps every generated value");
    }
}

#[test]
fn required_only_keeps_required_id_and_consent_fields() {
    let p = generate_payload("s#a", &fields(), FieldSet::Required).unwrap();
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["email", "user_id", "plan", "vip", "address", "consent"],
        "required (vip conditionally), plus keys with `id` or `consent`"
    );
    assert_eq!(
        p["address"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["street"],
        "inside objects, required properties only"
    );
    let all = generate_payload("s#a", &fields(), FieldSet::All).unwrap();
    assert_eq!(all.as_object().unwrap().len(), fields().len());
    for k in keys {
        let (a, b) = match k {
            "address" => (&p[k]["street"], &all[k]["street"]),
            _ => (&p[k], &all[k]),
        };
        assert_eq!(a, b, "{k}: a field's value does not depend on the set");
    }
}

#[test]
fn generated_values_follow_the_per_type_rules() {
    let fields = fields();
    let mut distinct = std::collections::HashSet::new();
    for n in 0..40 {
        let seed = format!("actions-harness-test#seed{n}");
        let p = generate_payload(&seed, &fields, FieldSet::All).unwrap();
        let seats = p["seats"].as_i64().unwrap();
        assert!((1..=500).contains(&seats), "{seats}");
        let revenue = p["revenue"].as_f64().unwrap();
        assert!((0.5..=99.5).contains(&revenue), "{revenue}");
        assert!(
            ((revenue * 100.0).round() - revenue * 100.0).abs() < 1e-6,
            "two decimals: {revenue}"
        );
        assert!(p["score"].as_f64().unwrap().abs() <= 9_007_199_254_740_991.0 / 100.0);
        assert!(p["active"].is_boolean());
        assert_eq!(p["created_at"], FIXED_DATETIME);
        assert_eq!(p["signup"], FIXED_DATETIME);
        assert!(["free", "pro", "enterprise"].contains(&p["plan"].as_str().unwrap()));
        let tags = p["tags"].as_array().unwrap();
        assert_eq!(tags.len(), 1);
        assert!(tags[0].is_string());
        assert!(p["traits"]["testType"].is_string());
        assert_eq!(p["traits"].as_object().unwrap().len(), 1);
        assert_eq!(
            p["consent"],
            json!({"categoryPreferences": {"analytics": true, "marketing": false}})
        );
        let email = p["email"].as_str().unwrap();
        assert!(email.contains('@') && email.contains('.'), "{email}");
        assert!(
            p["address"]["email"].as_str().unwrap().contains('@'),
            "name override in objects"
        );
        let currency = p["currency"].as_str().unwrap();
        assert!(currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()));
        let phone = p["phone_number"].as_str().unwrap();
        assert!(phone.starts_with("+1") && phone.len() == 12, "{phone}");
        assert!(p["bio"].as_str().unwrap().chars().count() <= 40);
        let nick = p["nickname"].as_str().unwrap().chars().count();
        assert!((3..=8).contains(&nick), "{nick}");
        uuid::Uuid::parse_str(p["device"].as_str().unwrap()).unwrap();
        p["last_ip"]
            .as_str()
            .unwrap()
            .parse::<std::net::Ipv4Addr>()
            .unwrap();
        p["last_ip6"]
            .as_str()
            .unwrap()
            .parse::<std::net::Ipv6Addr>()
            .unwrap();
        chrono::NaiveDate::parse_from_str(p["birthday"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        chrono::NaiveTime::parse_from_str(p["login_time"].as_str().unwrap(), "%H:%M:%S").unwrap();
        assert!(p["website"].as_str().unwrap().starts_with("http://"));
        // Validation (formats, ranges, choices) accepts every generated payload.
        validate(&p, &fields).unwrap_or_else(|e| panic!("{e}\n{p:#}"));
        distinct.insert(p["note"].as_str().unwrap().to_string());
    }
    assert!(distinct.len() > 30, "seeds give different values");
    let p = generate_payload("x#y", &fields, FieldSet::All).unwrap();
    assert_ne!(
        p["note"], p["user_id"],
        "same-typed fields get different values"
    );
}

#[test]
fn generated_settings_and_deep_fields() {
    let settings_fields = actions_core::fields::fields_of::<Settings>().unwrap();
    let s = generate_settings("actions-harness-test#track", &settings_fields).unwrap();
    assert!(s["workspace"].is_string() && s["api_key"].is_string());
    assert!(["us", "eu"].contains(&s["region"].as_str().unwrap()));
    let mut deep = json!({"label": "Leaf", "type": "string"});
    for i in 0..40 {
        deep = json!({"label": format!("L{i}"), "type": "object", "properties": {"x": deep}});
    }
    let deep: Fields = serde_json::from_value(json!({"root": deep})).unwrap();
    let err = generate_payload("s#a", &deep, FieldSet::All).unwrap_err();
    assert!(err.message().contains("deeper than 32"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Snapshots

#[tokio::test]
async fn snapshots_hold_the_requests_with_secrets_redacted() {
    let mut s = Snapshotter::new(HarnessTest, &[API, AUTH], json!({"workspace": "acme"}))
        .await
        .unwrap();
    assert_eq!(s.action_keys(), ["track", "identify", "rejectAll"]);
    let snap = s.snapshot("identify", FieldSet::All).await.unwrap();
    assert_eq!(snap.name, "actions-harness-test__identify__all_fields");
    assert_eq!(snap.settings["workspace"], "acme", "given settings win");
    assert!(snap.settings["oauth"]["access_token"].is_string());
    let requests = snap.value["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r["method"], "PUT");
    let email = snap.payload["email"].as_str().unwrap();
    let plan = snap.payload["plan"].as_str().unwrap();
    assert_eq!(
        r["url"],
        json!(format!("{API}/v1/acme/users/{email}?plan={plan}"))
    );
    assert_eq!(r["headers"]["x-api-key"], "<redacted>");
    assert_eq!(r["headers"]["authorization"], "<redacted>");
    assert_eq!(r["headers"]["content-type"], "application/json");
    assert_eq!(
        r["body"], snap.payload,
        "the payload went through as literal values"
    );
    assert!(snap.value.get("error").is_none());

    let again = s.snapshot("identify", FieldSet::All).await.unwrap();
    assert_eq!(again, snap, "deterministic");
    let required = s.snapshot("identify", FieldSet::Required).await.unwrap();
    assert!(required.payload.as_object().unwrap().len() < snap.payload.as_object().unwrap().len());

    let rejected = s.snapshot("rejectAll", FieldSet::Required).await.unwrap();
    let reason = rejected.payload["reason"].as_str().unwrap();
    assert_eq!(
        rejected.value,
        json!({"requests": [], "error": format!("IntegrationError: Unsupported reason {reason:?}")})
    );
    assert!(s.snapshot("missing", FieldSet::All).await.is_err());
}

mod per_action_snapshots {
    use super::*;

    actions_testkit::snapshot_tests!(
        HarnessTest,
        origins = [API, AUTH],
        settings = json!({"workspace": "acme"}),
        actions = [track, identify, rejectAll],
    );
}

mod looped_snapshots {
    use super::*;

    actions_testkit::snapshot_tests!(Leaky(LeakVia::Nothing), origins = [API]);
}

#[test]
#[should_panic(expected = "actions without snapshot tests: identify, rejectAll")]
fn per_action_snapshots_must_name_every_action() {
    actions_testkit::snapshot::assert_actions_listed(HarnessTest, &["track"]);
}

#[test]
#[should_panic(expected = "1 of 1 snapshots do not match: actions-harness-test__track__all_fields")]
fn a_changed_snapshot_fails() {
    actions_testkit::snapshot::run_snapshot_tests(
        HarnessTest,
        &[API],
        json!({"workspace": "acme"}),
        Some(&["track"]),
        &[FieldSet::All],
        |name, value| {
            let mut changed = value.clone();
            changed["requests"][0]["method"] = json!("PATCH");
            assert_eq!(name, "actions-harness-test__track__all_fields");
            assert_eq!(&changed, value, "stand-in for insta's assertion");
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Secret leaks

#[derive(Clone, Copy, Debug, PartialEq)]
enum LeakVia {
    Nothing,
    Log,
    BasicAuthLog,
    OAuthTokenLog,
    ErrorMessage,
    QueryParameter,
    ResultData,
}

/// Settings of the leaky destination.
#[derive(Deserialize, JsonSchema)]
struct LeakySettings {
    /// The API key.
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    api_key: String,
    /// The account.
    #[schemars(title = "Account")]
    account: String,
}

/// The leaky destination's payload.
#[derive(Deserialize, JsonSchema)]
struct Ping {
    /// The event name.
    #[schemars(title = "Event", extend("x-field" = {"default": {"@path": "$.event"}}))]
    event: String,
}

struct LeakyTrack(LeakVia);

type LeakyInput<'a> = ExecuteInput<'a, LeakySettings, Ping>;

#[async_trait]
impl Action<LeakySettings> for LeakyTrack {
    type Payload = Ping;

    async fn perform(&self, client: &RequestClient, input: LeakyInput<'_>) -> Performed {
        let key = &input.settings.api_key;
        match self.0 {
            LeakVia::Log => tracing::info!(api_key = %key, "sending the event"),
            LeakVia::BasicAuthLog => {
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{key}", input.settings.account));
                tracing::debug!("authorization: Basic {basic}");
            }
            LeakVia::OAuthTokenLog => tracing::trace!(token = ?input.auth.access_token()),
            _ => tracing::info!(event = %input.payload.event, "sending the event"),
        }
        let url = match self.0 {
            LeakVia::QueryParameter => format!("{API}/v1/events?key={key}"),
            _ => format!("{API}/v1/events"),
        };
        let r = client
            .post(url)
            .basic_auth(input.settings.account.clone(), key.clone())
            .json(json!({"event": input.payload.event}))
            .throw_http_errors(false)
            .send()
            .await?;
        if !r.ok() {
            return Err(match self.0 {
                LeakVia::ErrorMessage => Error::integration(
                    format!("The API rejected the key {key}"),
                    "REJECTED",
                    r.status(),
                ),
                _ => Error::http(r),
            });
        }
        Ok(Some(match self.0 {
            LeakVia::ResultData => json!({"sent_with": key}),
            _ => r.result_data(),
        }))
    }

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("track", "Track", "Sends an event.")
    }
}

struct Leaky(LeakVia);

#[async_trait]
impl Destination for Leaky {
    type Settings = LeakySettings;

    fn actions(&self) -> Vec<Arc<dyn DynAction<LeakySettings>>> {
        vec![Arc::new(LeakyTrack(self.0))]
    }

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Leaky", "actions-leaky", AuthScheme::Basic)
    }
}

/// The event `x` through `track`'s default mappings.
fn ping() -> TestOptions {
    TestOptions::event(json!({"event": "x"})).default_mappings()
}

/// A leak check of `Leaky(via)` with `settings` (under `responses`, or every response scenario)
/// that has run `track` on [`ping`].
async fn leak_check(
    via: LeakVia,
    settings: Value,
    responses: Option<Vec<ResponseScenario>>,
) -> SecretLeakCheck<Leaky> {
    let mut check = SecretLeakCheck::new(Leaky(via), &[API], settings)
        .await
        .unwrap();
    if let Some(responses) = responses {
        check = check.responses(responses).unwrap();
    }
    check.check_action("track", ping()).await;
    check
}

#[tokio::test]
async fn a_clean_destination_passes_the_leak_check() {
    assert_no_secret_leak(
        HarnessTest,
        &[API, AUTH],
        "track",
        TestOptions::event(json!({"event": "Signed Up"}))
            .default_mappings()
            .settings(json!({"workspace": "acme"})),
    )
    .await;
    let check = leak_check(LeakVia::Nothing, json!({}), None).await;
    check.assert_clean();
    assert_eq!(check.runs().len(), 5, "one run per response scenario");
}

#[tokio::test]
async fn planted_secrets_cover_passwords_and_oauth() {
    let check = SecretLeakCheck::new(HarnessTest, &[API], json!({"workspace": "acme"}))
        .await
        .unwrap();
    let sources: Vec<&str> = check.secrets().iter().map(|s| s.source.as_str()).collect();
    let passwords = ["settings.api_key"];
    let oauth = [
        "oauth.access_token",
        "oauth.refresh_token",
        "oauth.clientSecret",
    ];
    assert_eq!(sources, [&passwords[..], &oauth[..]].concat());
    let s = check.settings();
    assert_eq!(s["workspace"], "acme");
    assert_eq!(s["api_key"], json!(check.secrets()[0].value));
    assert_eq!(s["oauth"]["clientSecret"], json!(check.secrets()[3].value));
    assert!(
        ["us", "eu"].contains(&s["region"].as_str().unwrap()),
        "generated"
    );
}

#[tokio::test]
async fn every_kind_of_leak_is_caught() {
    use LeakVia::*;
    #[rustfmt::skip]
    let cases = [
        (Log, "settings.api_key", Surface::Log, "as is"),
        (BasicAuthLog, "settings.api_key", Surface::Log, "base64"),
        (OAuthTokenLog, "oauth.access_token", Surface::Log, "as is"),
        (ErrorMessage, "settings.api_key", Surface::ErrorDisplay, "as is"),
        (ErrorMessage, "settings.api_key", Surface::ErrorDebug, "as is"),
        (QueryParameter, "settings.api_key", Surface::ExchangeDebug, "as is"),
        (ResultData, "settings.api_key", Surface::ResultLog, "as is"),
    ];
    for (via, secret, surface, encoding) in cases {
        let check = leak_check(via, json!({"account": "acme"}), None).await;
        let found = check
            .leaks()
            .iter()
            .find(|l| l.secret == secret && l.surface == surface)
            .unwrap_or_else(|| {
                panic!(
                    "{via:?}: no {surface:?} leak of {secret}:\n{}",
                    check.report()
                )
            });
        assert_eq!(found.encoding, encoding, "{via:?}");
        let planted = check
            .secrets()
            .iter()
            .find(|s| s.source == secret)
            .map(|s| s.value.clone())
            .unwrap_or_default();
        assert!(
            !found.excerpt.contains(&planted),
            "the excerpt hides the secret"
        );
        assert!(
            found.excerpt.contains(&format!("«{secret}»")),
            "{}",
            found.excerpt
        );
    }
}

#[tokio::test]
async fn error_paths_are_checked_under_each_response_scenario() {
    let ok = ResponseScenario {
        status: 200,
        body: json!({}),
    };
    let check = leak_check(LeakVia::ErrorMessage, json!({}), Some(vec![ok])).await;
    assert!(
        check.leaks().is_empty(),
        "the leak is on the error path only"
    );
    let check = SecretLeakCheck::new(Leaky(LeakVia::Nothing), &[API], json!({})).await;
    let bad = check.ok().map(|c| {
        c.responses(vec![ResponseScenario {
            status: 42,
            body: json!({}),
        }])
    });
    assert!(matches!(bad, Some(Err(_))));
}

#[tokio::test]
#[should_panic(
    expected = "settings.api_key (as is) in the log of `test_action track, responses 200`"
)]
async fn assert_no_secret_leak_fails_a_leaky_destination() {
    assert_no_secret_leak(Leaky(LeakVia::Log), &[API], "track", ping()).await;
}
