//! The runtime's event and batch pipeline (reference C.2–C.4, B.10): subscriptions, mapping,
//! empty-value removal, validation, results and multistatus realignment, settings validation,
//! hooks, dynamic fields, audiences and deletion — against a local HTTP server.

use std::sync::Arc;

use actions_core::action::{
    ActionHookDefinition, DynamicChoice, DynamicFieldInput, ErrorReporter, HookInput,
    MultiStatusNode,
};
use actions_core::destination::{CreateAudienceInput, DeleteInput};
use actions_core::fields::{FieldType, Fields, InputField};
use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use mockito::{Matcher, Server, ServerGuard};
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

/// How the batch endpoint answers (chosen per test through the `mode` setting of the mapping).
#[derive(Clone, Copy)]
enum BatchMode {
    MultiStatusShort,
    Legacy,
    Nothing,
}

struct SendAction {
    batch: BatchMode,
}

#[async_trait]
impl Action<Settings> for SendAction {
    type Payload = Send;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("send", "Send", "Sends a record.")
            .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Send>,
    ) -> Result<Option<Value>, Error> {
        let p = &input.payload;
        let r = client
            .post(format!("{API}/{}/send", input.settings.region))
            .json(
                json!({"user": p.user_id, "amount": p.amount, "note": p.note,
                         "debug": input.settings.debug,
                         "membership": input.audience_membership.first().copied().flatten()}),
            )
            .send()
            .await?;
        Ok(r.data().cloned())
    }

    fn supports_batch(&self) -> bool {
        true
    }

    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<Send>>,
    ) -> Result<BatchResponse, Error> {
        let users: Vec<&str> = input.payload.iter().map(|p| p.user_id.as_str()).collect();
        let r = client
            .post(format!("{API}/{}/batch", input.settings.region))
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

    async fn perform_hook(
        &self,
        _client: &RequestClient,
        hook: &str,
        input: HookInput<'_, Settings>,
    ) -> Result<HookResult, Error> {
        Ok(HookResult {
            success_message: Some(format!("{hook}: created {}", input.hook_inputs["name"])),
            saved_data: Some(json!({"id": "L1"})),
            error: None,
        })
    }

    fn dynamic_fields(&self) -> Vec<String> {
        vec!["list".into(), "props.__values__".into()]
    }

    async fn dynamic_field(
        &self,
        _client: &RequestClient,
        key: &str,
        input: DynamicFieldInput<'_, Settings>,
    ) -> Result<DynamicFieldResponse, Error> {
        Ok(DynamicFieldResponse {
            choices: vec![DynamicChoice {
                label: format!("{key} {:?}", input.selected_key),
                value: json!(1),
                description: None,
            }],
            next_page: None,
            error: None,
        })
    }
}

struct TestDestination {
    batch: BatchMode,
}

#[async_trait]
impl Destination for TestDestination {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Runtime Test", "actions-runtime-test", AuthScheme::OAuth2)
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(SendAction { batch: self.batch })]
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.auth.access_token() {
            Some(t) => RequestOptions::new().header("authorization", format!("Bearer {t}")),
            None => RequestOptions::new(),
        }
    }

    async fn refresh_access_token(
        &self,
        client: &RequestClient,
        _ctx: AuthContext<'_, Settings>,
    ) -> Result<Option<RefreshedTokens>, Error> {
        client.post(format!("{API}/token")).send().await?;
        Ok(Some(RefreshedTokens::access("fresh")))
    }

    async fn create_audience(
        &self,
        client: &RequestClient,
        input: CreateAudienceInput<'_, Settings>,
    ) -> Result<Option<String>, Error> {
        let r = client
            .post(format!("{API}/audiences"))
            .json(json!({"name": input.audience_name}))
            .send()
            .await?;
        Ok(r.data().and_then(|d| d["id"].as_str()).map(str::to_string))
    }

    async fn on_delete(
        &self,
        client: &RequestClient,
        input: DeleteInput<'_, Settings>,
    ) -> Result<Option<Value>, Error> {
        client
            .delete(format!("{API}/users/{}", input.user_id.unwrap_or("")))
            .send()
            .await?;
        Ok(Some(json!({"deleted": input.user_id})))
    }
}

