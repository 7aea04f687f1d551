//! The runtime's event and batch pipeline (reference C.2–C.4, B.10): subscriptions, mapping,
//! empty-value removal, validation, results and multistatus realignment, settings validation,
//! hooks, dynamic fields, audiences and deletion — against a local HTTP server.

mod common;

use std::sync::Arc;

use actions_core::action::{
    ActionHookDefinition, DynamicChoice, DynamicFieldInput, ErrorReporter, HookInput,
    MultiStatusNode,
};
use actions_core::destination::{CreateAudienceInput, DeleteInput};
use actions_core::fields::{FieldType, Fields, InputField};
use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use common::server::{Mounted, Route, route, serve};
use mockito::Matcher;
use serde::Deserialize;

const API: &str = "https://api.example.test";

/// Settings.
#[derive(Deserialize, JsonSchema)]
struct Settings {
    /// Region.
    #[schemars(title = "Region", extend("x-field" = {"choices": ["eu", "us"]}))]
    region: String,
    /// Send debug flags.
    #[schemars(title = "Debug")]
    debug: Option<bool>,
}

/// Payload of `send`.
#[derive(Deserialize, JsonSchema)]
struct Send {
    /// The user id.
    #[schemars(title = "User ID")]
    user_id: String,
    /// The amount.
    #[schemars(title = "Amount")]
    amount: Option<f64>,
    /// A note.
    #[schemars(title = "Note")]
    note: Option<String>,
}

/// How the batch endpoint answers (chosen per test when the runtime is built).
#[derive(Clone, Copy)]
enum BatchMode {
    MultiStatusShort,
    Legacy,
    Nothing,
}

/// The action `send`: subscribed with `subscribe` by default (an invalid one must stop the
/// runtime from being built).
struct SendAction {
    batch: BatchMode,
    subscribe: &'static str,
}

/// What `perform` gets.
type Input<'a, P> = ExecuteInput<'a, Settings, P>;
type Performed = Result<Option<Value>, Error>;
type Batched = Result<BatchResponse, Error>;

#[async_trait]
impl Action<Settings> for SendAction {
    type Payload = Send;

    async fn perform(&self, client: &RequestClient, input: Input<'_, Send>) -> Performed {
        let p = &input.payload;
        let membership = input.audience_membership.first().copied().flatten();
        let body = json!({"user": p.user_id, "amount": p.amount, "note": p.note,
                          "debug": input.settings.debug, "membership": membership});
        let url = format!("{API}/{}/send", input.settings.region);
        Ok(client.post(url).json(body).send().await?.data().cloned())
    }

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("send", "Send", "Sends a record.")
            .default_subscription(self.subscribe)
    }

    async fn perform_batch(&self, client: &RequestClient, input: Input<'_, Vec<Send>>) -> Batched {
        let users: Vec<&str> = input.payload.iter().map(|p| p.user_id.as_str()).collect();
        let url = format!("{API}/{}/batch", input.settings.region);
        let r = client
            .post(url)
            .json(json!({"users": users}))
            .send()
            .await?;
        Ok(match self.batch {
            BatchMode::MultiStatusShort => {
                // One entry fewer than payloads: the framework fills the gap with a 500.
                let mut ms = MultiStatusResponse::new();
                for (i, u) in users.iter().enumerate().take(users.len() - 1) {
                    if i % 2 == 1 {
                        ms.push_success(200, Some(json!(u)), Some(json!({"ok": true})));
                    } else {
                        ms.push_error(422, None, "rejected", Some(json!(u)), None);
                    }
                }
                BatchResponse::MultiStatus(ms)
            }
            BatchMode::Legacy => BatchResponse::Response(r),
            BatchMode::Nothing => BatchResponse::Nothing,
        })
    }

    fn supports_batch(&self) -> bool {
        true
    }

    fn hooks(&self) -> Vec<ActionHookDefinition> {
        let mut fields = Fields::new();
        let mut name = InputField::new(FieldType::String, "Name");
        name.required = Some(true.into());
        fields.insert("name".into(), name);
        vec![ActionHookDefinition {
            key: "onMappingSave".into(),
            label: "Create a list".into(),
            description: "Creates a list.".into(),
            input_fields: fields,
            output_types: Default::default(),
        }]
    }

    async fn perform_hook(&self, _: &RequestClient, hook: &str, input: Hook<'_>) -> Hooked {
        Ok(HookResult {
            success_message: Some(format!("{hook}: created {}", input.hook_inputs["name"])),
            saved_data: Some(json!({"id": "L1"})),
            error: None,
        })
    }

    fn dynamic_fields(&self) -> Vec<String> {
        vec!["list".into(), "props.__values__".into()]
    }

    async fn dynamic_field(&self, _: &RequestClient, key: &str, input: Dynamic<'_>) -> Choices {
        let choice = DynamicChoice {
            label: format!("{key} {:?}", input.selected_key),
            value: json!(1),
            description: None,
        };
        Ok(DynamicFieldResponse {
            choices: vec![choice],
            next_page: None,
            error: None,
        })
    }
}

