//! Sends one event through a small destination to a local HTTP server and prints what happened:
//! the subscription matches, the mapping builds the payload, the payload is validated and the
//! action posts it.
//!
//! ```sh
//! cargo run -p actions-core --example send_event
//! ```

use std::sync::Arc;

use actions_core::prelude::*;
use actions_core::request::{Capture, OriginOverrides};
use serde::Deserialize;

/// Settings of the example destination.
#[derive(Deserialize, JsonSchema)]
struct Settings {
    /// The workspace events are sent to.
    #[schemars(title = "Workspace")]
    workspace: String,
    /// The API key.
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    api_key: String,
}

/// The payload of the `trackEvent` action.
#[derive(Deserialize, JsonSchema)]
struct TrackEvent {
    /// The event name.
    #[schemars(title = "Event Name", extend("x-field" = {"default": {"@path": "$.event"}}))]
    name: String,
    /// The user's email address.
    #[schemars(title = "Email", extend("x-field" = {"format": "email", "default": {"@path": "$.properties.email"}}))]
    email: Option<String>,
    /// The order's revenue.
    #[schemars(title = "Revenue", extend("x-field" = {"default": {"@path": "$.properties.revenue"}}))]
    revenue: Option<f64>,
}

struct Track;

#[async_trait]
impl Action<Settings> for Track {
    type Payload = TrackEvent;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("trackEvent", "Track Event", "Sends a track event.")
            .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, TrackEvent>,
    ) -> Result<Option<Value>, Error> {
        let p = &input.payload;
        let response = client
            .post(format!(
                "https://api.example.com/v1/{}/events",
                input.settings.workspace
            ))
            .json(json!({"name": p.name, "email": p.email, "revenue": p.revenue}))
            .send()
            .await?;
        Ok(Some(response.result_data()))
    }
}

struct Example;

#[async_trait]
impl Destination for Example {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Example", "actions-example", AuthScheme::Custom)
            .description("A destination that shows the framework end to end.")
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(Track)]
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.settings {
            Some(s) => RequestOptions::new().header("x-api-key", s.api_key.clone()),
            None => RequestOptions::new(),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // A local server standing in for https://api.example.com.
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", "/v1/acme/events")
        .with_status(201)
        .with_header("content-type", "application/json")
        .with_body(r#"{"accepted":1}"#)
        .create_async()
        .await;

    let config = RuntimeConfig {
        origins: OriginOverrides::new().with("https://api.example.com", &server.url()),
        ..RuntimeConfig::default()
    };
    let runtime = DestinationRuntime::with_config(Example, config)?;
    let settings = json!({
        "workspace": "acme",
        "api_key": "sk-example",
        "subscription": {
            "partnerAction": "trackEvent",
            "subscribe": "type = \"track\" and event = \"Order Completed\"",
            "mapping": {
                "name": {"@path": "$.event"},
                "email": {"@path": "$.properties.email"},
                "revenue": {"@path": "$.properties.revenue"}
            }
        }
    });
    let event = json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": "msg-1",
        "properties": {"email": "jane@example.com", "revenue": "42.5"}
    });
    let capture = Capture::new();
    let opts = EventOptions {
        capture: Some(capture.clone()),
        ..EventOptions::default()
    };
    let Delivery { result, outcome } = runtime.deliver_event(&event, &settings, &opts).await;
    let results = result?;
    for exchange in capture.take() {
        let r = exchange.request.redacted();
        println!("→ {} {}", r.method, r.url);
        for (k, v) in &r.headers {
            println!("  {k}: {v}");
        }
        println!("  {}", r.body.unwrap_or_default());
        if let Some(resp) = exchange.response {
            println!("← {} {}", resp.status(), resp.content());
        }
    }
    println!(
        "results: {}",
        serde_json::to_string(&results).unwrap_or_default()
    );
    println!("outcome: {outcome:?}");
    mock.assert_async().await;
    Ok(())
}
