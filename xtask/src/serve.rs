//! `cargo xtask serve`: a local HTTP server for trying destinations (the reference's
//! `./bin/run serve`, without the UI).
//!
//! Routes (every answer is JSON):
//! - `GET /` — the destinations, their actions and these routes;
//! - `GET /manifest` — the manifest of the served destinations (as `cargo xtask manifest`);
//! - `POST /{destination}/{action}` — body `{"event": {…}}` (or `{"events": […]}`, or the
//!   reference's `{"payload": {…} | […]}`) with `"settings"`, `"mapping"` and `"features"`:
//!   runs the action directly (`execute_action` / `execute_batch_action`) with the field defaults
//!   merged under the mapping; answers `{"ok", "results" | "multistatus" | "error", "requests"}`;
//! - `POST /{destination}/authentication` (also `/authenticate`) — body `{"settings"}`: runs
//!   the destination's test authentication;
//! - `POST /{destination}/{action}/hooks/{hook}` — body `{"settings", "inputs", "outputs"}`;
//! - `POST /{destination}/{action}/dynamic/{field}` — body `{"settings", "payload", "inputs"}`
//!   (`inputs`: the hook inputs chosen so far, for a hook input's dynamic field).
//!
//! Runs that reach the destination answer 200 whether or not the destination failed (the error
//! is in the body); a body that is not what the route takes answers 400, an unknown destination or
//! action 404.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use actions_core::context::Features;
use actions_core::request::{Capture, OriginOverrides};
use actions_core::{AnyRuntime, Error, EventOptions, RuntimeConfig};
use actions_testkit::golden::LINKEDIN_ORIGINS;
use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use destination_registry::{DestinationInfo, Registry};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::util::{Failure, error_json, exchange_json, tokio_runtime};

/// The arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Serve only this destination (crate slug or `actions-…` slug).
    #[arg(long)]
    pub destination: Option<String>,
    /// The port (0 picks a free one).
    #[arg(long, default_value_t = 3000, env = "PORT")]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Start the LinkedIn API simulator and send `https://api.linkedin.com` and
    /// `https://www.linkedin.com` requests to it (no network needed; access token
    /// `sim-access-token`).
    #[arg(long)]
    pub simulate: bool,
    /// Send requests for ORIGIN to URL instead (path and query kept). Repeatable.
    #[arg(long, value_name = "ORIGIN=URL")]
    pub redirect: Vec<String>,
}

/// One served destination.
struct Served {
    crate_slug: String,
    info: DestinationInfo,
    runtime: Box<dyn AnyRuntime>,
}

/// What the handlers share.
pub struct ServeState {
    destinations: IndexMap<String, Served>,
    manifest: Value,
}

impl ServeState {
    /// Builds a runtime for every destination of `registry` (or only `only`) with `origins`.
    pub fn new(
        registry: &Registry,
        only: Option<&str>,
        origins: OriginOverrides,
    ) -> Result<ServeState, Failure> {
        let entries = match only {
            Some(slug) => vec![
                *registry
                    .get(slug)
                    .map_err(|e| Failure::new(e.to_string()))?,
            ],
            None => registry.entries().to_vec(),
        };
        let mut destinations = IndexMap::new();
        let mut manifest = Map::new();
        for entry in entries {
            let slug = entry.crate_slug();
            let info = entry.describe().map_err(|e| {
                Failure::new(format!(
                    "{slug}: cannot read the destination: {}",
                    e.message()
                ))
            })?;
            let runtime = entry
                .build(RuntimeConfig {
                    origins: origins.clone(),
                    ..RuntimeConfig::default()
                })
                .map_err(|e| {
                    Failure::new(format!(
                        "{slug}: the runtime cannot be built: {}",
                        e.message()
                    ))
                })?;
            manifest.insert(
                slug.to_string(),
                crate::manifest::destination_json(slug, &info)?,
            );
            destinations.insert(
                slug.to_string(),
                Served {
                    crate_slug: slug.to_string(),
                    info,
                    runtime,
                },
            );
        }
        Ok(ServeState {
            destinations,
            manifest: Value::Object(manifest),
        })
    }

    fn find(&self, slug: &str) -> Option<&Served> {
        self.destinations.get(slug).or_else(|| {
            self.destinations
                .values()
                .find(|d| d.info.definition.slug == slug)
        })
    }
}

/// The router over a state.
pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/manifest", get(manifest))
        .route("/{destination}/authentication", post(authentication))
        .route("/{destination}/authenticate", post(authentication))
        .route("/{destination}/{action}", post(run_action))
        .route("/{destination}/{action}/hooks/{hook}", post(run_hook))
        .route("/{destination}/{action}/dynamic/{field}", post(run_dynamic))
        .fallback(not_found)
        .with_state(state)
}

