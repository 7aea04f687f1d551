//! The OAuth error pipeline against a real local HTTP server (mockito): 401 → one refresh →
//! retry once; token propagation → refresh then RetryableError 503; single-flight refreshes;
//! multistatus 401 entries; non-OAuth destinations never refresh; secrets never printed.

use std::sync::{Arc, Mutex};

use actions_core::prelude::*;
use actions_core::request::{AfterResponseHook, OriginOverrides};
use actions_core::runtime::TokenRefreshCallback;
use mockito::{Matcher, Server, ServerGuard};
use serde::Deserialize;

const API: &str = "https://api.example.test";
const AUTH: &str = "https://auth.example.test";

/// Settings of the test destination.
#[derive(Deserialize, JsonSchema)]
struct Settings {
    /// A workspace name.
    #[schemars(title = "Workspace")]
    workspace: String,
    /// A secret API key (redacted everywhere).
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    api_key: Option<String>,
}

/// The payload of the test action.
#[derive(Deserialize, JsonSchema)]
struct Track {
    /// The event name.
    #[schemars(title = "Event")]
    event: String,
}

struct TrackAction;

#[async_trait]
impl Action<Settings> for TrackAction {
    type Payload = Track;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("track", "Track", "Sends a track event.")
            .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Track>,
    ) -> Result<Option<Value>, Error> {
        let r = client
            .post(format!("{API}/v1/{}/track", input.settings.workspace))
            .json(json!({"event": input.payload.event}))
            .send()
            .await?;
        Ok(Some(r.result_data()))
    }

    fn supports_batch(&self) -> bool {
        true
    }

    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<Track>>,
    ) -> Result<BatchResponse, Error> {
        let events: Vec<Value> = input.payload.iter().map(|p| json!(p.event)).collect();
        let r = client
            .post(format!("{API}/v1/{}/batch", input.settings.workspace))
            .json(json!({"events": events}))
            .throw_http_errors(false)
            .send()
            .await?;
        let mut ms = MultiStatusResponse::new();
        for p in &input.payload {
            if r.ok() {
                ms.push_success(r.status(), Some(json!(p.event)), None);
            } else {
                ms.push_error(r.status(), None, r.content(), Some(json!(p.event)), None);
            }
        }
        Ok(BatchResponse::MultiStatus(ms))
    }
}

struct TestDestination {
    scheme: AuthScheme,
}

fn propagation_hook() -> AfterResponseHook {
    Arc::new(|_req, resp| {
        if resp.status() == 401 && resp.content().contains("\"serviceErrorCode\":65601") {
            return Err(Error::token_propagation(
                "The partner rejected the access token (serviceErrorCode 65601); it may not have propagated yet.",
            ));
        }
        Ok(None)
    })
}

#[async_trait]
impl Destination for TestDestination {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Test OAuth", "actions-test-oauth", self.scheme)
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(TrackAction)]
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        let mut o = RequestOptions::new().after_response(propagation_hook());
        if let Some(key) = ctx.settings.and_then(|s| s.api_key.as_deref()) {
            o = o.header("x-api-key", key);
        }
        if let Some(t) = ctx.auth.access_token() {
            o = o.header("authorization", format!("Bearer {t}"));
        }
        o
    }

    async fn refresh_access_token(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<Option<RefreshedTokens>, Error> {
        let rt = ctx
            .auth
            .refresh_token
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
        let r = client
            .post(format!("{AUTH}/token"))
            .form([
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .throw_http_errors(false)
            .send()
            .await?;
        if !r.ok() {
            return Err(Error::integration(
                "Failed to refresh the access token.",
                codes::OAUTH_REFRESH_FAILED,
                401,
            ));
        }
        let token = r
            .json()?
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::plain("no access_token"))?;
        Ok(Some(RefreshedTokens::access(token)))
    }
}

async fn runtime(server: &ServerGuard, scheme: AuthScheme) -> DestinationRuntime<TestDestination> {
    let config = RuntimeConfig {
        origins: OriginOverrides::new()
            .with(API, &server.url())
            .with(AUTH, &server.url()),
        ..RuntimeConfig::default()
    };
    DestinationRuntime::with_config(TestDestination { scheme }, config).unwrap()
}

fn settings() -> Value {
    json!({
        "workspace": "acme",
        "api_key": "KEY-SECRET-123",
        "oauth": {"access_token": "old-token", "refresh_token": "RT-SECRET-456",
                  "clientId": "cid", "clientSecret": "CS-SECRET-789"},
        "subscription": {"partnerAction": "track", "subscribe": "type = \"track\"",
                         "mapping": {"event": {"@path": "$.event"}}}
    })
}

fn event(name: &str) -> Value {
    json!({"type": "track", "event": name})
}

fn recorder() -> (TokenRefreshCallback, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let cb: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
        s.lock().unwrap().push(t.access_token.expose().to_string());
    });
    (cb, seen)
}

