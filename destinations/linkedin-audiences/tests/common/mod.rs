//! Helpers shared by the integration tests: the mockito harness, a runtime wired to the LinkedIn
//! simulator, and the reference tests' fixed inputs.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use actions_core::action::MultiStatusNode;
use actions_core::oauth::{AuthTokens, RefreshedTokens, Secret};
use actions_core::prelude::*;
use actions_core::request::{Exchange, OriginOverrides};
use actions_core::runtime::TokenRefreshCallback;
use actions_testkit::TestIntegration;
use actions_testkit::golden::LINKEDIN_ORIGINS;
use actions_testkit::linkedin_sim::LinkedInSim;
use linkedin_audiences::LinkedInAudiences;
use serde_json::Map;

/// The harness with both LinkedIn origins on one strict mock server.
pub async fn harness() -> TestIntegration<LinkedInAudiences> {
    TestIntegration::new(LinkedInAudiences::new(), &LINKEDIN_ORIGINS)
        .await
        .expect("the harness starts")
}

/// Auth tokens with this access token and refresh token.
pub fn tokens(access: &str, refresh: &str) -> AuthTokens {
    AuthTokens {
        access_token: Some(Secret::new(access)),
        refresh_token: Some(Secret::new(refresh)),
        ..AuthTokens::default()
    }
}

/// A request's body parsed as JSON.
pub fn body_json(exchange: &Exchange) -> Value {
    let body = exchange.request.body.as_deref().unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?} is not JSON: {e}"))
}

/// `METHOD url` of every exchange.
pub fn requests(exchanges: &[Exchange]) -> Vec<String> {
    exchanges
        .iter()
        .map(|e| format!("{} {}", e.request.method, e.request.url))
        .collect()
}

/// The JSON content type (what LinkedIn sends with JSON answers).
pub const JSON: (&str, &str) = ("content-type", "application/json");

/// The settings a runtime needs for a simulator run: the sim's tokens and OAuth app, ad account
/// `512345678`, and one subscription.
pub fn sim_settings(action: &str, subscribe: &str, mapping: Value) -> Value {
    json!({
        "ad_account_id": "512345678",
        "send_email": true,
        "send_google_advertising_id": true,
        "oauth": {
            "access_token": "sim-access-token",
            "refresh_token": "sim-refresh-token",
            "clientId": "sim-client-id",
            "clientSecret": "sim-client-secret"
        },
        "subscription": {"partnerAction": action, "subscribe": subscribe, "mapping": mapping}
    })
}

/// A runtime whose LinkedIn origins lead to the simulator, and the tokens its refresh callback
/// received.
pub struct SimRun<D: Destination> {
    /// The runtime.
    pub runtime: DestinationRuntime<D>,
    /// Tokens handed to `on_token_refresh`.
    pub refreshes: Arc<Mutex<Vec<String>>>,
}

impl<D: Destination> SimRun<D> {
    /// Wires `destination` to `sim`.
    pub fn new(destination: D, sim: &LinkedInSim) -> Self {
        let mut origins = OriginOverrides::new();
        for origin in LINKEDIN_ORIGINS {
            origins.add(origin, &sim.base_url());
        }
        let config = RuntimeConfig {
            origins,
            ..RuntimeConfig::default()
        };
        SimRun {
            runtime: DestinationRuntime::with_config(destination, config).expect("runtime"),
            refreshes: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Options whose refresh callback records the new access tokens.
    pub fn options(&self) -> EventOptions {
        let seen = self.refreshes.clone();
        let cb: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
            seen.lock()
                .unwrap()
                .push(t.access_token.expose().to_string());
        });
        EventOptions {
            on_token_refresh: Some(cb),
            ..EventOptions::default()
        }
    }

    /// How many token refreshes the callback saw.
    pub fn refresh_count(&self) -> usize {
        self.refreshes.lock().unwrap().len()
    }

    /// Settings for `updateAudience` with its default mapping and the audience subscription.
    pub fn user_settings(&self) -> Value {
        sim_settings(
            "updateAudience",
            AUDIENCE_SUBSCRIPTION,
            self.default_mapping("updateAudience"),
        )
    }

    /// Settings for `updateCompanyAudience` with its default mapping, adding companies.
    pub fn company_settings(&self) -> Value {
        let mut mapping = self.default_mapping("updateCompanyAudience");
        mapping["dmp_company_action"] = json!("ADD");
        sim_settings("updateCompanyAudience", "type = \"track\"", mapping)
    }

    /// Sends one event through `on_event` with these settings.
    pub async fn event(&self, event: &Value, settings: &Value) -> Result<Vec<ResultEntry>, Error> {
        self.runtime
            .on_event(event, settings, &self.options())
            .await
    }

    /// Sends a batch through `on_batch` with these settings; its multistatus nodes.
    pub async fn batch(
        &self,
        events: &[Value],
        settings: &Value,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        let results = self
            .runtime
            .on_batch(events, settings, &self.options())
            .await?;
        Ok(results
            .iter()
            .filter_map(|r| r.multistatus.clone())
            .flatten()
            .collect())
    }

    /// Every field default of `action` (the reference's default mapping).
    pub fn default_mapping(&self, action: &str) -> Value {
        let mut m = Map::new();
        if let Some((_, fields)) = self.runtime.actions().find(|(d, _)| d.key == action) {
            for (key, field) in fields {
                if let Some(d) = &field.default {
                    m.insert(key.clone(), d.clone());
                }
            }
        }
        Value::Object(m)
    }
}

/// `event = "Audience Entered" or event = "Audience Exited"`.
pub const AUDIENCE_SUBSCRIPTION: &str =
    "event = \"Audience Entered\" or event = \"Audience Exited\"";

/// An Engage audience event for the user `email`.
pub fn audience_event(event: &str, audience_key: &str, email: &str) -> Value {
    json!({
        "type": "track",
        "event": event,
        "messageId": format!("{event}-{audience_key}-{email}"),
        "timestamp": "2026-10-31T23:00:00.000Z",
        "properties": {"audience_key": audience_key, audience_key: event == "Audience Entered"},
        "context": {"personas": {"computation_key": audience_key}, "traits": {"email": email}},
    })
}

/// `n` "Audience Entered" events of `audience` for the users `u0@x.com`, `u1@x.com`, ….
pub fn entered_events(n: usize, audience: &str) -> Vec<Value> {
    (0..n)
        .map(|i| audience_event("Audience Entered", audience, &format!("u{i}@x.com")))
        .collect()
}

/// Whether `node` is a success with `status`.
pub fn succeeded(node: &MultiStatusNode, status: u16) -> bool {
    matches!(node, MultiStatusNode::Success { status: s, .. } if *s == status)
}

/// A company audience event.
pub fn company_event(computation_key: &str, domain: &str) -> Value {
    json!({
        "type": "track",
        "event": "Company Audience Entered",
        "messageId": format!("{computation_key}-{domain}"),
        "timestamp": "2026-10-31T23:00:00.000Z",
        "traits": {"company_domain": domain},
        "context": {"personas": {"computation_key": computation_key}},
    })
}

/// The multistatus nodes of the last batch, as JSON.
pub fn multistatus_json<D: Destination>(t: &TestIntegration<D>) -> Vec<Value> {
    t.multistatus()
        .iter()
        .map(|n| serde_json::to_value(n).expect("a node serialises"))
        .collect()
}

/// What a caller sees of an error: its class, code, status and message.
pub fn error_summary(e: &Error) -> (ErrorClass, Option<&str>, Option<u16>, &str) {
    (e.class(), e.code(), e.status(), e.message())
}