type Hook<'a> = HookInput<'a, Settings>;
type Hooked = Result<HookResult, Error>;
type Dynamic<'a> = DynamicFieldInput<'a, Settings>;
type Choices = Result<DynamicFieldResponse, Error>;

struct TestDestination {
    batch: BatchMode,
    subscribe: &'static str,
}

#[async_trait]
impl Destination for TestDestination {
    type Settings = Settings;

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        let (batch, subscribe) = (self.batch, self.subscribe);
        vec![Arc::new(SendAction { batch, subscribe })]
    }

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Runtime Test", "actions-runtime-test", AuthScheme::OAuth2)
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.auth.access_token() {
            Some(t) => RequestOptions::new().header("authorization", format!("Bearer {t}")),
            None => RequestOptions::new(),
        }
    }

    async fn refresh_access_token(&self, client: &RequestClient, _: Auth<'_>) -> Refreshed {
        client.post(format!("{API}/token")).send().await?;
        Ok(Some(RefreshedTokens::access("fresh")))
    }

    async fn create_audience(&self, client: &RequestClient, input: Create<'_>) -> Created {
        let body = json!({"name": input.audience_name});
        let r = client
            .post(format!("{API}/audiences"))
            .json(body)
            .send()
            .await?;
        Ok(r.data().and_then(|d| d["id"].as_str()).map(str::to_string))
    }

    async fn on_delete(&self, client: &RequestClient, input: Delete<'_>) -> Performed {
        let url = format!("{API}/users/{}", input.user_id.unwrap_or(""));
        client.delete(url).send().await?;
        Ok(Some(json!({"deleted": input.user_id})))
    }
}

type Auth<'a> = AuthContext<'a, Settings>;
type Refreshed = Result<Option<RefreshedTokens>, Error>;
type Create<'a> = CreateAudienceInput<'a, Settings>;
type Created = Result<Option<String>, Error>;
type Delete<'a> = DeleteInput<'a, Settings>;

// ---------------------------------------------------------------------------------------------
// Fixtures

const TRACK: &str = "type = \"track\"";

fn runtime(server_url: &str, batch: BatchMode) -> DestinationRuntime<TestDestination> {
    let config = RuntimeConfig {
        origins: OriginOverrides::new().with(API, server_url),
        ..RuntimeConfig::default()
    };
    let destination = TestDestination {
        batch,
        subscribe: TRACK,
    };
    DestinationRuntime::with_config(destination, config).unwrap()
}

/// A local server with `routes` and a runtime sending to it.
async fn fixture(
    batch: BatchMode,
    routes: &[Route],
) -> (Mounted, DestinationRuntime<TestDestination>) {
    let mounted = serve(routes).await;
    let rt = runtime(&mounted.server.url(), batch);
    (mounted, rt)
}

fn settings(subscribe: Value) -> Value {
    json!({
        "region": "eu",
        "debug": "true",
        "unknown_setting": 1,
        "oauth": {"access_token": "t0", "refresh_token": "r0"},
        "subscription": {
            "partnerAction": "send",
            "subscribe": subscribe,
            "mapping": {
                "user_id": {"@path": "$.userId"},
                "amount": {"@path": "$.properties.amount"},
                "note": {"@path": "$.properties.note"},
                "extra": "dropped by validation"
            }
        }
    })
}

/// The settings subscribed to track events, changed by `edit`.
fn subscribed_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut s = settings(json!(TRACK));
    edit(&mut s);
    s
}

