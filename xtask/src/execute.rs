//! `cargo xtask execute`: runs events through one action of a registered destination and prints
//! one JSON line; or (`--case`) runs a LinkedIn golden case as `conformance/CLI.md` specifies.
//!
//! The event form goes through the full runtime (`on_event` / `on_batch`): the settings file's
//! settings plus a subscription `{partnerAction: <action>, subscribe: <the action's default
//! subscription or --subscribe>, mapping: <--mapping over the fields' default mappings>}`, so it
//! behaves exactly as in production (subscription match, mapping, validation, the OAuth
//! refresh-and-retry pipeline). An event the subscription does not match gives the runtime's
//! `not subscribed` result.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use actions_core::context::Features;
use actions_core::oauth::RefreshedTokens;
use actions_core::request::{Capture, OriginOverrides};
use actions_core::runtime::TokenRefreshCallback;
use actions_core::{EventOptions, RuntimeConfig};
use actions_testkit::golden::{GoldenCase, RuntimeFactory, run_case_with};
use destination_registry::Registry;
use serde_json::{Map, Value, json};

use crate::util::{Failure, error_json, exchange_json, read_json, read_json_object, tokio_runtime};

/// The arguments of `execute`.
#[derive(clap::Args, Debug)]
pub struct ExecuteArgs {
    /// A LinkedIn golden case (`conformance/linkedin/NNN.json`); prints the answer
    /// `conformance/CLI.md` specifies.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["destination", "action", "settings", "mapping", "event", "events", "subscribe"])]
    pub case: Option<PathBuf>,
    /// The destination (crate slug or `actions-…` slug).
    #[arg(long, required_unless_present = "case", requires_all = ["action", "settings"])]
    pub destination: Option<String>,
    /// The action key.
    #[arg(long, requires = "destination")]
    pub action: Option<String>,
    /// A JSON file with the destination settings (OAuth tokens under `oauth`).
    #[arg(long, value_name = "FILE", requires = "destination")]
    pub settings: Option<PathBuf>,
    /// A JSON file with the mapping; the fields' default mappings fill what it leaves out.
    #[arg(long, value_name = "FILE", requires = "destination")]
    pub mapping: Option<PathBuf>,
    /// Use `--mapping` as it is, without the default mappings under it.
    #[arg(long, requires = "mapping")]
    pub no_defaults: bool,
    /// A JSON file with one event.
    #[arg(long, value_name = "FILE", conflicts_with = "events", required_unless_present_any = ["case", "events"])]
    pub event: Option<PathBuf>,
    /// A JSON file with an array of events (runs the action's batch).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// The subscription (FQL) to use instead of the action's default subscription.
    #[arg(long, value_name = "FQL", requires = "destination")]
    pub subscribe: Option<String>,
    /// Send requests for ORIGIN to URL instead (path and query kept), e.g.
    /// `https://api.linkedin.com=http://127.0.0.1:9001`. Repeatable.
    #[arg(long, value_name = "ORIGIN=URL")]
    pub redirect: Vec<String>,
}

/// Runs the command.
pub fn run(args: &ExecuteArgs, registry: &Registry) -> Result<ExitCode, Failure> {
    let mut origins = OriginOverrides::new();
    for pair in &args.redirect {
        let (from, to) =
            OriginOverrides::parse_pair(pair).map_err(|e| Failure::new(e.message().to_string()))?;
        origins.add(&from, &to);
    }
    let rt = tokio_runtime()?;
    let answer = match &args.case {
        Some(path) => rt.block_on(run_case(path, registry, origins))?,
        None => {
            let input = Input::load(args, registry)?;
            rt.block_on(input.run(registry, origins))?
        }
    };
    println!("{answer}");
    Ok(ExitCode::SUCCESS)
}

async fn run_case(
    path: &std::path::Path,
    registry: &Registry,
    origins: OriginOverrides,
) -> Result<Value, Failure> {
    let case = GoldenCase::load(path).map_err(Failure::new)?;
    let entry = *registry
        .get(case.destination())
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    let make: RuntimeFactory<'_> = Box::new(move |config| entry.build(config));
    Ok(run_case_with(make, &case, origins).await)
}

/// What the event form runs.
struct Input {
    destination: String,
    action: String,
    settings: Value,
    mapping: Value,
    subscribe: String,
    work: Work,
}

enum Work {
    Event(Value),
    Batch(Vec<Value>),
}