async fn runtime(server: &ServerGuard, batch: BatchMode) -> DestinationRuntime<TestDestination> {
    let config = RuntimeConfig {
        origins: OriginOverrides::new().with(API, &server.url()),
        ..RuntimeConfig::default()
    };
    DestinationRuntime::with_config(TestDestination { batch }, config).unwrap()
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

fn track(user: Value, amount: Value) -> Value {
    json!({"type": "track", "event": "E", "userId": user, "properties": {"amount": amount, "note": ""}})
}

#[tokio::test]
async fn a_single_event_is_mapped_cleaned_coerced_validated_and_sent() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/eu/send")
        .match_header("authorization", "Bearer t0")
        // amount "12.5" coerced to a number, note "" removed at the root, settings "true"
        // coerced to true, undeclared mapping keys removed.
        .match_body(Matcher::Json(
            json!({"user": "u1", "amount": 12.5, "note": null, "debug": true, "membership": null}),
        ))
        .with_header("content-type", "application/json")
        .with_body(r#"{"id":"r1"}"#)
        .create_async()
        .await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let results = rt
        .on_event(
            &track(json!("u1"), json!("12.5")),
            &settings(json!("type = \"track\"")),
            &EventOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&results).unwrap(),
        json!([{"output": "Mappings resolved"}, {"output": "Payload validated"},
               {"output": "Action Executed", "data": {"id": "r1"}}])
    );
    m.assert_async().await;
}

#[tokio::test]
async fn invalid_and_missing_subscriptions_give_the_reference_results() {
    let server = Server::new_async().await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let o = EventOptions::default();
    let e = track(json!("u1"), json!(1));
    let r = rt.on_event(&e, &settings(json!("")), &o).await.unwrap();
    assert_eq!(
        r[0].output.as_deref(),
        Some("Failed to validate subscription")
    );
    let r = rt.on_event(&e, &settings(json!(42)), &o).await.unwrap();
    assert_eq!(
        r[0].output.as_deref(),
        Some("Failed to validate subscription")
    );
    let r = rt.on_event(&e, &settings(json!("type")), &o).await.unwrap();
    assert_eq!(
        r[0].output.as_deref(),
        Some("Invalid subscription : Value token is missing")
    );
    let r = rt
        .on_event(&e, &settings(json!("type = \"identify\"")), &o)
        .await
        .unwrap();
    assert_eq!(r[0].output.as_deref(), Some("not subscribed"));
    let mut s = settings(json!("type = \"track\""));
    s["subscription"]["partnerAction"] = json!("nope");
    assert!(rt.on_event(&e, &s, &o).await.unwrap().is_empty());
    let mut s = settings(json!("type = \"track\""));
    s.as_object_mut().unwrap().remove("subscription");
    assert!(rt.on_event(&e, &s, &o).await.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_settings_and_payloads_are_400_errors_naming_the_field() {
    let server = Server::new_async().await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let o = EventOptions::default();
    let mut s = settings(json!("type = \"track\""));
    s["region"] = json!("mars");
    let err = rt
        .on_event(&track(json!("u1"), json!(1)), &s, &o)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::SchemaValidation, Some(400))
    );
    assert!(err.message().contains("Region"), "{}", err.message());
    let err = rt
        .on_event(
            &track(Value::Null, json!(1)),
            &settings(json!("type = \"track\"")),
            &o,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.message().contains("user_id"), "{}", err.message());
    let mut s = settings(json!("type = \"track\""));
    s["subscription"]["mapping"] = json!({"user_id": {"@path": 3}});
    let err = rt
        .on_event(&track(json!("u"), json!(1)), &s, &o)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::MappingValidation, Some(400))
    );
    assert_eq!(err.issues().len(), 1);
}