fn subscribed() -> Value {
    subscribed_with(|_| {})
}

fn track(user: Value, amount: Value) -> Value {
    json!({"type": "track", "event": "E", "userId": user, "properties": {"amount": amount, "note": ""}})
}

/// `on_batch` of `events` under `settings`.
async fn batch(
    rt: &DestinationRuntime<TestDestination>,
    events: &[Value],
    settings: &Value,
) -> Vec<ResultEntry> {
    let o = EventOptions::default();
    rt.on_batch(events, settings, &o).await.unwrap()
}

/// Assertions on an error.
type ErrorCheck<'a> = &'a dyn Fn(&Error);

/// Assertions on a dynamic field's answer.
type ResponseCheck = fn(DynamicFieldResponse);

// ---------------------------------------------------------------------------------------------
// Events and batches

#[tokio::test]
async fn a_single_event_is_mapped_cleaned_coerced_validated_and_sent() {
    // amount "12.5" coerced to a number, note "" removed at the root, settings "true" coerced
    // to true, undeclared mapping keys removed.
    let sent =
        json!({"user": "u1", "amount": 12.5, "note": null, "debug": true, "membership": null});
    let send = route("POST /eu/send", 200)
        .bearer("t0")
        .body(Matcher::Json(sent));
    let (mounted, rt) = fixture(BatchMode::Nothing, &[send.json(r#"{"id":"r1"}"#)]).await;
    let event = track(json!("u1"), json!("12.5"));
    let results = rt
        .on_event(&event, &subscribed(), &EventOptions::default())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&results).unwrap(),
        json!([{"output": "Mappings resolved"}, {"output": "Payload validated"},
               {"output": "Action Executed", "data": {"id": "r1"}}])
    );
    mounted.verify().await;
}

#[tokio::test]
async fn invalid_and_missing_subscriptions_give_the_reference_results() {
    let (_mounted, rt) = fixture(BatchMode::Nothing, &[]).await;
    let e = track(json!("u1"), json!(1));
    let invalid = Some("Failed to validate subscription");
    // `None`: no result at all.
    #[rustfmt::skip]
    let cases = [
        (settings(json!("")), invalid),
        (settings(json!(42)), invalid),
        (settings(json!("type")), Some("Invalid subscription : Value token is missing")),
        (settings(json!("type = \"identify\"")), Some("not subscribed")),
        (subscribed_with(|s| s["subscription"]["partnerAction"] = json!("nope")), None),
        (subscribed_with(|s| { s.as_object_mut().unwrap().remove("subscription"); }), None),
    ];
    for (settings, output) in cases {
        let r = rt
            .on_event(&e, &settings, &EventOptions::default())
            .await
            .unwrap();
        match output {
            Some(output) => assert_eq!(r[0].output.as_deref(), Some(output), "{settings}"),
            None => assert!(r.is_empty(), "{settings}"),
        }
    }
}

#[tokio::test]
async fn invalid_settings_and_payloads_are_400_errors_naming_the_field() {
    let (_mounted, rt) = fixture(BatchMode::Nothing, &[]).await;
    let names = |field: &'static str| {
        move |err: &Error| assert!(err.message().contains(field), "{}", err.message())
    };
    let one_issue = |err: &Error| assert_eq!(err.issues().len(), 1);
    let bad_path = json!({"user_id": {"@path": 3}});
    #[rustfmt::skip]
    let cases: [(Value, Value, Option<ErrorClass>, ErrorCheck); 3] = [
        (track(json!("u1"), json!(1)), subscribed_with(|s| s["region"] = json!("mars")), Some(ErrorClass::SchemaValidation), &names("Region")),
        (track(Value::Null, json!(1)), subscribed(), None, &names("user_id")),
        (track(json!("u"), json!(1)), subscribed_with(|s| s["subscription"]["mapping"] = bad_path), Some(ErrorClass::MappingValidation), &one_issue),
    ];
    for (event, settings, class, check) in cases {
        let err = rt
            .on_event(&event, &settings, &EventOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400));
        if let Some(class) = class {
            assert_eq!(err.class(), class);
        }
        check(&err);
    }
}

