//! The fuzz targets' bodies, one function per target (`fuzz_targets/*.rs` call them).
//!
//! Each takes arbitrary bytes. Where the seed corpus is a conformance case (a JSON object), the
//! function reads the case's members (`mapping` + `payload`, `fql` + `event`, `fields` +
//! `payload`, `settings`, `input`); any other input is used whole. Besides "no panic", the
//! functions assert the invariants a caller relies on (a refusal has a status and a reason, an
//! accepted event is JSON within `max_event`, printed FQL parses again, …): a failed assertion
//! is a crash for libFuzzer like any other.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use actions_core::fields::{CompiledSchema, Fields, fields_to_json_schema, remove_empty_values};
use actions_core::mapping::{Mapping, transform, transform_batch};
use actions_core::oauth::AuthTokens;
use actions_core::request::Response;
use actions_core::retry::{RateLimitHeaders, wait_hint};
use actions_core::subscriptions::{Ast, Subscription, generate_fql, validate};
use actions_core::{Destination, DestinationRuntime};
use serde_json::{Value, json};

/// A typical event, the payload when an input brings none.
fn sample_event() -> Value {
    json!({
        "type": "track", "event": "Order Completed", "userId": "u1", "anonymousId": "a1",
        "messageId": "m1", "timestamp": "2026-01-01T00:00:00.000Z",
        "properties": {"revenue": 9.5, "currency": "USD", "items": [{"sku": "a"}, {"sku": "b"}]},
        "context": {"traits": {"email": "a@example.com"}, "ip": "10.0.0.1"},
        "traits": {"email": "a@example.com", "name": "Ann"}
    })
}

/// The input as JSON, or `None` when it is not.
fn json_of(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

/// `doc[key]` when `doc` is an object holding it.
fn member<'a>(doc: &'a Value, key: &str) -> Option<&'a Value> {
    doc.as_object().and_then(|o| o.get(key))
}

/// Mapping compiler and evaluator. A JSON input is a mapping (or a case with `mapping`,
/// `payload` and `batch`); any other text becomes an `@template` and an `@liquid` directive.
pub fn mapping(data: &[u8]) {
    let (mapping, payload, batch) = match json_of(data) {
        Some(doc) => match member(&doc, "mapping") {
            Some(m) => (
                m.clone(),
                member(&doc, "payload")
                    .cloned()
                    .unwrap_or_else(sample_event),
                member(&doc, "batch") == Some(&Value::Bool(true)),
            ),
            None => (doc, sample_event(), false),
        },
        None => {
            let text = String::from_utf8_lossy(data).into_owned();
            (
                json!({"t": {"@template": text.clone()}, "l": {"@liquid": text}}),
                sample_event(),
                false,
            )
        }
    };
    if batch {
        let _ = transform_batch(&mapping, &payload);
        return;
    }
    let direct = transform(&mapping, &payload);
    match Mapping::compile(&mapping) {
        Ok(compiled) => {
            let _ = compiled.value_keys();
            let evaluated = compiled.evaluate(&payload);
            // Compiling once and evaluating is the same as `transform`.
            match (&direct, &evaluated) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "transform and compile+evaluate differ"),
                (Err(_), Err(_)) => {}
                _ => panic!("transform {direct:?} but compile+evaluate {evaluated:?}"),
            }
        }
        Err(_) => assert!(direct.is_err(), "compile failed but transform succeeded"),
    }
}

/// FQL parser and matcher. A case with `fql` (and `event`) or `ast_input`; any other input is
/// `FQL` or `FQL\nEVENT-JSON`.
pub fn fql(data: &[u8]) {
    let doc = json_of(data);
    if let Some(ast) = doc.as_ref().and_then(|d| member(d, "ast_input")) {
        if let Ok(ast) = Ast::from_reference_json(ast) {
            let event = doc.as_ref().and_then(|d| member(d, "event"));
            let _ = validate(&ast, event);
            let _ = generate_fql(&ast);
            let _ = Subscription::from_ast(ast);
        }
        return;
    }
    let (text, event) = match doc
        .as_ref()
        .and_then(|d| member(d, "fql").and_then(Value::as_str).map(|f| (d, f)))
    {
        Some((d, f)) => (
            f.to_string(),
            member(d, "event").cloned().unwrap_or_else(sample_event),
        ),
        None => {
            let all = String::from_utf8_lossy(data);
            match all.split_once('\n') {
                Some((f, e)) => (
                    f.to_string(),
                    serde_json::from_str(e).unwrap_or_else(|_| sample_event()),
                ),
                None => (all.into_owned(), sample_event()),
            }
        }
    };
    let _ = Subscription::parse_strict(&text);
    let Ok(sub) = Subscription::parse(&text) else {
        return;
    };
    let matched = sub.matches(&event);
    if let Ok(m) = sub.try_matches(&event) {
        assert_eq!(m, matched, "matches and try_matches disagree");
    }
    let _ = validate(sub.ast(), Some(&event));
    let _ = validate(sub.ast(), None);
    let _ = sub.ast().to_reference_json();
    let printed = sub.to_fql();
    let _ = generate_fql(sub.ast());
    let _ = Subscription::parse(&printed);
}

