//! `send`: sends one event to Webhook.

use actions_core::action::object_without_nones;
use actions_core::prelude::*;
use serde::Deserialize;

use crate::{API_ORIGIN, Settings};

/// The fields of `send`: labels, descriptions and default mappings are derived from this type.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendPayload {
    /// The name of the event.
    #[schemars(title = "Event Name", extend("x-field" = {"default": {"@path": "$.event"}}))]
    pub event_name: String,
    /// The user's ID, or the anonymous ID when the user is not known.
    #[schemars(
        title = "User ID",
        extend("x-field" = {"default": {"@if": {
            "exists": {"@path": "$.userId"},
            "then": {"@path": "$.userId"},
            "else": {"@path": "$.anonymousId"}
        }}})
    )]
    pub user_id: Option<String>,
    /// The properties of the event.
    #[schemars(title = "Properties", extend("x-field" = {"default": {"@path": "$.properties"}}))]
    pub properties: Option<serde_json::Map<String, Value>>,
    /// When the event happened: an ISO 8601 date or a Unix time in milliseconds.
    #[schemars(
        title = "Timestamp",
        extend("x-field" = {"type": "datetime", "default": {"@path": "$.timestamp"}})
    )]
    pub timestamp: Option<Value>,
}

/// Sends one event to Webhook.
#[derive(Clone, Copy, Debug, Default)]
pub struct Send;

#[async_trait]
impl Action<Settings> for Send {
    type Payload = SendPayload;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("send", "Send", "Sends an event to Webhook.")
            .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, SendPayload>,
    ) -> Result<Option<Value>, Error> {
        let SendPayload {
            event_name,
            user_id,
            properties,
            timestamp,
        } = input.payload;
        let body = object_without_nones([
            ("event", Some(Value::String(event_name))),
            ("userId", user_id.map(Value::String)),
            ("properties", properties.map(Value::Object)),
            ("timestamp", timestamp),
        ]);
        let response = client
            .post(format!("{API_ORIGIN}/v1/send"))
            .json(body)
            .send()
            .await?;
        Ok(Some(response.result_data()))
    }
}

#[cfg(test)]
mod tests {
    use actions_core::ErrorClass;
    use actions_testkit::{TestIntegration, TestOptions};
    use mockito::Matcher;

    use super::*;
    use crate::{Webhook, test_support};

    async fn harness() -> TestIntegration<Webhook> {
        TestIntegration::new(Webhook::new(), &[API_ORIGIN])
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn sends_the_mapped_event() {
        let mut t = harness().await;
        let mock = t
            .mock("POST", "/v1/send")
            .match_header("authorization", test_support::AUTHORIZATION)
            .match_body(Matcher::PartialJson(json!({
                "event": "Order Completed",
                "userId": "user-1",
                "properties": {"revenue": 42.5},
            })))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"accepted":true}"#)
            .create_async()
            .await;
        let event = json!({
            "type": "track",
            "event": "Order Completed",
            "userId": "user-1",
            "properties": {"revenue": 42.5},
        });
        let options = TestOptions::event(event)
            .default_mappings()
            .settings(test_support::settings());
        let exchanges = t.test_action("send", options).await.unwrap();
        assert_eq!(exchanges.len(), 1);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn falls_back_to_the_anonymous_id() {
        let mut t = harness().await;
        let mock = t
            .mock("POST", "/v1/send")
            .match_body(Matcher::PartialJson(json!({"userId": "anon-1"})))
            .with_status(200)
            .create_async()
            .await;
        let event = json!({"type": "track", "userId": null, "anonymousId": "anon-1"});
        let options = TestOptions::event(event)
            .default_mappings()
            .settings(test_support::settings());
        t.test_action("send", options).await.unwrap();
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_event_without_a_name_is_rejected_before_any_request() {
        let mut t = harness().await;
        let options = TestOptions::event(json!({"type": "track"}))
            .mapping(json!({"event_name": {"@path": "$.properties.missing"}}))
            .default_mappings()
            .settings(test_support::settings());
        let err = t.test_action("send", options).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::SchemaValidation);
        assert!(err.message().contains("event_name"), "{}", err.message());
    }
}