#[tokio::test]
async fn a_batch_realigns_rejections_and_fills_missing_entries() {
    let users = Matcher::Json(json!({"users": ["a", "b", "c"]}));
    let routes = [route("POST /eu/batch", 200).body(users)];
    let (mounted, rt) = fixture(BatchMode::MultiStatusShort, &routes).await;
    let events = vec![
        track(json!("a"), json!(1)),
        json!({"type": "identify", "userId": "x"}),
        track(json!("b"), json!(2)),
        track(Value::Null, json!(3)),
        track(json!("c"), json!(4)),
    ];
    let r = batch(&rt, &events, &subscribed()).await;
    let nodes = r[0].multistatus.as_ref().unwrap();
    assert_eq!(nodes.len(), 5);
    // The destination answered for the first two valid payloads (a, b) only: entries map to
    // the valid payloads in order, and c's missing entry becomes a framework 500.
    assert!(
        matches!(&nodes[0], MultiStatusNode::Error { status: 422, errortype, errorreporter: ErrorReporter::Destination, .. }
        if errortype == "UNPROCESSABLE_ENTITY")
    );
    assert!(
        matches!(&nodes[1], MultiStatusNode::Error { status: 400, errormessage, .. }
        if errormessage == "Payload is either invalid or does not match the subscription")
    );
    assert!(matches!(
        &nodes[2],
        MultiStatusNode::Success { status: 200, .. }
    ));
    assert!(
        matches!(&nodes[3], MultiStatusNode::Error { status: 400, errortype, .. } if errortype == "PAYLOAD_VALIDATION_FAILED")
    );
    assert!(
        matches!(&nodes[4], MultiStatusNode::Error { status: 500, errorreporter: ErrorReporter::Integrations, errormessage, .. }
        if errormessage == "MultiStatusResponse is missing a response at the specified index")
    );
    mounted.verify().await;
}

#[tokio::test]
async fn legacy_batch_responses_give_every_payload_the_response() {
    let accepted = route("POST /eu/batch", 201)
        .json(r#"{"accepted":2}"#)
        .unchecked();
    let (mounted, rt) = fixture(BatchMode::Legacy, &[accepted]).await;
    let events = vec![track(json!("a"), json!(1)), track(json!("b"), json!("7"))];
    let r = batch(&rt, &events, &subscribed()).await;
    let nodes = serde_json::to_value(r[0].multistatus.as_ref().unwrap()).unwrap();
    // Batches keep root-level "" strings (the reference calls removeEmptyValues without isRoot).
    assert_eq!(
        nodes[1],
        json!({"status": 201, "sent": {"user_id": "b", "amount": 7, "note": ""}, "body": {"accepted": 2}})
    );
    let rt = runtime(&mounted.server.url(), BatchMode::Nothing);
    let r = batch(&rt, &events, &subscribed()).await;
    let nodes = serde_json::to_value(r[0].multistatus.as_ref().unwrap()).unwrap();
    assert_eq!(nodes[0]["body"], json!({}));
    assert_eq!(nodes[0]["status"], json!(200));
    // No event matches: the reference answers "not subscribed" for the whole batch.
    let r = batch(&rt, &events, &settings(json!("type = \"page\""))).await;
    assert_eq!(r[0].output.as_deref(), Some("not subscribed"));
}

#[tokio::test]
async fn engage_membership_reaches_perform() {
    let not_member = Matcher::PartialJson(json!({"membership": false}));
    let (mounted, rt) = fixture(
        BatchMode::Nothing,
        &[route("POST /eu/send", 200).body(not_member)],
    )
    .await;
    let mut e = track(json!("u"), json!(1));
    e["properties"]["vip"] = json!(false);
    e["context"] = json!({"personas": {"computation_class": "audience", "computation_key": "vip"}});
    rt.on_event(&e, &subscribed(), &EventOptions::default())
        .await
        .unwrap();
    mounted.verify().await;
}

// ---------------------------------------------------------------------------------------------
// Direct entry points

#[tokio::test]
async fn hooks_validate_inputs_and_run() {
    let (_mounted, rt) = fixture(BatchMode::Nothing, &[]).await;
    let (s, o) = (subscribed(), EventOptions::default());
    let hook = |key: &'static str, inputs: Value| {
        let (rt, s, o) = (&rt, &s, &o);
        async move { rt.execute_hook("send", key, s, &inputs, None, o).await }
    };
    let r = hook("onMappingSave", json!({"name": "VIPs"}))
        .await
        .unwrap();
    assert_eq!(
        r.success_message.as_deref(),
        Some("onMappingSave: created \"VIPs\"")
    );
    let err = hook("onMappingSave", json!({})).await.unwrap_err();
    assert!(err.message().contains("'name'"), "{}", err.message());
    let err = hook("retlOnMappingSave", json!({})).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Missing implementation for hook: retlOnMappingSave."
    );
    assert_eq!(err.status(), Some(501));
}

