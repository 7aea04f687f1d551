//! The OAuth error pipeline against a real local HTTP server (mockito): 401 → one refresh →
//! retry once; token propagation → refresh then RetryableError 503; single-flight refreshes;
//! multistatus 401 entries; non-OAuth destinations never refresh; secrets never printed.
//!
//! Each scenario is one row of [`scenarios`]: the scheme, the server's routes, how the runtime
//! is called, and what the result and the recorded token refreshes must be.

mod common;

use std::sync::{Arc, Mutex};

use actions_core::prelude::*;
use actions_core::request::{AfterResponseHook, OriginOverrides};
use actions_core::runtime::TokenRefreshCallback;
use common::server::{Route, route, serve};
use mockito::Matcher;
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

/// What `perform` gets.
type Input<'a, P> = ExecuteInput<'a, Settings, P>;

/// Posts each event to `/v1/<workspace>/track`, batches to `/v1/<workspace>/batch` (one
/// multistatus entry per event, all with the batch's status).
struct TrackAction;

#[async_trait]
impl Action<Settings> for TrackAction {
    type Payload = Track;

    async fn perform(&self, client: &RequestClient, input: Input<'_, Track>) -> Performed {
        let url = format!("{API}/v1/{}/track", input.settings.workspace);
        let body = json!({"event": input.payload.event});
        let r = client.post(url).json(body).send().await?;
        Ok(Some(r.result_data()))
    }

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("track", "Track", "Sends a track event.")
            .default_subscription("type = \"track\"")
    }

    async fn perform_batch(&self, client: &RequestClient, input: Input<'_, Vec<Track>>) -> Batched {
        let events: Vec<Value> = input.payload.iter().map(|p| json!(p.event)).collect();
        let url = format!("{API}/v1/{}/batch", input.settings.workspace);
        let request = client.post(url).json(json!({"events": events}));
        let r = request.throw_http_errors(false).send().await?;
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

    fn supports_batch(&self) -> bool {
        true
    }
}

type Performed = Result<Option<Value>, Error>;
type Batched = Result<BatchResponse, Error>;

struct TestDestination {
    scheme: AuthScheme,
}

/// LinkedIn's "token not propagated yet" answer (a 401 with serviceErrorCode 65601).
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

    async fn refresh_access_token(&self, client: &RequestClient, ctx: Auth<'_>) -> Refreshed {
        let refresh_token = ctx
            .auth
            .refresh_token
            .as_ref()
            .map(|s| s.expose().to_string());
        let form = [
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refresh_token.as_deref().unwrap_or_default(),
            ),
        ];
        let request = client.post(format!("{AUTH}/token")).form(form);
        let r = request.throw_http_errors(false).send().await?;
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

type Auth<'a> = AuthContext<'a, Settings>;
type Refreshed = Result<Option<RefreshedTokens>, Error>;

// ---------------------------------------------------------------------------------------------
// Scenarios