fn opts(cb: TokenRefreshCallback) -> EventOptions {
    EventOptions {
        on_token_refresh: Some(cb),
        ..EventOptions::default()
    }
}

#[tokio::test]
async fn a_401_refreshes_once_and_the_retry_succeeds() {
    let mut server = Server::new_async().await;
    let stale = server
        .mock("POST", "/v1/acme/track")
        .match_header("authorization", "Bearer old-token")
        .with_status(401)
        .expect(1)
        .create_async()
        .await;
    let refresh = server
        .mock("POST", "/token")
        .match_header("authorization", Matcher::Missing)
        .match_body(Matcher::UrlEncoded(
            "refresh_token".into(),
            "RT-SECRET-456".into(),
        ))
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"new-token"}"#)
        .expect(1)
        .create_async()
        .await;
    let fresh = server
        .mock("POST", "/v1/acme/track")
        .match_header("authorization", "Bearer new-token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    let rt = runtime(&server, AuthScheme::OAuth2).await;
    let (cb, seen) = recorder();
    let results = rt
        .on_event(&event("Signed Up"), &settings(), &opts(cb))
        .await
        .unwrap();
    assert_eq!(results.last().unwrap().data, Some(json!({"ok": true})));
    assert_eq!(*seen.lock().unwrap(), vec!["new-token".to_string()]);
    stale.assert_async().await;
    refresh.assert_async().await;
    fresh.assert_async().await;
}

#[tokio::test]
async fn a_persistent_401_surfaces_after_the_second_attempt_with_one_refresh() {
    let mut server = Server::new_async().await;
    let api = server
        .mock("POST", "/v1/acme/track")
        .with_status(401)
        .expect(2)
        .create_async()
        .await;
    let refresh = server
        .mock("POST", "/token")
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"new-token"}"#)
        .expect(1)
        .create_async()
        .await;
    let rt = runtime(&server, AuthScheme::OAuth2).await;
    let (cb, seen) = recorder();
    let err = rt
        .on_event(&event("x"), &settings(), &opts(cb))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Http);
    assert_eq!(err.message(), "Unauthorized");
    assert_eq!(err.status(), Some(401));
    assert_eq!(seen.lock().unwrap().len(), 1);
    api.assert_async().await;
    refresh.assert_async().await;
}

#[tokio::test]
async fn token_propagation_refreshes_then_ends_with_a_retryable_503() {
    let mut server = Server::new_async().await;
    let api = server
        .mock("POST", "/v1/acme/track")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#)
        .expect(1)
        .create_async()
        .await;
    let refresh = server
        .mock("POST", "/token")
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"new-token"}"#)
        .expect(1)
        .create_async()
        .await;
    let rt = runtime(&server, AuthScheme::OAuth2).await;
    let (cb, seen) = recorder();
    let err = rt
        .on_event(&event("x"), &settings(), &opts(cb))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.code(), Some("RETRYABLE_ERROR"));
    assert!(err.message().contains("65601"), "{}", err.message());
    assert!(matches!(
        Outcome::of_error(&err),
        Outcome::RefreshThenRetry { .. }
    ));
    assert_eq!(*seen.lock().unwrap(), vec!["new-token".to_string()]);
    api.assert_async().await;
    refresh.assert_async().await;
}