#[tokio::test]
async fn dynamic_fields_follow_the_reference_lookup_grammar() {
    let (_mounted, rt) = fixture(BatchMode::Nothing, &[]).await;
    let s = subscribed();
    #[rustfmt::skip]
    let cases: [(&str, &str, ResponseCheck); 4] = [
        ("send", "list", |r| assert_eq!(r.choices[0].label, "list None")),
        ("send", "props.color", |r| assert_eq!(r.choices[0].label, "props.__values__ Some(\"color\")")),
        ("send", "nope", |r| assert_eq!(r.error.unwrap().message, "No dynamic field named nope found.")),
        ("other", "list", |r| assert!(r.choices.is_empty() && r.error.is_none())),
    ];
    for (action, key, check) in cases {
        let o = EventOptions::default();
        check(
            rt.execute_dynamic_field(action, key, &s, &json!({}), &o)
                .await
                .unwrap(),
        );
    }
}

#[tokio::test]
async fn audiences_and_deletion_retry_once_after_a_refresh() {
    let routes = [
        route("POST /audiences", 401).bearer("t0"),
        route("POST /token", 200),
        route("POST /audiences", 200)
            .bearer("fresh")
            .json(r#"{"id":"aud-9"}"#),
        route("DELETE /users/u7", 200),
    ];
    let (mounted, rt) = fixture(BatchMode::Nothing, &routes).await;
    let (s, o) = (subscribed(), EventOptions::default());
    let r = rt
        .create_audience(&s, &json!({}), "VIPs", None, &o)
        .await
        .unwrap();
    assert_eq!(r, json!({"externalId": "aud-9"}));
    let err = rt
        .get_audience(&s, &json!({}), "aud-9", &o)
        .await
        .unwrap_err();
    assert_eq!(err.message(), "Unexpected call to getAudience");
    let r = rt
        .on_delete(&json!({"userId": "u7"}), &s, &o)
        .await
        .unwrap();
    assert_eq!(r, json!({"deleted": "u7"}));
    mounted.verify().await;
}

#[tokio::test]
async fn test_authentication_wraps_errors_like_the_reference() {
    let (_mounted, rt) = fixture(BatchMode::Nothing, &[]).await;
    let o = EventOptions::default();
    rt.test_authentication(&settings(json!("")), &o)
        .await
        .unwrap();
    let mut s = settings(json!(""));
    s["region"] = json!(3);
    let err = rt.test_authentication(&s, &o).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::SchemaValidation);
}

// ---------------------------------------------------------------------------------------------
// Default subscriptions

#[tokio::test]
async fn default_subscriptions_are_parsed_once_and_offered_with_default_mappings() {
    let (_mounted, rt) = fixture(BatchMode::Nothing, &[]).await;
    assert!(
        rt.default_subscription("send")
            .is_some_and(|s| s.matches(&json!({"type": "track"})))
    );
    let sub = rt.default_subscription_settings("send").unwrap();
    assert_eq!(sub["subscribe"], json!("type = \"track\""));
    assert_eq!(sub["partnerAction"], json!("send"));
    assert!(rt.default_subscription_settings("nope").is_none());
}

#[test]
fn an_invalid_default_subscription_is_refused_when_the_runtime_is_built() {
    let destination = TestDestination {
        batch: BatchMode::Nothing,
        subscribe: "type",
    };
    let err = DestinationRuntime::new(destination).unwrap_err();
    let message = err.message();
    assert!(
        message.contains("default subscription of action \"send\""),
        "{message}"
    );
    assert!(message.contains("Value token is missing"), "{message}");
}