/// Field-schema validation: a case with `fields` (or `json_schema`) and `payload`; any other
/// JSON is a payload validated against every built-in action's fields.
pub fn schema(data: &[u8]) {
    let Some(doc) = json_of(data) else {
        return;
    };
    let payload = member(&doc, "payload").cloned().unwrap_or(Value::Null);
    if let Some(schema) = member(&doc, "json_schema") {
        let _ = remove_empty_values(payload.clone(), schema, true);
        if let Ok(c) = CompiledSchema::compile(schema) {
            let mut p = c.remove_empty_values(payload, true).unwrap_or(Value::Null);
            let _ = c.validate(&mut p, &[]);
        }
        return;
    }
    if let Some(fields) = member(&doc, "fields") {
        let Ok(fields) = serde_json::from_value::<Fields>(fields.clone()) else {
            return;
        };
        let Ok(schema) = fields_to_json_schema(&fields) else {
            return;
        };
        if let Ok(c) = CompiledSchema::compile(&schema) {
            let mut p = c
                .remove_empty_values(payload.clone(), true)
                .unwrap_or(Value::Null);
            let exempt: Vec<&str> = member(&doc, "exempt")
                .and_then(Value::as_array)
                .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_str).collect());
            let _ = c.validate(&mut p, &exempt);
            let mut raw = payload;
            let _ = c.validate(&mut raw, &[]);
        }
        return;
    }
    for (_, schema) in action_schemas() {
        let mut p = schema
            .remove_empty_values(doc.clone(), true)
            .unwrap_or(Value::Null);
        let _ = schema.validate(&mut p, &[]);
    }
}

/// An action of a built-in destination: default subscription, default mapping, schema.
struct ActionUnderTest {
    subscription: Option<Subscription>,
    mapping: Option<Mapping>,
}

/// Every built-in action with its compiled payload schema.
fn action_schemas() -> &'static [(ActionUnderTest, CompiledSchema)] {
    static ACTIONS: OnceLock<Vec<(ActionUnderTest, CompiledSchema)>> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        let mut out = Vec::new();
        for entry in destination_registry::Registry::builtin().entries() {
            let Ok(info) = entry.describe() else {
                continue;
            };
            for action in &info.actions {
                let Ok(schema) = CompiledSchema::from_fields(&action.fields) else {
                    continue;
                };
                let subscription = action
                    .definition
                    .default_subscription
                    .as_deref()
                    .and_then(|s| Subscription::parse(s).ok());
                let mapping = Mapping::compile(&action.default_mapping()).ok();
                out.push((
                    ActionUnderTest {
                        subscription,
                        mapping,
                    },
                    schema,
                ));
            }
        }
        out
    })
}

/// Event parsing: a JSON event (or a golden case's `input`) through the tracking API's
/// validation, then every built-in action's default subscription, default mapping and payload
/// schema, as the runtime does with an event.
pub fn event(data: &[u8]) {
    let Some(doc) = json_of(data) else {
        return;
    };
    let event = member(&doc, "input").cloned().unwrap_or(doc);
    if let Value::Object(o) = &event {
        let _ = relay::ingest::validate(o);
    }
    for (action, schema) in action_schemas() {
        if let Some(sub) = &action.subscription
            && !sub.matches(&event)
        {
            continue;
        }
        let Some(mapping) = &action.mapping else {
            continue;
        };
        if let Ok(Some(payload)) = mapping.evaluate(&event) {
            let mut p = schema
                .remove_empty_values(payload, true)
                .unwrap_or(Value::Null);
            let _ = schema.validate(&mut p, &[]);
        }
    }
}

/// The built-in destinations' runtimes, built once (building one compiles its schemas).
struct Runtimes {
    webhook: Option<DestinationRuntime<webhook::Webhook>>,
    conversions: Option<DestinationRuntime<linkedin_conversions::LinkedInConversions>>,
    audiences: Option<DestinationRuntime<linkedin_audiences::LinkedInAudiences>>,
}

fn runtimes() -> &'static Runtimes {
    static RUNTIMES: OnceLock<Runtimes> = OnceLock::new();
    RUNTIMES.get_or_init(|| Runtimes {
        webhook: DestinationRuntime::new(webhook::Webhook).ok(),
        conversions: DestinationRuntime::new(linkedin_conversions::LinkedInConversions).ok(),
        audiences: DestinationRuntime::new(linkedin_audiences::LinkedInAudiences).ok(),
    })
}