#[tokio::test]
async fn a_failed_refresh_surfaces_as_the_refresh_error() {
    let mut server = Server::new_async().await;
    let api = server
        .mock("POST", "/v1/acme/track")
        .with_status(401)
        .with_body(r#"{"serviceErrorCode":65601}"#)
        .expect(1)
        .create_async()
        .await;
    let refresh = server
        .mock("POST", "/token")
        .with_status(400)
        .with_body(r#"{"error":"invalid_grant"}"#)
        .expect(1)
        .create_async()
        .await;
    let rt = runtime(&server, AuthScheme::OAuth2).await;
    let (cb, seen) = recorder();
    let err = rt
        .on_event(&event("x"), &settings(), &opts(cb))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Integration);
    assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
    assert!(seen.lock().unwrap().is_empty());
    api.assert_async().await;
    refresh.assert_async().await;
}

#[tokio::test]
async fn fifty_concurrent_401s_make_exactly_one_refresh() {
    let mut server = Server::new_async().await;
    let stale = server
        .mock("POST", "/v1/acme/track")
        .match_header("authorization", "Bearer old-token")
        .with_status(401)
        .expect(50)
        .create_async()
        .await;
    let refresh = server
        .mock("POST", "/token")
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"new-token"}"#)
        .expect(1)
        .create_async()
        .await;
    let fresh = server
        .mock("POST", "/v1/acme/track")
        .match_header("authorization", "Bearer new-token")
        .with_status(200)
        .expect(50)
        .create_async()
        .await;
    let rt = Arc::new(runtime(&server, AuthScheme::OAuth2).await);
    let (cb, seen) = recorder();
    let o = opts(cb);
    // Every event must hit the 401 before any refresh completes: start all attempts together.
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let rt = rt.clone();
        let o = o.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            rt.on_event(&event(&format!("e{i}")), &settings(), &o).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
    stale.assert_async().await;
    refresh.assert_async().await;
    fresh.assert_async().await;
}

#[tokio::test]
async fn a_multistatus_401_entry_refreshes_and_reruns_the_batch() {
    let mut server = Server::new_async().await;
    let stale = server
        .mock("POST", "/v1/acme/batch")
        .match_header("authorization", "Bearer old-token")
        .with_status(401)
        .with_body("expired")
        .expect(1)
        .create_async()
        .await;
    let refresh = server
        .mock("POST", "/token")
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"new-token"}"#)
        .expect(1)
        .create_async()
        .await;
    let fresh = server
        .mock("POST", "/v1/acme/batch")
        .match_header("authorization", "Bearer new-token")
        .match_body(Matcher::Json(json!({"events": ["a", "b"]})))
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let rt = runtime(&server, AuthScheme::OAuth2).await;
    let (cb, seen) = recorder();
    let results = rt
        .on_batch(&[event("a"), event("b")], &settings(), &opts(cb))
        .await
        .unwrap();
    let nodes = results[0].multistatus.as_ref().unwrap();
    assert!(nodes.iter().all(|n| n.status() == 200), "{nodes:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    stale.assert_async().await;
    refresh.assert_async().await;
    fresh.assert_async().await;
}

#[tokio::test]
async fn a_non_oauth_destination_never_refreshes() {
    let mut server = Server::new_async().await;
    let api = server
        .mock("POST", "/v1/acme/track")
        .with_status(401)
        .expect(1)
        .create_async()
        .await;
    let refresh = server.mock("POST", "/token").expect(0).create_async().await;
    let rt = runtime(&server, AuthScheme::Custom).await;
    let err = rt
        .on_event(&event("x"), &settings(), &EventOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    api.assert_async().await;
    refresh.assert_async().await;
}

#[tokio::test]
async fn token_propagation_without_oauth_is_a_503_without_refresh() {
    let mut server = Server::new_async().await;
    let api = server
        .mock("POST", "/v1/acme/track")
        .with_status(401)
        .with_body(r#"{"serviceErrorCode":65601}"#)
        .expect(1)
        .create_async()
        .await;
    let refresh = server.mock("POST", "/token").expect(0).create_async().await;
    let rt = runtime(&server, AuthScheme::Custom).await;
    let err = rt
        .on_event(&event("x"), &settings(), &EventOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::Retryable, Some(503))
    );
    api.assert_async().await;
    refresh.assert_async().await;
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output_of_settings_errors_or_captures() {
    let mut server = Server::new_async().await;
    let _api = server
        .mock("POST", "/v1/acme/track")
        .with_status(401)
        .expect_at_least(1)
        .create_async()
        .await;
    let _refresh = server
        .mock("POST", "/token")
        .with_status(400)
        .with_body(r#"{"error":"invalid_grant"}"#)
        .create_async()
        .await;
    let rt = runtime(&server, AuthScheme::OAuth2).await;
    let capture = actions_core::request::Capture::new();
    let o = EventOptions {
        capture: Some(capture.clone()),
        ..EventOptions::default()
    };
    let err = rt.on_event(&event("x"), &settings(), &o).await.unwrap_err();
    let auth = AuthTokens::from_settings(&settings());
    let printed = format!(
        "{err:?} {err} {auth:?} {:?} {:?} {rt:?}",
        capture.snapshot(),
        o
    );
    for secret in ["old-token", "RT-SECRET-456", "CS-SECRET-789", "KEY-SECRET-123"] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
    assert!(!capture.is_empty());
}
