//! Secret-leak checks: run a destination with recognisable secret values and fail if any of
//! them shows up where people read things — logs, errors, result logs, printed exchanges.
//!
//! The secrets are planted in every settings field of type `password` and in the `oauth`
//! tokens and client secret (`access_token`, `refresh_token`, `clientSecret`). They may — must
//! — travel on the wire (a header, a form field of a token refresh); what is inspected is
//! every *debug surface* of a run:
//!
//! * everything logged through `tracing` during the run (a recording subscriber is installed
//!   for the run's future: events and span fields, every level);
//! * the error, if any, in its `Display` and its `Debug` form;
//! * the result log (`Debug` and JSON of the result entries or multistatus);
//! * the `Debug` output of the captured exchanges (so a secret in a URL query or a header the
//!   framework does not know as sensitive is a leak);
//! * the `Debug` output of what the call returned (refreshed tokens, hook results, …).
//!
//! A secret counts as leaked when it appears as is or base64-encoded (any alignment, standard
//! or URL-safe alphabet — e.g. inside a logged `Basic` authorization header).
//!
//! Each operation runs once per *response scenario* (by default every request is answered
//! 200 `{}`, then 400, 401, 429 and 500 with a JSON error body) so that error paths are
//! exercised too.
//!
//! ```no_run
//! # async fn demo<D: actions_core::Destination>(destination: D) {
//! use actions_testkit::{TestOptions, assert_no_secret_leak};
//! use serde_json::json;
//!
//! assert_no_secret_leak(
//!     destination,
//!     &["https://api.example.com"],
//!     "track",
//!     TestOptions::event(json!({"event": "Signed Up"})).default_mappings(),
//! )
//! .await;
//! # }
//! ```

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actions_core::fields::{FieldType, Fields};
use actions_core::{Destination, Error};
use base64::Engine as _;
use mockito::Matcher;
use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::instrument::WithSubscriber as _;
use tracing::span;

use crate::harness::{TestIntegration, TestOptions};
use crate::snapshot::generate_settings;

/// The methods the scenario mocks answer.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
/// The log buffer of one run keeps at most this many bytes.
const MAX_LOG: usize = 4 << 20;
/// Settings nest at most this deep.
const MAX_DEPTH: usize = 32;
/// Characters shown around a leaked secret.
const CONTEXT: usize = 48;

/// One planted secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlantedSecret {
    /// Where it was planted: `settings.<field path>` or `oauth.<member>`.
    pub source: String,
    /// The value.
    pub value: String,
}

/// Where a leaked secret was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Surface {
    /// A `tracing` event or span field.
    Log,
    /// The error's `Display` form.
    ErrorDisplay,
    /// The error's `Debug` form.
    ErrorDebug,
    /// The result log or multistatus (`Debug` or JSON).
    ResultLog,
    /// The `Debug` output of the captured exchanges.
    ExchangeDebug,
    /// The `Debug` output of what the call returned.
    ReturnValue,
}

impl Surface {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Log => "log",
            Surface::ErrorDisplay => "error (Display)",
            Surface::ErrorDebug => "error (Debug)",
            Surface::ResultLog => "result log",
            Surface::ExchangeDebug => "exchange (Debug)",
            Surface::ReturnValue => "returned value (Debug)",
        }
    }
}

/// One leak: which secret, where, in which run, and the text around it (the secret itself
/// replaced by `«source»`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// The secret's source (`settings.api_key`, `oauth.access_token`, …).
    pub secret: String,
    /// Where it was seen.
    pub surface: Surface,
    /// `as is` or `base64`.
    pub encoding: &'static str,
    /// The run (`test_action track, responses 401`).
    pub run: String,
    /// The text around the secret.
    pub excerpt: String,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) in the {} of `{}`: …{}…",
            self.secret,
            self.encoding,
            self.surface.name(),
            self.run,
            self.excerpt
        )
    }
}

/// An answer every request gets during one pass of the checks.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseScenario {
    /// The status (100..=599).
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl ResponseScenario {
    /// The default passes: 200 `{}`, then 400, 401, 429 and 500 with JSON error bodies.
    pub fn defaults() -> Vec<ResponseScenario> {
        [
            (200, json!({})),
            (400, json!({"message": "Bad Request", "code": "INVALID"})),
            (
                401,
                json!({"message": "Unauthorized", "code": "EXPIRED_TOKEN"}),
            ),
            (429, json!({"message": "Too Many Requests"})),
            (500, json!({"message": "Internal Server Error"})),
        ]
        .into_iter()
        .map(|(status, body)| ResponseScenario { status, body })
        .collect()
    }
}