#[tokio::test]
async fn a_batch_realigns_rejections_and_fills_missing_entries() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/eu/batch")
        .match_body(Matcher::Json(json!({"users": ["a", "b", "c"]})))
        .with_status(200)
        .create_async()
        .await;
    let rt = runtime(&server, BatchMode::MultiStatusShort).await;
    let events = vec![
        track(json!("a"), json!(1)),
        json!({"type": "identify", "userId": "x"}),
        track(json!("b"), json!(2)),
        track(Value::Null, json!(3)),
        track(json!("c"), json!(4)),
    ];
    let r = rt
        .on_batch(
            &events,
            &settings(json!("type = \"track\"")),
            &EventOptions::default(),
        )
        .await
        .unwrap();
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
    m.assert_async().await;
}

#[tokio::test]
async fn legacy_batch_responses_give_every_payload_the_response() {
    let mut server = Server::new_async().await;
    server
        .mock("POST", "/eu/batch")
        .with_status(201)
        .with_header("content-type", "application/json")
        .with_body(r#"{"accepted":2}"#)
        .create_async()
        .await;
    let rt = runtime(&server, BatchMode::Legacy).await;
    let events = vec![track(json!("a"), json!(1)), track(json!("b"), json!("7"))];
    let r = rt
        .on_batch(
            &events,
            &settings(json!("type = \"track\"")),
            &EventOptions::default(),
        )
        .await
        .unwrap();
    let nodes = serde_json::to_value(r[0].multistatus.as_ref().unwrap()).unwrap();
    // Batches keep root-level "" strings (the reference calls removeEmptyValues without isRoot).
    assert_eq!(
        nodes[1],
        json!({"status": 201, "sent": {"user_id": "b", "amount": 7, "note": ""}, "body": {"accepted": 2}})
    );
    let rt = runtime(&server, BatchMode::Nothing).await;
    let r = rt
        .on_batch(
            &events,
            &settings(json!("type = \"track\"")),
            &EventOptions::default(),
        )
        .await
        .unwrap();
    let nodes = serde_json::to_value(r[0].multistatus.as_ref().unwrap()).unwrap();
    assert_eq!(nodes[0]["body"], json!({}));
    assert_eq!(nodes[0]["status"], json!(200));
    // No event matches: the reference answers "not subscribed" for the whole batch.
    let r = rt
        .on_batch(
            &events,
            &settings(json!("type = \"page\"")),
            &EventOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(r[0].output.as_deref(), Some("not subscribed"));
}

#[tokio::test]
async fn engage_membership_reaches_perform() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/eu/send")
        .match_body(Matcher::PartialJson(json!({"membership": false})))
        .create_async()
        .await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let mut e = track(json!("u"), json!(1));
    e["properties"]["vip"] = json!(false);
    e["context"] = json!({"personas": {"computation_class": "audience", "computation_key": "vip"}});
    rt.on_event(
        &e,
        &settings(json!("type = \"track\"")),
        &EventOptions::default(),
    )
    .await
    .unwrap();
    m.assert_async().await;
}

#[tokio::test]
async fn hooks_validate_inputs_and_run() {
    let server = Server::new_async().await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let s = settings(json!("type = \"track\""));
    let o = EventOptions::default();
    let r = rt
        .execute_hook(
            "send",
            "onMappingSave",
            &s,
            &json!({"name": "VIPs"}),
            None,
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        r.success_message.as_deref(),
        Some("onMappingSave: created \"VIPs\"")
    );
    let err = rt
        .execute_hook("send", "onMappingSave", &s, &json!({}), None, &o)
        .await
        .unwrap_err();
    assert!(err.message().contains("'name'"), "{}", err.message());
    let err = rt
        .execute_hook("send", "retlOnMappingSave", &s, &json!({}), None, &o)
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Missing implementation for hook: retlOnMappingSave."
    );
    assert_eq!(err.status(), Some(501));
}

