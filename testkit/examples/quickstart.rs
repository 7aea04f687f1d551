//! The testkit in one page: a destination with settings and one action, run by `test_action`
//! against the local mock server (offline), printing the request it captured.
//! `cargo run -p actions-testkit --example quickstart`

use std::sync::Arc;

use actions_core::prelude::*;
use actions_testkit::{ExchangeExt, TestIntegration, TestOptions};
use serde::Deserialize;

/// Settings: an API key (a password field, redacted wherever it is printed).
#[derive(Deserialize, JsonSchema)]
struct Settings {
    /// Your API key.
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    api_key: String,
}

/// The payload of "Send Event", with default mappings.
#[derive(Deserialize, JsonSchema)]
struct SendEvent {
    /// The event name.
    #[schemars(title = "Event", extend("x-field" = {"default": {"@path": "$.event"}}))]
    event: String,
    /// The user.
    #[schemars(title = "User ID", extend("x-field" = {"default": {"@path": "$.userId"}}))]
    user_id: Option<String>,
}

struct Send;

#[async_trait]
impl Action<Settings> for Send {
    type Payload = SendEvent;
    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("sendEvent", "Send Event", "Sends an event.")
    }
    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, SendEvent>,
    ) -> Result<Option<Value>, Error> {
        let body = json!({"name": input.payload.event, "user": input.payload.user_id});
        let url = "https://api.example.com/v1/events";
        Ok(Some(
            client.post(url).json(body).send().await?.result_data(),
        ))
    }
}

struct Example;

#[async_trait]
impl Destination for Example {
    type Settings = Settings;
    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Example", "actions-example", AuthScheme::Custom)
    }
    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(Send)]
    }
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        let key = ctx.settings.map(|s| s.api_key.clone()).unwrap_or_default();
        RequestOptions::new().header("x-api-key", key)
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Every request to https://api.example.com goes to a local mock server; strict by default.
    let mut t = TestIntegration::new(Example, &["https://api.example.com"]).await?;
    let mock = t
        .expect_request("POST", "/v1/events")
        .match_json(json!({"name": "Order Completed", "user": "user1234"}))
        .respond_json(202, json!({"queued": true}))
        .create()
        .await;
    let sent = t
        .test_action(
            "sendEvent",
            TestOptions::event(json!({"event": "Order Completed"}))
                .default_mappings()
                .settings(json!({"api_key": "secret-key"})),
        )
        .await?;
    mock.assert_async().await;
    for exchange in &sent {
        let r = exchange.request.redacted();
        println!("{} {}", r.method, r.url);
        for (name, value) in &r.headers {
            println!("  {name}: {value}");
        }
        println!("  body: {}", exchange.request_json().unwrap_or_default());
        let data = t.results().last().and_then(|r| r.data.clone());
        println!("→ {:?} {}", exchange.status(), data.unwrap_or_default());
    }
    Ok(())
}
