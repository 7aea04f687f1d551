//! Webhook: sends events to the Webhook API.
//!
//! The settings are [`Settings`]; the actions live in [`actions`], one module each. Requests go
//! to [`API_ORIGIN`]; tests and `cargo xtask serve --redirect` point that origin elsewhere.
//!
//! ```
//! use actions_core::prelude::*;
//! use webhook::Webhook;
//!
//! let runtime = DestinationRuntime::new(Webhook::new())?;
//! assert_eq!(runtime.definition().slug, "actions-webhook");
//! # Ok::<(), Error>(())
//! ```

use std::sync::Arc;

use actions_core::prelude::*;
use serde::Deserialize;

pub mod actions;

/// The origin of the Webhook API (replace it with the partner's API origin).
pub const API_ORIGIN: &str = "https://api.webhook.example";

/// The destination settings (the settings form is derived from this type).
#[derive(Deserialize, JsonSchema)]
pub struct Settings {
    /// Your Webhook API key, from your Webhook account settings.
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    pub api_key: String,
}

/// The Webhook destination.
#[derive(Clone, Copy, Debug, Default)]
pub struct Webhook;

impl Webhook {
    /// The destination (the registry and the tests build runtimes from it).
    pub fn new() -> Self {
        Webhook
    }
}

#[async_trait]
impl Destination for Webhook {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Webhook", "actions-webhook", AuthScheme::Custom)
            .description("Sends events to Webhook.")
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![
            // BEGIN ACTIONS (managed by `cargo xtask new-action`)
            Arc::new(actions::send::Send),
            // END ACTIONS
        ]
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.settings {
            Some(s) => {
                RequestOptions::new().header("authorization", format!("Bearer {}", s.api_key))
            }
            None => RequestOptions::new(),
        }
    }

    async fn test_authentication(
        &self,
        client: &RequestClient,
        _ctx: AuthContext<'_, Settings>,
    ) -> Result<(), Error> {
        client.get(format!("{API_ORIGIN}/v1/me")).send().await?;
        Ok(())
    }
}

/// What the tests of every action share.
#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::{Value, json};

    /// The settings a test run uses.
    pub fn settings() -> Value {
        json!({"api_key": "test-api-key"})
    }

    /// The `authorization` header those settings produce.
    pub const AUTHORIZATION: &str = "Bearer test-api-key";
}

#[cfg(test)]
mod tests {
    use actions_testkit::TestIntegration;

    use super::*;

    #[tokio::test]
    async fn test_authentication_accepts_valid_credentials() {
        let mut t = TestIntegration::new(Webhook::new(), &[API_ORIGIN])
            .await
            .unwrap();
        let mock = t
            .mock("GET", "/v1/me")
            .match_header("authorization", test_support::AUTHORIZATION)
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body("{}")
            .create_async()
            .await;
        t.test_authentication(&test_support::settings())
            .await
            .unwrap();
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn test_authentication_rejects_invalid_credentials() {
        let mut t = TestIntegration::new(Webhook::new(), &[API_ORIGIN])
            .await
            .unwrap();
        let mock = t
            .mock("GET", "/v1/me")
            .with_status(401)
            .with_body("invalid credentials")
            .create_async()
            .await;
        let err = t
            .test_authentication(&test_support::settings())
            .await
            .unwrap_err();
        assert!(
            err.message().starts_with("Credentials are invalid: 401"),
            "{}",
            err.message()
        );
        mock.assert_async().await;
    }
}