#[tokio::test]
async fn dynamic_fields_follow_the_reference_lookup_grammar() {
    let server = Server::new_async().await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let s = settings(json!("type = \"track\""));
    let o = EventOptions::default();
    let r = rt
        .execute_dynamic_field("send", "list", &s, &json!({}), &o)
        .await
        .unwrap();
    assert_eq!(r.choices[0].label, "list None");
    let r = rt
        .execute_dynamic_field("send", "props.color", &s, &json!({}), &o)
        .await
        .unwrap();
    assert_eq!(r.choices[0].label, "props.__values__ Some(\"color\")");
    let r = rt
        .execute_dynamic_field("send", "nope", &s, &json!({}), &o)
        .await
        .unwrap();
    assert_eq!(
        r.error.unwrap().message,
        "No dynamic field named nope found."
    );
    let r = rt
        .execute_dynamic_field("other", "list", &s, &json!({}), &o)
        .await
        .unwrap();
    assert!(r.choices.is_empty() && r.error.is_none());
}

#[tokio::test]
async fn audiences_and_deletion_retry_once_after_a_refresh() {
    let mut server = Server::new_async().await;
    let stale = server
        .mock("POST", "/audiences")
        .match_header("authorization", "Bearer t0")
        .with_status(401)
        .expect(1)
        .create_async()
        .await;
    let refresh = server.mock("POST", "/token").expect(1).create_async().await;
    let fresh = server
        .mock("POST", "/audiences")
        .match_header("authorization", "Bearer fresh")
        .with_header("content-type", "application/json")
        .with_body(r#"{"id":"aud-9"}"#)
        .expect(1)
        .create_async()
        .await;
    let del = server
        .mock("DELETE", "/users/u7")
        .expect(1)
        .create_async()
        .await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    let s = settings(json!("type = \"track\""));
    let o = EventOptions::default();
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
    stale.assert_async().await;
    refresh.assert_async().await;
    fresh.assert_async().await;
    del.assert_async().await;
}

#[tokio::test]
async fn test_authentication_wraps_errors_like_the_reference() {
    let server = Server::new_async().await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    rt.test_authentication(&settings(json!("")), &EventOptions::default())
        .await
        .unwrap();
    let mut s = settings(json!(""));
    s["region"] = json!(3);
    let err = rt
        .test_authentication(&s, &EventOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::SchemaValidation);
}

#[tokio::test]
async fn default_subscriptions_are_parsed_once_and_offered_with_default_mappings() {
    let server = Server::new_async().await;
    let rt = runtime(&server, BatchMode::Nothing).await;
    assert!(
        rt.default_subscription("send")
            .is_some_and(|s| s.matches(&json!({"type": "track"})))
    );
    let sub = rt.default_subscription_settings("send").unwrap();
    assert_eq!(sub["subscribe"], json!("type = \"track\""));
    assert_eq!(sub["partnerAction"], json!("send"));
    assert!(rt.default_subscription_settings("nope").is_none());
}

struct BadDefault;

#[async_trait]
impl Action<NoSettings> for BadDefault {
    type Payload = Send;
    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("bad", "Bad", "Has an invalid default subscription.")
            .default_subscription("type")
    }
    async fn perform(
        &self,
        _client: &RequestClient,
        _input: ExecuteInput<'_, NoSettings, Send>,
    ) -> Result<Option<Value>, Error> {
        Ok(None)
    }
}

struct BadDestination;

#[async_trait]
impl Destination for BadDestination {
    type Settings = NoSettings;
    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Bad", "actions-bad", AuthScheme::Custom)
    }
    fn actions(&self) -> Vec<Arc<dyn DynAction<NoSettings>>> {
        vec![Arc::new(BadDefault)]
    }
}

#[test]
fn an_invalid_default_subscription_is_refused_when_the_runtime_is_built() {
    let err = DestinationRuntime::new(BadDestination).unwrap_err();
    assert!(
        err.message()
            .contains("default subscription of action \"bad\""),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("Value token is missing"),
        "{}",
        err.message()
    );
}