fn settings_of<D: Destination>(runtime: Option<&DestinationRuntime<D>>, settings: &Value) {
    if let Some(runtime) = runtime {
        let _ = runtime.validate_settings(settings);
    }
}

/// Settings parsing: JSON settings (or a golden case's `settings`) validated and typed by every
/// built-in destination, and their OAuth tokens read.
pub fn settings(data: &[u8]) {
    let Some(doc) = json_of(data) else {
        return;
    };
    let settings = member(&doc, "settings").cloned().unwrap_or(doc);
    let auth = AuthTokens::from_settings(&settings);
    // Debug output of the tokens never shows them (long ones: short ones may occur by chance).
    let shown = format!("{auth:?}");
    for secret in [&auth.access_token, &auth.refresh_token, &auth.client_secret]
        .into_iter()
        .flatten()
    {
        if secret.expose().len() >= 12 {
            assert!(!shown.contains(secret.expose()), "a token in Debug output");
        }
    }
    let r = runtimes();
    settings_of(r.webhook.as_ref(), &settings);
    settings_of(r.conversions.as_ref(), &settings);
    settings_of(r.audiences.as_ref(), &settings);
}

/// `Retry-After` and `X-RateLimit-*` parsing. Lines: `Retry-After`, `X-RateLimit-Reset`,
/// `X-RateLimit-Limit`, `X-RateLimit-Remaining` (absent lines: absent headers).
pub fn retry_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let names = [
        "Retry-After",
        "X-RateLimit-Reset",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
    ];
    let headers: Vec<(String, String)> = names
        .iter()
        .zip(text.split('\n'))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let response = Response::new(429, "https://api.example.com/", headers, "");
    for now in [
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ] {
        let hint = wait_hint(&response, now);
        let quota = RateLimitHeaders::of(&response, now);
        if let Some(f) = quota.fraction_remaining() {
            assert!(!f.is_nan(), "fraction_remaining is NaN");
        }
        let _ = (hint, quota.is_exhausted(), quota.is_present());
    }
}

/// The ingest's limits while fuzzing: small, so that the limits themselves are reached.
pub const INGEST_LIMITS: relay::ingest::Limits = relay::ingest::Limits {
    max_body: 16 * 1024,
    max_event: 4 * 1024,
};

/// Relay's ingest request parsing. Byte 0: the route (low 4 bits) and whether the first line of
/// the rest is an `Authorization` header (bit 7); byte 1: the body's encoding (none, gzip of
/// the rest, the rest as a gzip stream, an unsupported encoding); the rest: the body.
pub fn ingest(data: &[u8]) {
    const KINDS: [&str; 16] = [
        "track", "t", "identify", "i", "page", "p", "screen", "s", "group", "g", "alias", "a",
        "batch", "import", "batch", "nope",
    ];
    let [route, encoding, rest @ ..] = data else {
        return;
    };
    let kind = KINDS[usize::from(route & 0x0f)];
    let mut headers = http::HeaderMap::new();
    let mut body = rest;
    if route & 0x80 != 0 {
        let (line, after) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        if let Ok(v) = http::HeaderValue::from_bytes(line) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        body = after;
    }
    let raw = match encoding % 4 {
        1 => {
            headers.insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static("gzip"),
            );
            gzip(body)
        }
        2 => {
            headers.insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static("gzip"),
            );
            body.to_vec()
        }
        3 => {
            headers.insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static("br"),
            );
            body.to_vec()
        }
        _ => body.to_vec(),
    };
    let received_at = "2026-01-01T00:00:00.000Z";
    match relay::ingest::parse_request(
        kind,
        &headers,
        bytes::Bytes::from(raw),
        INGEST_LIMITS,
        received_at,
    ) {
        Ok(parsed) => {
            let mut accepted = 0;
            for text in parsed.accepted() {
                accepted += 1;
                assert!(
                    text.len() <= INGEST_LIMITS.max_event,
                    "event over max_event"
                );
                let v: Value = serde_json::from_str(text).expect("an accepted event is JSON");
                assert!(relay::ingest::validate(v.as_object().expect("an object")).is_ok());
            }
            let rejected = parsed.rejected().count();
            assert_eq!(accepted + rejected, parsed.received(), "events lost");
            for (_, reason) in parsed.rejected() {
                assert!(!reason.is_empty(), "a rejection without a reason");
            }
        }
        Err(refusal) => {
            let status = refusal.status().as_u16();
            assert!(
                matches!(status, 400 | 401 | 404),
                "unexpected status {status}"
            );
            assert!(!refusal.message().is_empty(), "a refusal without a reason");
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(data);
    gz.finish().unwrap_or_default()
}

/// Relay's configuration loader: TOML text (`${SET_…}` variables are set, others missing).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| name.starts_with("SET_").then(|| format!("value-of-{name}"));
    match relay::config::Config::parse_with_env(text, "fuzz.toml", &env) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a message");
        }
    }
}
