//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actions_core::context::{FixedClock, MapEnv};
use actions_core::prelude::*;
use actions_core::request::{Exchange, OriginOverrides};
use actions_core::runtime::TokenRefreshCallback;
use actions_testkit::TestIntegration;
use actions_testkit::linkedin_sim::LinkedInSim;
use linkedin_conversions::LinkedInConversions;

/// Both LinkedIn origins.
pub const ORIGINS: [&str; 2] = ["https://api.linkedin.com", "https://www.linkedin.com"];

/// A fixed "now" for the tests (2024-05-05T09:06:40Z).
pub const NOW: i64 = 1_714_900_000_000;

/// A runtime configuration with a fixed clock at `now` and these environment variables.
pub fn config(now: i64, env: &[(&str, &str)]) -> RuntimeConfig {
    let vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    RuntimeConfig {
        clock: Arc::new(FixedClock::new(now)),
        env: Arc::new(MapEnv(vars)),
        ..RuntimeConfig::default()
    }
}

/// The harness with the clock at [`NOW`] and no environment.
pub async fn harness() -> TestIntegration<LinkedInConversions> {
    harness_with(config(NOW, &[])).await
}

/// The harness with a configuration.
pub async fn harness_with(config: RuntimeConfig) -> TestIntegration<LinkedInConversions> {
    TestIntegration::with_config(LinkedInConversions::new(), &ORIGINS, config)
        .await
        .expect("the harness starts")
}

/// The JSON body of a captured request.
pub fn body_json(exchange: &Exchange) -> Value {
    let text = exchange.request.body.as_deref().unwrap_or("");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// `METHOD URL` of every captured request.
pub fn requests(exchanges: &[Exchange]) -> Vec<String> {
    exchanges
        .iter()
        .map(|e| format!("{} {}", e.request.method, e.request.url))
        .collect()
}

/// The multistatus nodes of the last batch, as JSON.
pub fn multistatus_json(t: &TestIntegration<LinkedInConversions>) -> Vec<Value> {
    t.multistatus()
        .iter()
        .map(|n| serde_json::to_value(n).expect("a node serialises"))
        .collect()
}

/// The simulator's OAuth app, as the environment gives it to the destination.
pub const SIM_ENV: [(&str, &str); 2] = [
    (
        "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_ID",
        "sim-conv-client-id",
    ),
    (
        "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_SECRET",
        "sim-conv-client-secret",
    ),
];

/// A runtime for `destination` whose LinkedIn origins lead to `sim`, with the clock (and the
/// simulator's) at `now` and [`SIM_ENV`].
pub fn sim_runtime<D: Destination>(
    sim: &LinkedInSim,
    destination: D,
    now: i64,
) -> DestinationRuntime<D> {
    sim.set_now_ms(Some(now));
    let base = sim.base_url();
    let config = RuntimeConfig {
        origins: OriginOverrides::new()
            .with(ORIGINS[0], &base)
            .with(ORIGINS[1], &base),
        ..config(now, &SIM_ENV)
    };
    DestinationRuntime::with_config(destination, config).expect("runtime")
}

/// Settings with the simulator's tokens and a `streamConversion` subscription to every track
/// event with `mapping`.
pub fn sim_settings(mapping: Value) -> Value {
    json!({
        "oauth": {"access_token": "sim-access-token", "refresh_token": "sim-refresh-token"},
        "subscription": {
            "partnerAction": "streamConversion",
            "subscribe": "type = \"track\"",
            "mapping": mapping
        }
    })
}

/// Event options whose token-refresh callback records the new access tokens.
pub fn refresh_recorder() -> (EventOptions, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let cb: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
        if let Ok(mut v) = sink.lock() {
            v.push(t.access_token.expose().to_string());
        }
    });
    let options = EventOptions {
        on_token_refresh: Some(cb),
        ..EventOptions::default()
    };
    (options, seen)
}