fn runtime(server_url: &str, scheme: AuthScheme) -> DestinationRuntime<TestDestination> {
    let config = RuntimeConfig {
        origins: OriginOverrides::new()
            .with(API, server_url)
            .with(AUTH, server_url),
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

/// `POST /v1/acme/track` answered with `status`.
fn track(status: usize) -> Route {
    route("POST /v1/acme/track", status)
}

/// `POST /v1/acme/batch` answered with `status`.
fn batch(status: usize) -> Route {
    route("POST /v1/acme/batch", status)
}

/// The token endpoint granting `new-token` for the settings' refresh token (sent in the form,
/// never with an `authorization` header).
fn refresh_grants() -> Route {
    route("POST /token", 200)
        .anonymous()
        .body(Matcher::UrlEncoded(
            "refresh_token".into(),
            "RT-SECRET-456".into(),
        ))
        .json(r#"{"access_token":"new-token"}"#)
}

/// The token endpoint refusing the refresh token.
fn refresh_refuses() -> Route {
    route("POST /token", 400).text(r#"{"error":"invalid_grant"}"#)
}

/// A 401 whose body says the token has not propagated yet.
const NOT_PROPAGATED: &str =
    r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#;

/// How a scenario calls the runtime.
enum Call {
    /// `on_event` with one event of this name.
    Event(&'static str),
    /// `on_batch` with events of these names.
    Batch(&'static [&'static str]),
    /// `on_event` from this many tasks at once, each of which must succeed.
    Concurrent(usize),
}

/// What a call returned, and the access tokens the refresh callback was given.
type Check = fn(Result<Vec<ResultEntry>, Error>, Vec<String>);

struct Scenario {
    name: &'static str,
    scheme: AuthScheme,
    routes: Vec<Route>,
    call: Call,
    check: Check,
}

/// Options whose token-refresh callback records each refreshed access token.
fn recording() -> (EventOptions, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let cb: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
        s.lock().unwrap().push(t.access_token.expose().to_string());
    });
    let opts = EventOptions {
        on_token_refresh: Some(cb),
        ..EventOptions::default()
    };
    (opts, seen)
}

impl Scenario {
    async fn run(self) {
        eprintln!("scenario: {}", self.name);
        let mounted = serve(&self.routes).await;
        let rt = Arc::new(runtime(&mounted.server.url(), self.scheme));
        let (opts, seen) = recording();
        let out = match self.call {
            Call::Event(name) => rt.on_event(&event(name), &settings(), &opts).await,
            Call::Batch(names) => {
                let events: Vec<Value> = names.iter().map(|n| event(n)).collect();
                rt.on_batch(&events, &settings(), &opts).await
            }
            Call::Concurrent(n) => concurrently(&rt, &opts, n).await,
        };
        let seen = seen.lock().unwrap().clone();
        (self.check)(out, seen);
        mounted.verify().await;
    }
}

/// `n` events sent at once; every event must hit its first answer before any refresh completes,
/// so all attempts start together. Each must succeed; their results, concatenated.
async fn concurrently(
    rt: &Arc<DestinationRuntime<TestDestination>>,
    opts: &EventOptions,
    n: usize,
) -> Result<Vec<ResultEntry>, Error> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (rt, o, barrier) = (rt.clone(), opts.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            rt.on_event(&event(&format!("e{i}")), &settings(), &o).await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap().unwrap());
    }
    Ok(all)
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "a 401 refreshes once and the retry succeeds",
            scheme: AuthScheme::OAuth2,
            routes: vec![
                track(401).bearer("old-token"),
                refresh_grants(),
                track(200).bearer("new-token").json(r#"{"ok":true}"#),
            ],
            call: Call::Event("Signed Up"),
            check: |out, seen| {
                assert_eq!(out.unwrap().last().unwrap().data, Some(json!({"ok": true})));
                assert_eq!(seen, ["new-token"]);
            },
        },
        Scenario {
            name: "a persistent 401 surfaces after the second attempt with one refresh",
            scheme: AuthScheme::OAuth2,
            routes: vec![track(401).times(2), refresh_grants()],
            call: Call::Event("x"),
            check: |out, seen| {
                let err = out.unwrap_err();
                assert_eq!(err.class(), ErrorClass::Http);
                assert_eq!(err.message(), "Unauthorized");
                assert_eq!(err.status(), Some(401));
                assert_eq!(seen.len(), 1);
            },
        },
        Scenario {
            name: "token propagation refreshes, then ends with a retryable 503",
            scheme: AuthScheme::OAuth2,
            routes: vec![track(401).json(NOT_PROPAGATED), refresh_grants()],
            call: Call::Event("x"),
            check: |out, seen| {
                let err = out.unwrap_err();
                assert_eq!(err.class(), ErrorClass::Retryable);
                assert_eq!(err.status(), Some(503));
                assert_eq!(err.code(), Some("RETRYABLE_ERROR"));
                assert!(err.message().contains("65601"), "{}", err.message());
                let outcome = Outcome::of_error(&err);
                assert!(matches!(outcome, Outcome::RefreshThenRetry { .. }));
                assert_eq!(seen, ["new-token"]);
            },
        },
        Scenario {
            name: "a failed refresh surfaces as the refresh error",
            scheme: AuthScheme::OAuth2,
            routes: vec![
                track(401).text(r#"{"serviceErrorCode":65601}"#),
                refresh_refuses(),
            ],
            call: Call::Event("x"),
            check: |out, seen| {
                let err = out.unwrap_err();
                assert_eq!(err.class(), ErrorClass::Integration);
                assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
                assert!(seen.is_empty());
            },
        },
        Scenario {
            name: "fifty concurrent 401s make exactly one refresh",
            scheme: AuthScheme::OAuth2,
            routes: vec![
                track(401).bearer("old-token").times(50),
                refresh_grants(),
                track(200).bearer("new-token").times(50),
            ],
            call: Call::Concurrent(50),
            check: |out, seen| {
                out.unwrap();
                assert_eq!(seen.len(), 1);
            },
        },
        Scenario {
            name: "a multistatus 401 entry refreshes and reruns the batch",
            scheme: AuthScheme::OAuth2,
            routes: vec![
                batch(401).bearer("old-token").text("expired"),
                refresh_grants(),
                batch(200)
                    .bearer("new-token")
                    .body(Matcher::Json(json!({"events": ["a", "b"]}))),
            ],
            call: Call::Batch(&["a", "b"]),
            check: |out, seen| {
                let results = out.unwrap();
                let nodes = results[0].multistatus.as_ref().unwrap();
                assert!(nodes.iter().all(|n| n.status() == 200), "{nodes:?}");
                assert_eq!(seen.len(), 1);
            },
        },
        Scenario {
            name: "a non-OAuth destination never refreshes",
            scheme: AuthScheme::Custom,
            routes: vec![track(401), route("POST /token", 200).times(0)],
            call: Call::Event("x"),
            check: |out, seen| {
                assert_eq!(out.unwrap_err().status(), Some(401));
                assert!(seen.is_empty());
            },
        },
        Scenario {
            name: "token propagation without OAuth is a 503 without refresh",
            scheme: AuthScheme::Custom,
            routes: vec![
                track(401).text(r#"{"serviceErrorCode":65601}"#),
                route("POST /token", 200).times(0),
            ],
            call: Call::Event("x"),
            check: |out, seen| {
                let err = out.unwrap_err();
                let retryable = (ErrorClass::Retryable, Some(503));
                assert_eq!((err.class(), err.status()), retryable);
                assert!(seen.is_empty());
            },
        },
    ]
}

#[tokio::test]
async fn every_scenario_ends_as_the_pipeline_says() {
    for scenario in scenarios() {
        scenario.run().await;
    }
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output_of_settings_errors_or_captures() {
    let mounted = serve(&[track(401).at_least(1), refresh_refuses()]).await;
    let rt = runtime(&mounted.server.url(), AuthScheme::OAuth2);
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
    for secret in [
        "old-token",
        "RT-SECRET-456",
        "CS-SECRET-789",
        "KEY-SECRET-123",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
    assert!(!capture.is_empty());
    mounted.verify().await;
}