/// Runs the command until interrupted.
pub fn run(args: &ServeArgs, registry: &Registry) -> Result<ExitCode, Failure> {
    let mut origins = OriginOverrides::new();
    for pair in &args.redirect {
        let (from, to) =
            OriginOverrides::parse_pair(pair).map_err(|e| Failure::new(e.message().to_string()))?;
        origins.add(&from, &to);
    }
    let rt = tokio_runtime()?;
    rt.block_on(async {
        let sim = if args.simulate {
            let sim = LinkedInSim::start(SimConfig::default())
                .await
                .map_err(|e| Failure::new(format!("the LinkedIn simulator did not start: {e}")))?;
            for origin in LINKEDIN_ORIGINS {
                origins.add(origin, &sim.base_url());
            }
            Some(sim)
        } else {
            None
        };
        let state = Arc::new(ServeState::new(
            registry,
            args.destination.as_deref(),
            origins,
        )?);
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
            .await
            .map_err(|e| {
                Failure::new(format!("cannot listen on {}:{}: {e}", args.host, args.port))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("cannot read the listening address: {e}")))?;
        if let Some(sim) = &sim {
            println!(
                "LinkedIn simulator on {} (access token sim-access-token)",
                sim.base_url()
            );
        }
        let names: Vec<&str> = state.destinations.keys().map(String::as_str).collect();
        println!("destinations: {}", names.join(", "));
        println!("listening on http://{addr}");
        let app = router(state.clone());
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Failure::new(format!("the server failed: {e}")))?;
        if let Some(sim) = sim {
            sim.shutdown().await;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A request the server turns down: 400 (the body) or 404 (the destination or action).
#[derive(Debug)]
struct Reject {
    status: StatusCode,
    message: String,
}

impl Reject {
    fn bad_request(message: impl Into<String>) -> Reject {
        Reject {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Reject {
        Reject {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        answer(
            self.status,
            json!({"ok": false, "error": {"message": self.message}}),
        )
    }
}

async fn not_found() -> Reject {
    Reject::not_found("no such route (GET / lists them)")
}

async fn index(State(state): State<Arc<ServeState>>) -> Response {
    let mut destinations = Map::new();
    for d in state.destinations.values() {
        let slug = &d.crate_slug;
        let actions: Vec<Value> = d
            .info
            .actions
            .iter()
            .map(|a| {
                let key = &a.definition.key;
                json!({
                    "key": key,
                    "title": a.definition.title,
                    "route": format!("POST /{slug}/{key}"),
                    "batch": a.supports_batch,
                    "hooks": a.hooks.iter()
                        .map(|h| format!("POST /{slug}/{key}/hooks/{}", h.key))
                        .collect::<Vec<_>>(),
                    "dynamicFields": a.dynamic_fields.iter()
                        .map(|f| format!("POST /{slug}/{key}/dynamic/{f}"))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        destinations.insert(
            slug.clone(),
            json!({
                "name": d.info.definition.name,
                "slug": d.info.definition.slug,
                "authentication": format!("POST /{slug}/authentication"),
                "actions": actions,
            }),
        );
    }
    answer(
        StatusCode::OK,
        json!({
            "destinations": destinations,
            "routes": [
                "GET /",
                "GET /manifest",
                "POST /{destination}/authentication  {settings}",
                "POST /{destination}/{action}  {event | events | payload, settings, mapping, features}",
                "POST /{destination}/{action}/hooks/{hook}  {settings, inputs, outputs}",
                "POST /{destination}/{action}/dynamic/{field}  {settings, payload, inputs}",
            ],
        }),
    )
}

async fn manifest(State(state): State<Arc<ServeState>>) -> Response {
    answer(StatusCode::OK, state.manifest.clone())
}

/// A request body: a JSON object (an empty body is `{}`).
fn parse_body(body: &Bytes) -> Result<Map<String, Value>, Reject> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reject::bad_request("the body must be a JSON object")),
        Err(e) => Err(Reject::bad_request(format!("the body is not JSON: {e}"))),
    }
}

/// A member that must be an object when present (`{}` when absent).
fn object_member(body: &Map<String, Value>, key: &str) -> Result<Value, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(Reject::bad_request(format!(
            "{key:?} must be a JSON object"
        ))),
    }
}

struct Call {
    capture: Capture,
    opts: EventOptions,
}

impl Call {
    fn new(body: &Map<String, Value>) -> Call {
        let capture = Capture::new();
        let opts = EventOptions {
            features: Features::from_json(body.get("features").unwrap_or(&Value::Null)),
            on_token_refresh: None,
            capture: Some(capture.clone()),
            state: None,
        };
        Call { capture, opts }
    }

    /// `{"ok": true, <key>: value, "requests"}` or `{"ok": false, "error", "requests"}`.
    fn finish(self, key: &str, result: Result<Value, Error>) -> Response {
        let mut out = Map::new();
        match result {
            Ok(v) => {
                out.insert("ok".into(), json!(true));
                out.insert(key.into(), v);
            }
            Err(e) => {
                out.insert("ok".into(), json!(false));
                out.insert("error".into(), error_json(&e));
            }
        }
        out.insert(
            "requests".into(),
            Value::Array(self.capture.take().iter().map(exchange_json).collect()),
        );
        answer(StatusCode::OK, Value::Object(out))
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::plain(format!("cannot serialise the result: {e}")))
}

fn lookup<'a>(state: &'a ServeState, slug: &str) -> Result<&'a Served, Reject> {
    state.find(slug).ok_or_else(|| {
        let known: Vec<&str> = state.destinations.keys().map(String::as_str).collect();
        Reject::not_found(format!(
            "unknown destination {slug:?} (served: {})",
            known.join(", ")
        ))
    })
}

async fn authentication(
    State(state): State<Arc<ServeState>>,
    Path(destination): Path<String>,
    body: Bytes,
) -> Result<Response, Reject> {
    let served = lookup(&state, &destination)?;
    let body = parse_body(&body)?;
    let settings = object_member(&body, "settings")?;
    let call = Call::new(&body);
    let result = served
        .runtime
        .test_authentication(&settings, &call.opts)
        .await
        .map(|()| json!(true));
    Ok(call.finish("authenticated", result))
}

async fn run_action(
    State(state): State<Arc<ServeState>>,
    Path((destination, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Reject> {
    let served = lookup(&state, &destination)?;
    let info = served.info.action(&action).ok_or_else(|| {
        Reject::not_found(format!("{} has no action {action:?}", served.crate_slug))
    })?;
    let body = parse_body(&body)?;
    let settings = object_member(&body, "settings")?;
    let mut mapping = info.default_mapping();
    if let (Value::Object(merged), Value::Object(given)) =
        (&mut mapping, object_member(&body, "mapping")?)
    {
        merged.extend(given);
    }
    let input = body
        .get("events")
        .or_else(|| body.get("event"))
        .or_else(|| body.get("payload"));
    let call = Call::new(&body);
    match input {
        Some(Value::Array(events)) => {
            let r = served
                .runtime
                .execute_batch_action(&action, events, &mapping, &settings, &call.opts)
                .await
                .and_then(|nodes| to_json(&nodes));
            Ok(call.finish("multistatus", r))
        }
        Some(event @ Value::Object(_)) => {
            let r = served
                .runtime
                .execute_action(&action, event, &mapping, &settings, &call.opts)
                .await
                .and_then(|results| to_json(&results));
            Ok(call.finish("results", r))
        }
        _ => Err(Reject::bad_request(
            "the body needs \"event\" (an object), \"events\" (an array) or \"payload\"",
        )),
    }
}

async fn run_hook(
    State(state): State<Arc<ServeState>>,
    Path((destination, action, hook)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Reject> {
    let served = lookup(&state, &destination)?;
    let body = parse_body(&body)?;
    let settings = object_member(&body, "settings")?;
    let inputs = object_member(&body, "inputs")?;
    let outputs = body.get("outputs").filter(|v| v.is_object());
    let call = Call::new(&body);
    let r = served
        .runtime
        .execute_hook(&action, &hook, &settings, &inputs, outputs, &call.opts)
        .await
        .and_then(|h| to_json(&h));
    Ok(call.finish("result", r))
}

async fn run_dynamic(
    State(state): State<Arc<ServeState>>,
    Path((destination, action, field)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Reject> {
    let served = lookup(&state, &destination)?;
    let body = parse_body(&body)?;
    let settings = object_member(&body, "settings")?;
    let payload = object_member(&body, "payload")?;
    let inputs = object_member(&body, "inputs")?;
    let call = Call::new(&body);
    let r = served
        .runtime
        .execute_hook_dynamic_field(&action, &field, &settings, &payload, &inputs, &call.opts)
        .await
        .and_then(|d| to_json(&d));
    Ok(call.finish("result", r))
}