/// An operation to check.
#[derive(Clone, Debug)]
enum Operation {
    Action(String, TestOptions),
    Batch(String, TestOptions),
    TestAuthentication,
    RefreshAccessToken,
}

impl Operation {
    fn label(&self) -> String {
        match self {
            Operation::Action(a, _) => format!("test_action {a}"),
            Operation::Batch(a, _) => format!("test_batch_action {a}"),
            Operation::TestAuthentication => "test_authentication".to_string(),
            Operation::RefreshAccessToken => "refresh_access_token".to_string(),
        }
    }
}

/// Runs a destination with planted secrets and collects the [`Leak`]s.
///
/// ```no_run
/// # async fn demo<D: actions_core::Destination>(destination: D) {
/// use actions_testkit::TestOptions;
/// use actions_testkit::leak::SecretLeakCheck;
/// use serde_json::json;
///
/// let mut check = SecretLeakCheck::new(destination, &["https://api.example.com"], json!({"region": "eu"}))
///     .await
///     .unwrap();
/// check.check_action("track", TestOptions::event(json!({"event": "x"})).default_mappings()).await;
/// check.check_test_authentication().await;
/// assert!(check.leaks().is_empty(), "{}", check.report());
/// # }
/// ```
pub struct SecretLeakCheck<D: Destination> {
    harness: TestIntegration<D>,
    secrets: Vec<PlantedSecret>,
    patterns: Vec<Vec<(&'static str, String)>>,
    settings: Value,
    scenarios: Vec<ResponseScenario>,
    scenario_mocks: Vec<mockito::Mock>,
    leaks: Vec<Leak>,
    runs: Vec<String>,
}

impl<D: Destination> SecretLeakCheck<D> {
    /// A check whose `origins` lead to the harness's mock server. The settings are generated
    /// values for every settings field, overridden by `base_settings`, with every `password`
    /// field and the `oauth` tokens replaced by planted secrets.
    ///
    /// # Errors
    /// The destination's runtime cannot be built or its settings fields nest too deeply.
    pub async fn new(
        destination: D,
        origins: &[&str],
        base_settings: Value,
    ) -> Result<Self, Error> {
        let harness = TestIntegration::new(destination, origins)
            .await?
            .strict(false);
        let runtime = harness.runtime();
        let seed = format!("{}#leak-check", runtime.definition().slug);
        let mut settings = match generate_settings(&seed, runtime.settings_fields())? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Value::Object(given) = base_settings {
            settings.extend(given);
        }
        let mut secrets = Vec::new();
        plant_passwords(
            runtime.settings_fields(),
            &mut settings,
            "settings",
            0,
            &mut secrets,
        )?;
        let mut oauth = match settings.remove("oauth") {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        for member in ["access_token", "refresh_token", "clientSecret"] {
            let source = format!("oauth.{member}");
            let value = secret_value(&source, None, None);
            oauth.insert(member.to_string(), Value::String(value.clone()));
            secrets.push(PlantedSecret { source, value });
        }
        oauth
            .entry("clientId")
            .or_insert_with(|| Value::String("leak-check-client".to_string()));
        settings.insert("oauth".to_string(), Value::Object(oauth));
        let patterns = secrets.iter().map(|s| patterns_of(&s.value)).collect();
        Ok(SecretLeakCheck {
            harness,
            secrets,
            patterns,
            settings: Value::Object(settings),
            scenarios: ResponseScenario::defaults(),
            scenario_mocks: Vec::new(),
            leaks: Vec::new(),
            runs: Vec::new(),
        })
    }

    /// Replaces the response scenarios. With none, each operation runs once against the mocks
    /// declared on [`SecretLeakCheck::harness`] (unexpected requests get status 599).
    ///
    /// # Errors
    /// A status outside 100..=599.
    pub fn responses(mut self, scenarios: Vec<ResponseScenario>) -> Result<Self, Error> {
        if let Some(bad) = scenarios.iter().find(|s| !(100..=599).contains(&s.status)) {
            return Err(Error::plain(format!(
                "response scenario status {} is outside 100..=599",
                bad.status
            )));
        }
        self.scenarios = scenarios;
        Ok(self)
    }

    /// The harness (to declare mocks when the response scenarios are off).
    pub fn harness(&mut self) -> &mut TestIntegration<D> {
        &mut self.harness
    }

    /// The planted secrets.
    pub fn secrets(&self) -> &[PlantedSecret] {
        &self.secrets
    }

    /// The settings every operation runs with (planted secrets included).
    pub fn settings(&self) -> &Value {
        &self.settings
    }

    /// Every leak found so far.
    pub fn leaks(&self) -> &[Leak] {
        &self.leaks
    }

    /// The runs made so far (`test_action track, responses 200`, …).
    pub fn runs(&self) -> &[String] {
        &self.runs
    }

    /// Whether the destination's action `action` supports batches.
    pub fn supports_batch(&self, action: &str) -> bool {
        self.harness
            .runtime()
            .destination()
            .actions()
            .iter()
            .any(|a| a.definition().key == action && a.supports_batch())
    }

    /// Runs `action` on one event (`opts`; its settings and auth are replaced by the planted
    /// ones) under every response scenario.
    pub async fn check_action(&mut self, action: &str, opts: TestOptions) {
        self.check(Operation::Action(action.to_string(), opts))
            .await;
    }

    /// Runs `action` on a batch (`opts.events`, or `opts.event` twice).
    pub async fn check_batch_action(&mut self, action: &str, mut opts: TestOptions) {
        if opts.events.is_empty() {
            let e = opts.event.clone().unwrap_or_else(|| json!({}));
            opts.events = vec![e.clone(), e];
        }
        self.check(Operation::Batch(action.to_string(), opts)).await;
    }

    /// Runs "test connection".
    pub async fn check_test_authentication(&mut self) {
        self.check(Operation::TestAuthentication).await;
    }

    /// Runs a token refresh.
    pub async fn check_refresh_access_token(&mut self) {
        self.check(Operation::RefreshAccessToken).await;
    }

    async fn check(&mut self, op: Operation) {
        let scenarios: Vec<Option<ResponseScenario>> = if self.scenarios.is_empty() {
            vec![None]
        } else {
            self.scenarios.iter().cloned().map(Some).collect()
        };
        for scenario in scenarios {
            let run = match &scenario {
                Some(s) => format!("{}, responses {}", op.label(), s.status),
                None => op.label(),
            };
            if let Some(s) = &scenario {
                self.answer_with(s).await;
            }
            let recorder = Recorder::default();
            let log = recorder.buffer.clone();
            let mut seen = self.perform(&op).with_subscriber(recorder).await;
            let logged = log.lock().map(|l| l.clone()).unwrap_or_default();
            seen.push((Surface::Log, logged));
            self.scan(&run, &seen);
            self.runs.push(run);
        }
    }

    async fn answer_with(&mut self, scenario: &ResponseScenario) {
        for m in self.scenario_mocks.drain(..) {
            m.remove_async().await;
        }
        let body = scenario.body.to_string();
        for method in METHODS {
            let m = self
                .harness
                .server()
                .mock(method, Matcher::Any)
                .with_status(usize::from(scenario.status))
                .with_header("content-type", "application/json")
                .with_body(&body)
                .expect_at_least(0)
                .create_async()
                .await;
            self.scenario_mocks.push(m);
        }
    }

    /// Runs an operation; returns the text of each surface.
    async fn perform(&mut self, op: &Operation) -> Vec<(Surface, String)> {
        let mut seen = Vec::new();
        let settings = self.settings.clone();
        let h = &mut self.harness;
        match op {
            Operation::Action(action, opts) | Operation::Batch(action, opts) => {
                let mut opts = opts.clone();
                opts.settings = Some(settings);
                opts.auth = None;
                let batch = matches!(op, Operation::Batch(..));
                let r = if batch {
                    h.test_batch_action(action, opts).await
                } else {
                    h.test_action(action, opts).await
                };
                push_result(&mut seen, &r);
                let results = if batch {
                    format!(
                        "{:?}\n{}",
                        h.multistatus(),
                        serde_json::to_string(h.multistatus()).unwrap_or_default()
                    )
                } else {
                    format!(
                        "{:?}\n{}",
                        h.results(),
                        serde_json::to_string(h.results()).unwrap_or_default()
                    )
                };
                seen.push((Surface::ResultLog, results));
            }
            Operation::TestAuthentication => {
                let r = h.test_authentication(&settings).await;
                push_result(&mut seen, &r);
            }
            Operation::RefreshAccessToken => {
                let r = h.refresh_access_token(&settings).await;
                push_result(&mut seen, &r);
                seen.push((Surface::ReturnValue, format!("{:?}", h.token_refreshes())));
            }
        }
        seen.push((Surface::ExchangeDebug, format!("{:?}", h.last_exchanges())));
        seen.push((Surface::ExchangeDebug, h.unmatched_requests().join("\n")));
        seen
    }

    fn scan(&mut self, run: &str, seen: &[(Surface, String)]) {
        for (surface, text) in seen {
            for (secret, patterns) in self.secrets.iter().zip(&self.patterns) {
                if let Some((encoding, at, len)) = find_any(text, patterns) {
                    self.leaks.push(Leak {
                        secret: secret.source.clone(),
                        surface: *surface,
                        encoding,
                        run: run.to_string(),
                        excerpt: excerpt(text, at, len, &secret.source),
                    });
                }
            }
        }
    }

    /// A readable report of the leaks (empty when there are none).
    pub fn report(&self) -> String {
        if self.leaks.is_empty() {
            return String::new();
        }
        let mut s = format!("{} secret leak(s):\n", self.leaks.len());
        for l in &self.leaks {
            let _ = writeln!(s, "  {l}");
        }
        let planted: Vec<&str> = self.secrets.iter().map(|p| p.source.as_str()).collect();
        let _ = writeln!(s, "planted secrets: {}", planted.join(", "));
        let _ = writeln!(s, "runs: {}", self.runs.join("; "));
        s
    }

    /// Fails (panics, like an assertion) with [`SecretLeakCheck::report`] when a secret leaked.
    pub fn assert_clean(&self) {
        assert!(self.leaks.is_empty(), "{}", self.report());
    }
}

fn push_result<T: fmt::Debug>(seen: &mut Vec<(Surface, String)>, r: &Result<T, Error>) {
    match r {
        Ok(v) => seen.push((Surface::ReturnValue, format!("{v:?}"))),
        Err(e) => {
            seen.push((Surface::ErrorDisplay, e.to_string()));
            seen.push((Surface::ErrorDebug, format!("{e:?}")));
        }
    }
}

/// Runs `action` with planted secrets — on one event, on a batch when the action supports
/// batches, plus "test connection" and (OAuth destinations) a token refresh, each under the
/// default response scenarios — and fails (panics, like an assertion) with a report naming
/// every leak. `opts.settings` are the base settings (the non-secret values the destination
/// needs); the secrets replace its `password` fields and `oauth` tokens.
///
/// # Panics
/// When a secret leaked, or the destination's runtime cannot be built.
pub async fn assert_no_secret_leak<D: Destination>(
    destination: D,
    origins: &[&str],
    action: &str,
    opts: TestOptions,
) {
    let base = opts.settings.clone().unwrap_or_else(|| json!({}));
    let mut check = match SecretLeakCheck::new(destination, origins, base).await {
        Ok(c) => c,
        Err(e) => panic!("the leak check could not start: {e}"),
    };
    check.check_action(action, opts.clone()).await;
    if check.supports_batch(action) {
        check.check_batch_action(action, opts).await;
    }
    check.check_test_authentication().await;
    if check.harness.runtime().definition().scheme.is_oauth() {
        check.check_refresh_access_token().await;
    }
    check.assert_clean();
}

/// A recognisable secret for `source`, within the field's length bounds when given.
fn secret_value(source: &str, min: Option<usize>, max: Option<usize>) -> String {
    let tag: String = source
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut h: u32 = 0x811c_9dc5;
    for b in source.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut v = format!("S3CRET_{tag}_{h:08x}");
    if let Some(min) = min {
        while v.len() < min {
            v.push('x');
        }
    }
    if let Some(max) = max {
        v.truncate(max.max(1));
    }
    v
}

/// Replaces every `password` field (at any depth) of `settings` by a planted secret.
fn plant_passwords(
    fields: &Fields,
    settings: &mut Map<String, Value>,
    base: &str,
    depth: usize,
    out: &mut Vec<PlantedSecret>,
) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::plain(format!(
            "the settings fields nest deeper than {MAX_DEPTH} levels at {base}"
        )));
    }
    for (key, field) in fields {
        let source = format!("{base}.{key}");
        if field.field_type == FieldType::Password {
            let len = |n: Option<&serde_json::Number>| {
                n.and_then(serde_json::Number::as_f64)
                    .filter(|x| *x > 0.0 && x.is_finite())
                    .map(|x| x as usize)
            };
            let value = secret_value(
                &source,
                len(field.minimum.as_ref()),
                len(field.maximum.as_ref()),
            );
            let v = Value::String(value.clone());
            settings.insert(
                key.clone(),
                if field.multiple == Some(true) {
                    Value::Array(vec![v])
                } else {
                    v
                },
            );
            out.push(PlantedSecret { source, value });
        } else if let Some(props) = &field.properties
            && let Some(Value::Object(sub)) = settings.get_mut(key)
        {
            plant_passwords(props, sub, &source, depth + 1, out)?;
        }
    }
    Ok(())
}

