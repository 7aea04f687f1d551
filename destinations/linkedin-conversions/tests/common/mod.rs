//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use actions_core::RuntimeConfig;
use actions_core::context::{FixedClock, MapEnv};
use actions_core::request::Exchange;
use actions_testkit::TestIntegration;
use linkedin_conversions::LinkedInConversions;
use serde_json::Value;

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