impl Input {
    fn load(args: &ExecuteArgs, registry: &Registry) -> Result<Input, Failure> {
        let (Some(destination), Some(action), Some(settings)) =
            (&args.destination, &args.action, &args.settings)
        else {
            return Err(Failure::new(
                "pass --case FILE, or --destination, --action, --settings and --event/--events",
            ));
        };
        let entry = registry
            .get(destination)
            .map_err(|e| Failure::new(e.to_string()))?;
        let info = entry.describe().map_err(|e| {
            Failure::new(format!(
                "{destination}: cannot read the destination: {}",
                e.message()
            ))
        })?;
        let Some(action_info) = info.action(action) else {
            let known: Vec<&str> = info
                .actions
                .iter()
                .map(|a| a.definition.key.as_str())
                .collect();
            return Err(Failure::new(format!(
                "{destination} has no action {action:?} (actions: {})",
                known.join(", ")
            )));
        };
        let settings = read_json_object(settings, "the destination settings")?;
        let mut mapping = action_info.default_mapping();
        if let Some(path) = &args.mapping {
            let given = read_json_object(path, "the mapping")?;
            match (&mut mapping, given) {
                (Value::Object(merged), Value::Object(given)) if !args.no_defaults => {
                    merged.extend(given);
                }
                (_, given) => mapping = given,
            }
        }
        let subscribe = match (
            &args.subscribe,
            &action_info.definition.default_subscription,
        ) {
            (Some(fql), _) | (None, Some(fql)) => fql.clone(),
            (None, None) => {
                return Err(Failure::new(format!(
                    "{destination}/{action} has no default subscription: pass --subscribe FQL"
                )));
            }
        };
        let work = match (&args.event, &args.events) {
            (Some(path), _) => Work::Event(read_json_object(path, "one event")?),
            (None, Some(path)) => match read_json(path)? {
                Value::Array(events) => Work::Batch(events),
                _ => {
                    return Err(Failure::new(format!(
                        "{} must hold a JSON array of events",
                        path.display()
                    )));
                }
            },
            (None, None) => return Err(Failure::new("pass --event FILE or --events FILE")),
        };
        Ok(Input {
            destination: entry.crate_slug().to_string(),
            action: action.clone(),
            settings,
            mapping,
            subscribe,
            work,
        })
    }

    async fn run(self, registry: &Registry, origins: OriginOverrides) -> Result<Value, Failure> {
        let entry = registry
            .get(&self.destination)
            .map_err(|e| Failure::new(e.to_string()))?;
        let runtime = entry
            .build(RuntimeConfig {
                origins,
                ..RuntimeConfig::default()
            })
            .map_err(|e| {
                Failure::new(format!(
                    "{}: the runtime cannot be built: {}",
                    self.destination,
                    e.message()
                ))
            })?;
        let mut settings = self.settings;
        if let Value::Object(s) = &mut settings {
            s.insert(
                "subscription".into(),
                json!({
                    "partnerAction": self.action,
                    "subscribe": self.subscribe,
                    "mapping": self.mapping,
                }),
            );
        }
        let capture = Capture::new();
        let refreshes = Arc::new(Mutex::new(0usize));
        let counter = refreshes.clone();
        let on_refresh: TokenRefreshCallback = Arc::new(move |_: &RefreshedTokens| {
            if let Ok(mut n) = counter.lock() {
                *n += 1;
            }
        });
        let opts = EventOptions {
            features: Features::new(),
            on_token_refresh: Some(on_refresh),
            capture: Some(capture.clone()),
            state: None,
        };
        let (result, batch) = match &self.work {
            Work::Event(event) => (runtime.on_event(event, &settings, &opts).await, false),
            Work::Batch(events) => (runtime.on_batch(events, &settings, &opts).await, true),
        };
        let mut out = Map::new();
        match result {
            Ok(results) => {
                out.insert("ok".into(), json!(true));
                if batch {
                    let nodes: Vec<Value> = results
                        .iter()
                        .filter_map(|r| r.multistatus.as_ref())
                        .flatten()
                        .map(|n| serde_json::to_value(n).unwrap_or(Value::Null))
                        .collect();
                    out.insert("multistatus".into(), Value::Array(nodes));
                }
                out.insert(
                    "results".into(),
                    serde_json::to_value(&results).unwrap_or(Value::Null),
                );
            }
            Err(e) => {
                out.insert("ok".into(), json!(false));
                out.insert("error".into(), error_json(&e));
            }
        }
        out.insert(
            "requests".into(),
            Value::Array(capture.take().iter().map(exchange_json).collect()),
        );
        out.insert(
            "tokenRefreshes".into(),
            json!(refreshes.lock().map(|n| *n).unwrap_or(0)),
        );
        Ok(Value::Object(out))
    }
}