/// The forms a secret is searched in: as is, and the base64 characters that encode it at each
/// of the three byte alignments (standard and URL-safe alphabets).
fn patterns_of(secret: &str) -> Vec<(&'static str, String)> {
    let mut out = vec![("as is", secret.to_string())];
    let n = secret.len();
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ] {
        for k in 0..3 {
            let mut bytes = vec![0u8; k];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = (8 * k).div_ceil(6);
            let end = (8 * (k + n)) / 6;
            if let Some(fragment) = encoded.get(start..end)
                && fragment.len() >= 8
                && !out.iter().any(|(_, p)| p == fragment)
            {
                out.push(("base64", fragment.to_string()));
            }
        }
    }
    out
}

/// The first pattern found in `text`: (encoding, byte offset, length).
fn find_any(
    text: &str,
    patterns: &[(&'static str, String)],
) -> Option<(&'static str, usize, usize)> {
    patterns
        .iter()
        .find_map(|(enc, p)| text.find(p.as_str()).map(|at| (*enc, at, p.len())))
}

fn excerpt(text: &str, at: usize, len: usize, source: &str) -> String {
    let floor = |mut i: usize| {
        while i > 0 && !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(at.saturating_sub(CONTEXT));
    let end = floor((at + len + CONTEXT).min(text.len()));
    let before = text.get(start..at).unwrap_or("");
    let after = text.get((at + len).min(end)..end).unwrap_or("");
    format!("{before}«{source}»{after}").replace('\n', "⏎")
}

/// A `tracing` subscriber that writes every event and span field into a buffer.
#[derive(Clone, Default)]
struct Recorder {
    buffer: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

impl Recorder {
    fn push(&self, line: &str) {
        if let Ok(mut b) = self.buffer.lock()
            && b.len() + line.len() < MAX_LOG
        {
            b.push_str(line);
            b.push('\n');
        }
    }
}

struct LineVisitor<'a>(&'a mut String);

impl Visit for LineVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, attrs: &span::Attributes<'_>) -> span::Id {
        let mut line = format!("span {}:", attrs.metadata().name());
        attrs.record(&mut LineVisitor(&mut line));
        self.push(&line);
        span::Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _span: &span::Id, values: &span::Record<'_>) {
        let mut line = String::from("span record:");
        values.record(&mut LineVisitor(&mut line));
        self.push(&line);
    }

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let m = event.metadata();
        let mut line = format!("{} {}:", m.level(), m.target());
        event.record(&mut LineVisitor(&mut line));
        self.push(&line);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_fragments_are_found_at_any_alignment() {
        let secret = "S3CRET_settings_api_key_0123abcd";
        let patterns = patterns_of(secret);
        for prefix in ["", "u", "us", "user:", "Basic x"] {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{secret}!"));
            assert_eq!(
                find_any(&format!("authorization: Basic {encoded}"), &patterns).map(|f| f.0),
                Some("base64"),
                "{prefix:?}"
            );
        }
        assert_eq!(find_any("nothing here", &patterns), None);
    }

    #[test]
    fn secrets_respect_length_bounds_and_excerpts_hide_them() {
        let s = secret_value("settings.key", Some(60), None);
        assert_eq!(s.len(), 60);
        assert!(s.starts_with("S3CRET_settings_key_"));
        assert_eq!(secret_value("settings.key", None, Some(10)).len(), 10);
        let text = format!("before {s} after");
        assert_eq!(
            excerpt(&text, 7, s.len(), "settings.key"),
            "before «settings.key» after"
        );
    }
}
