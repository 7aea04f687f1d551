//! Seeded snapshot tests (the reference's snapshot conventions, G.3).
//!
//! For every action, two payloads are generated from the action's field schemas with a seeded
//! random generator (seed `"<destinationSlug>#<actionKey>"`): one with **every** field and one
//! with the **required** fields only (fields that are required — unconditionally or
//! conditionally — or whose key contains `id` or `consent`, as the reference). The action runs
//! on each against a mock server that accepts everything (`GET` → 200 `{}`, other methods →
//! 200), with the payload as the event's `properties` and as the mapping (literal values), and
//! the requests it made — method, URL, headers (secrets redacted), JSON body or text — are
//! snapshotted with insta. An action that rejects the payload (a validation error, an
//! `IntegrationError`, …) gets the error snapshotted instead, next to any request it made.
//!
//! One line per destination, in a test file of the destination's crate:
//!
//! ```no_run
//! # use actions_core::prelude::*;
//! # struct MyDestination;
//! # #[async_trait]
//! # impl Destination for MyDestination {
//! #     type Settings = NoSettings;
//! #     fn definition(&self) -> DestinationDefinition {
//! #         DestinationDefinition::new("Mine", "actions-mine", AuthScheme::Custom)
//! #     }
//! #     fn actions(&self) -> Vec<std::sync::Arc<dyn DynAction<NoSettings>>> { Vec::new() }
//! # }
//! actions_testkit::snapshot_tests!(
//!     MyDestination,
//!     origins = ["https://api.example.com"],
//!     settings = serde_json::json!({"region": "eu"}),
//! );
//! ```
//!
//! See [`snapshot_tests!`](crate::snapshot_tests) for the two forms (one test looping over the
//! actions, or two tests per listed action).
//!
//! **Generated values** follow the reference's per-type rules: boolean; datetime (and strings of
//! format `date-time`) fixed at `2021-02-01T00:00:00.000Z`; integer within `minimum`/`maximum`
//! (default ±(2⁵³−1)); number with two decimals within them (default ±(2⁵³−1)/100); text a
//! sentence; string by format (`date`, `email`, `hostname`, `ipv4`, `ipv6`, `time`, `uri`,
//! `uuid`) or a random string within the length bounds; object `{"testType": <string>}` or its
//! `properties` filled recursively; key overrides `email`, `currency` (ISO code) and
//! `phone_number`; `choices` → one of them; `multiple` → a one-element array; `consent` →
//! `{"categoryPreferences": {"analytics": true, "marketing": false}}`. Like the reference's fresh
//! `Chance(seed)` per value, each value comes from a fresh generator, so adding a field never
//! changes another field's value; unlike it, that generator is seeded with the seed *and the
//! field's path*, so two fields of the same type get different values (a swapped field shows in
//! the snapshot). The values are not Chance.js's.

use std::panic::{AssertUnwindSafe, catch_unwind};

use actions_core::fields::{FieldType, Fields, InputField, Required};
use actions_core::request::{Exchange, is_sensitive_header};
use actions_core::{Destination, Error};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::event::Stamp;
use crate::harness::{TestIntegration, TestOptions};

/// The value of every `datetime` field (and `date-time` string).
pub const FIXED_DATETIME: &str = "2021-02-01T00:00:00.000Z";
/// "Now" of the snapshot events (`2021-02-01T00:00:00.000Z`).
const FIXED_NOW_MS: i64 = 1_612_137_600_000;
/// `Number.MAX_SAFE_INTEGER`: Chance's default integer bound.
const MAX_SAFE: i64 = 9_007_199_254_740_991;
/// Fields nest at most this deep.
const MAX_DEPTH: usize = 32;
/// Generated strings are at most this long, whatever `maximum` says.
const MAX_LENGTH: usize = 10_000;
/// Chance's default `string()` pool.
const STRING_POOL: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()[]";
const CONSONANTS: &[u8] = b"bcdfghjklmnprstvwz";
const VOWELS: &[u8] = b"aeiou";
const TLDS: &[&str] = &["com", "net", "org", "io", "co", "dev"];
const CURRENCIES: &[&str] = &[
    "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY", "SEK", "NZD", "MXN", "SGD", "NOK",
    "INR", "BRL", "ZAR",
];

/// Which fields a generated payload holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldSet {
    /// Fields that are required (or conditionally required), or whose key contains `id` or
    /// `consent`; inside objects, the required properties.
    Required,
    /// Every field.
    All,
}

impl FieldSet {
    /// Both sets, required first (the reference's test order).
    pub const BOTH: [FieldSet; 2] = [FieldSet::Required, FieldSet::All];

    /// `required_fields` or `all_fields` (part of the snapshot name).
    pub fn name(self) -> &'static str {
        match self {
            FieldSet::Required => "required_fields",
            FieldSet::All => "all_fields",
        }
    }
}

/// The seed of an action's test data: `"<destinationSlug>#<actionKey>"`.
pub fn seed_of(destination_slug: &str, action_key: &str) -> String {
    format!("{destination_slug}#{action_key}")
}

/// A deterministic payload for `fields` (see the module docs for the rules).
///
/// ```
/// use actions_core::fields::Fields;
/// use actions_testkit::snapshot::{FieldSet, generate_payload};
/// use serde_json::json;
///
/// let fields: Fields = serde_json::from_value(json!({
///     "email": {"label": "Email", "type": "string", "format": "email", "required": true},
///     "count": {"label": "Count", "type": "integer", "minimum": 1, "maximum": 5},
///     "user_id": {"label": "User", "type": "string"}
/// })).unwrap();
/// let all = generate_payload("actions-x#track", &fields, FieldSet::All).unwrap();
/// assert_eq!(all, generate_payload("actions-x#track", &fields, FieldSet::All).unwrap());
/// assert!((1..=5).contains(&all["count"].as_i64().unwrap()));
/// let required = generate_payload("actions-x#track", &fields, FieldSet::Required).unwrap();
/// assert_eq!(required.as_object().unwrap().keys().collect::<Vec<_>>(), ["email", "user_id"]);
/// ```
///
/// # Errors
/// The fields nest deeper than 32 levels.
pub fn generate_payload(seed: &str, fields: &Fields, set: FieldSet) -> Result<Value, Error> {
    Generator { seed }
        .fields("$", fields, set, true, 0)
        .map(Value::Object)
}

/// One deterministic value per settings field (choices, formats and types as for payloads).
///
/// # Errors
/// The fields nest deeper than 32 levels.
pub fn generate_settings(seed: &str, fields: &Fields) -> Result<Value, Error> {
    Generator { seed }
        .fields("settings", fields, FieldSet::All, false, 0)
        .map(Value::Object)
}

/// Whether `required` is truthy in the reference's sense (`true` or a condition object).
fn is_required(field: &InputField) -> bool {
    matches!(
        field.required,
        Some(Required::Bool(true)) | Some(Required::Conditional(_))
    )
}

/// 64-bit FNV-1a: stable across platforms and releases (snapshots depend on it).
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The generator seed of one value: FNV-1a of the seed, a NUL and the value's path.
fn hash(seed: &str, path: &str) -> u64 {
    fnv1a(seed.bytes().chain([0u8]).chain(path.bytes()))
}

struct Generator<'a> {
    seed: &'a str,
}

impl Generator<'_> {
    fn rng(&self, path: &str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(hash(self.seed, path))
    }

    fn fields(
        &self,
        base: &str,
        fields: &Fields,
        set: FieldSet,
        top: bool,
        depth: usize,
    ) -> Result<Map<String, Value>, Error> {
        let mut out = Map::new();
        for (key, field) in fields {
            let keep = match set {
                FieldSet::All => true,
                FieldSet::Required => {
                    is_required(field) || (top && (key.contains("id") || key.contains("consent")))
                }
            };
            if keep {
                let path = format!("{base}.{key}");
                out.insert(key.clone(), self.field(&path, key, field, set, depth + 1)?);
            }
        }
        Ok(out)
    }

    fn field(
        &self,
        path: &str,
        key: &str,
        field: &InputField,
        set: FieldSet,
        depth: usize,
    ) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::plain(format!(
                "cannot generate test data for {path}: fields nest deeper than {MAX_DEPTH} levels"
            )));
        }
        let one = match &field.properties {
            _ if key == "consent" => {
                json!({"categoryPreferences": {"analytics": true, "marketing": false}})
            }
            Some(props) if !props.is_empty() && field.choices.is_none() => {
                Value::Object(self.fields(path, props, set, false, depth)?)
            }
            _ => self.scalar(path, key, field),
        };
        Ok(if field.multiple == Some(true) {
            Value::Array(vec![one])
        } else {
            one
        })
    }

    fn scalar(&self, path: &str, key: &str, field: &InputField) -> Value {
        let mut rng = self.rng(path);
        if let Some(choices) = &field.choices
            && !choices.is_empty()
        {
            let i = rng.random_range(0..choices.len());
            if let Some(c) = choices.get(i) {
                return c.value();
            }
        }
        let value = match field.field_type {
            FieldType::Boolean => Value::Bool(rng.random()),
            FieldType::Datetime => Value::String(FIXED_DATETIME.to_string()),
            FieldType::Integer => Value::from(integer(&mut rng, field)),
            FieldType::Number => number(&mut rng, field),
            FieldType::Text => Value::String(sentence(&mut rng, field)),
            FieldType::Object => json!({"testType": chance_string(&mut rng, None)}),
            FieldType::String | FieldType::Password => Value::String(by_format(&mut rng, field)),
        };
        match key {
            "email" => Value::String(email(&mut rng)),
            "currency" => Value::String(pick(&mut rng, CURRENCIES).to_string()),
            "phone_number" => Value::String(phone(&mut rng)),
            _ => value,
        }
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list.get(rng.random_range(0..list.len().max(1)))
        .copied()
        .unwrap_or("")
}

fn bound(n: Option<&serde_json::Number>) -> Option<f64> {
    n.and_then(serde_json::Number::as_f64)
        .filter(|x| x.is_finite())
}

fn integer(rng: &mut ChaCha8Rng, field: &InputField) -> i64 {
    // Float-to-int casts saturate.
    let lo = bound(field.minimum.as_ref()).map_or(-MAX_SAFE, |m| m.ceil() as i64);
    let hi = bound(field.maximum.as_ref()).map_or(MAX_SAFE, |m| m.floor() as i64);
    rng.random_range(lo..=hi.max(lo))
}

fn number(rng: &mut ChaCha8Rng, field: &InputField) -> Value {
    let lo = bound(field.minimum.as_ref()).map_or(-MAX_SAFE, |m| (m * 100.0).ceil() as i64);
    let hi = bound(field.maximum.as_ref()).map_or(MAX_SAFE, |m| (m * 100.0).floor() as i64);
    let cents = rng.random_range(lo..=hi.max(lo));
    serde_json::Number::from_f64(cents as f64 / 100.0).map_or(Value::from(0), Value::Number)
}

/// Length bounds of a string field (`minimum`/`maximum`; 0 ignored, as the reference).
fn length_bounds(field: &InputField, default_lo: usize, default_hi: usize) -> (usize, usize) {
    let as_len = |n: Option<&serde_json::Number>| {
        bound(n)
            .filter(|x| *x > 0.0)
            .map(|x| (x as usize).min(MAX_LENGTH))
    };
    let min = as_len(field.minimum.as_ref());
    let max = as_len(field.maximum.as_ref());
    let lo = min.unwrap_or_else(|| default_lo.min(max.unwrap_or(default_lo)));
    let hi = max.unwrap_or_else(|| default_hi.max(lo));
    (lo, hi.max(lo))
}

fn chance_string(rng: &mut ChaCha8Rng, field: Option<&InputField>) -> String {
    let (lo, hi) = field.map_or((5, 20), |f| length_bounds(f, 5, 20));
    let len = rng.random_range(lo..=hi);
    (0..len)
        .map(|_| {
            STRING_POOL
                .get(rng.random_range(0..STRING_POOL.len()))
                .map_or('a', |b| char::from(*b))
        })
        .collect()
}

fn word(rng: &mut ChaCha8Rng, syllables: usize) -> String {
    let mut w = String::new();
    for _ in 0..syllables {
        let c = CONSONANTS
            .get(rng.random_range(0..CONSONANTS.len()))
            .copied()
            .unwrap_or(b'b');
        let v = VOWELS
            .get(rng.random_range(0..VOWELS.len()))
            .copied()
            .unwrap_or(b'a');
        w.push(char::from(c));
        w.push(char::from(v));
    }
    w
}

fn sentence(rng: &mut ChaCha8Rng, field: &InputField) -> String {
    let (lo, hi) = length_bounds(field, 0, MAX_LENGTH);
    let words = rng.random_range(12..=18);
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        let n = rng.random_range(1..=3);
        s.push_str(&word(rng, n));
    }
    while s.len() + 1 < lo {
        s.push(' ');
        let n = rng.random_range(1..=3);
        s.push_str(&word(rng, n));
    }
    let mut s: String = s
        .char_indices()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    s.push('.');
    s.chars().take(hi).collect()
}

fn email(rng: &mut ChaCha8Rng) -> String {
    let user = word(rng, 3);
    let domain = word(rng, 2);
    let tld = pick(rng, TLDS);
    format!("{user}@{domain}.{tld}")
}

fn phone(rng: &mut ChaCha8Rng) -> String {
    let area = rng.random_range(200..=999);
    let exchange = rng.random_range(200..=999);
    let line = rng.random_range(0..=9999);
    format!("+1{area}{exchange}{line:04}")
}

fn by_format(rng: &mut ChaCha8Rng, field: &InputField) -> String {
    let random_time = |rng: &mut ChaCha8Rng| {
        // 1970-01-01 .. 2099-12-31
        let ms = rng.random_range(0..4_102_444_800_000_i64);
        chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
    };
    match field.format.as_deref() {
        Some("date") => random_time(rng).format("%Y-%m-%d").to_string(),
        Some("date-time") => FIXED_DATETIME.to_string(),
        Some("time") => random_time(rng).format("%H:%M:%S").to_string(),
        Some("email") => email(rng),
        Some("hostname") => {
            let name = word(rng, 3);
            format!("{name}.{}", pick(rng, TLDS))
        }
        Some("ipv4") => {
            let o: [u8; 4] = rng.random();
            format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])
        }
        Some("ipv6") => {
            let g: [u16; 8] = rng.random();
            g.iter()
                .map(|x| format!("{x:x}"))
                .collect::<Vec<_>>()
                .join(":")
        }
        Some("uri") | Some("uri-reference") | Some("url") => {
            let host = word(rng, 3);
            let tld = pick(rng, TLDS);
            let path = word(rng, 2);
            format!("http://{host}.{tld}/{path}")
        }
        Some("uuid") => {
            let bytes: [u8; 16] = rng.random();
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        }
        _ => chance_string(rng, Some(field)),
    }
}

/// What one action produced on one generated payload.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSnapshot {
    /// The action's key.
    pub action: String,
    /// Which fields the payload holds.
    pub field_set: FieldSet,
    /// The insta snapshot name: `<destinationSlug>__<actionKey>__<required|all>_fields`.
    pub name: String,
    /// The generated payload (also the mapping and the event's `properties`).
    pub payload: Value,
    /// The settings the action ran with (generated, overridden by the caller's).
    pub settings: Value,
    /// What is snapshotted: `{"requests": [{method, url, headers, body}…]}` plus
    /// `"error": "<Class>: <message>"` when the action failed.
    pub value: Value,
}

/// Runs a destination's actions on generated payloads against a mock server that accepts
/// every request, and builds their snapshots.
///
/// ```no_run
/// # async fn demo<D: actions_core::Destination>(destination: D) {
/// use actions_testkit::snapshot::{FieldSet, Snapshotter};
/// let mut s = Snapshotter::new(destination, &["https://api.example.com"], serde_json::json!({}))
///     .await
///     .unwrap();
/// for action in s.action_keys() {
///     let snap = s.snapshot(&action, FieldSet::All).await.unwrap();
///     println!("{}: {}", snap.name, snap.value);
/// }
/// # }
/// ```
pub struct Snapshotter<D: Destination> {
    harness: TestIntegration<D>,
    settings: Value,
}

impl<D: Destination> Snapshotter<D> {
    /// A snapshotter whose `origins` lead to an accept-everything mock server; `settings`
    /// override the generated ones (shallow merge; `null` or `{}` for none).
    pub async fn new(destination: D, origins: &[&str], settings: Value) -> Result<Self, Error> {
        let mut harness = TestIntegration::new(destination, origins)
            .await?
            .strict(false);
        harness.accept_all().await;
        Ok(Snapshotter { harness, settings })
    }

    /// The destination's action keys, in declaration order.
    pub fn action_keys(&self) -> Vec<String> {
        self.harness
            .runtime()
            .actions()
            .map(|(d, _)| d.key.clone())
            .collect()
    }

    /// The settings an action runs with: one generated value per settings field, an `oauth`
    /// object with generated tokens for OAuth destinations, then the caller's settings on top.
    pub fn settings_for(&self, action: &str) -> Result<Value, Error> {
        let runtime = self.harness.runtime();
        let definition = runtime.definition();
        let seed = seed_of(&definition.slug, action);
        let mut settings = match generate_settings(&seed, runtime.settings_fields())? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if definition.scheme.is_oauth() {
            let mut rng = ChaCha8Rng::seed_from_u64(hash(&seed, "oauth"));
            settings.insert(
                "oauth".to_string(),
                json!({
                    "access_token": chance_string(&mut rng, None),
                    "refresh_token": chance_string(&mut rng, None),
                }),
            );
        }
        if let Value::Object(given) = &self.settings {
            for (k, v) in given {
                settings.insert(k.clone(), v.clone());
            }
        }
        Ok(Value::Object(settings))
    }

    /// Runs `action` on its generated `set` payload and builds the snapshot.
    ///
    /// # Errors
    /// The action does not exist or its test data cannot be generated. (Errors of the action
    /// itself are part of the snapshot.)
    pub async fn snapshot(&mut self, action: &str, set: FieldSet) -> Result<ActionSnapshot, Error> {
        let runtime = self.harness.runtime();
        let slug = runtime.definition().slug.clone();
        let Some((_, fields)) = runtime.actions().find(|(d, _)| d.key == action) else {
            return Err(Error::plain(format!(
                "{slug} has no action {action:?} (actions: {})",
                self.action_keys().join(", ")
            )));
        };
        let seed = seed_of(&slug, action);
        let payload = generate_payload(&seed, fields, set)?;
        let settings = self.settings_for(action)?;
        let opts = TestOptions::event(json!({"properties": payload}))
            .mapping(payload.clone())
            .settings(settings.clone())
            .stamp(Stamp::Fixed {
                seed: hash(&seed, "event"),
                now_ms: FIXED_NOW_MS,
            });
        let (exchanges, error) = match self.harness.test_action(action, opts).await {
            Ok(x) => (x, None),
            // The exchanges of a failed call are those the capture kept for it.
            Err(e) => (self.harness.last_exchanges().to_vec(), Some(e)),
        };
        let mut value = Map::new();
        value.insert(
            "requests".to_string(),
            Value::Array(exchanges.iter().map(request_snapshot).collect()),
        );
        if let Some(e) = error {
            value.insert(
                "error".to_string(),
                Value::String(format!("{}: {}", e.class().name(), e.message())),
            );
        }
        Ok(ActionSnapshot {
            action: action.to_string(),
            field_set: set,
            name: format!("{slug}__{action}__{}", set.name()),
            payload,
            settings,
            value: Value::Object(value),
        })
    }
}

/// One request as snapshotted: method, URL, headers (secrets redacted), body (JSON when it
/// parses, text otherwise).
pub fn request_snapshot(exchange: &Exchange) -> Value {
    let r = &exchange.request;
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        let v = if is_sensitive_header(k) {
            "<redacted>".to_string()
        } else {
            v.clone()
        };
        headers.insert(k.clone(), Value::String(v));
    }
    let mut out = Map::new();
    out.insert("method".to_string(), Value::String(r.method.clone()));
    out.insert("url".to_string(), Value::String(r.url.clone()));
    out.insert("headers".to_string(), Value::Object(headers));
    if let Some(body) = &r.body {
        let b = serde_json::from_str::<Value>(body).unwrap_or_else(|_| Value::String(body.clone()));
        out.insert("body".to_string(), b);
    }
    Value::Object(out)
}

/// Runs the snapshots of `actions` (every action when `None`) × `sets` in one runtime, then
/// hands each to `assert` (which expands insta's assertion in the caller's crate) with insta
/// set to name the file after the snapshot alone and to record the generated payload. Every
/// snapshot is asserted even when one fails; the failures are reported together.
///
/// This is what [`snapshot_tests!`](crate::snapshot_tests) expands to. It builds its own
/// current-thread tokio runtime: call it from a plain `#[test]`, not from async code.
///
/// # Panics
/// When a snapshot does not match, or the snapshots cannot be made (the destination does not
/// build, an action is missing, the test data cannot be generated).
pub fn run_snapshot_tests<D: Destination>(
    destination: D,
    origins: &[&str],
    settings: Value,
    actions: Option<&[&str]>,
    sets: &[FieldSet],
    assert: impl Fn(&str, &Value),
) {
    let made = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(make_snapshots(
            destination,
            origins,
            settings,
            actions,
            sets,
        )),
        Err(e) => Err(Error::plain(format!("no tokio runtime: {e}"))),
    };
    let snapshots = match made {
        Ok(s) => s,
        Err(e) => panic!("snapshot tests could not run: {e}"),
    };
    let mut failed = Vec::new();
    for snap in &snapshots {
        let mut s = insta::Settings::clone_current();
        s.set_prepend_module_to_snapshot(false);
        s.set_omit_expression(true);
        s.set_description(format!(
            "{} — {} (seeded payload below)",
            snap.action,
            snap.field_set.name().replace('_', " ")
        ));
        s.set_info(&snap.payload);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            s.bind(|| assert(&snap.name, &snap.value));
        }));
        if outcome.is_err() {
            failed.push(snap.name.clone());
        }
    }
    if !failed.is_empty() {
        panic!(
            "{} of {} snapshots do not match: {}",
            failed.len(),
            snapshots.len(),
            failed.join(", ")
        );
    }
}

async fn make_snapshots<D: Destination>(
    destination: D,
    origins: &[&str],
    settings: Value,
    actions: Option<&[&str]>,
    sets: &[FieldSet],
) -> Result<Vec<ActionSnapshot>, Error> {
    let mut s = Snapshotter::new(destination, origins, settings).await?;
    let keys: Vec<String> = match actions {
        Some(list) => list.iter().map(|a| a.to_string()).collect(),
        None => s.action_keys(),
    };
    let mut out = Vec::new();
    for key in &keys {
        for set in sets {
            out.push(s.snapshot(key, *set).await?);
        }
    }
    Ok(out)
}

/// Fails when the destination has actions the list does not name (the per-action form of
/// [`snapshot_tests!`](crate::snapshot_tests) checks that every action has its tests).
///
/// # Panics
/// When an action is missing from `listed`, or the destination's runtime cannot be built.
pub fn assert_actions_listed<D: Destination>(destination: D, listed: &[&str]) {
    let runtime = match actions_core::DestinationRuntime::new(destination) {
        Ok(r) => r,
        Err(e) => panic!("the destination does not build: {e}"),
    };
    let missing: Vec<&str> = runtime
        .actions()
        .map(|(d, _)| d.key.as_str())
        .filter(|k| !listed.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "actions without snapshot tests: {} (add them to `actions = [...]`)",
        missing.join(", ")
    );
}

/// Snapshot tests for every action of a destination (reference G.3): a "required fields" and
/// an "all fields" snapshot per action, named `<slug>__<action>__required_fields` /
/// `__all_fields` in the `snapshots/` folder next to the test file.
///
/// Two forms:
///
/// * `snapshot_tests!(DEST, origins = [...], settings = SETTINGS)` — the action list is only
///   known at run time, so this expands to **one** `#[test] fn snapshot_tests()` that loops
///   over the actions and asserts every snapshot (all are checked; failures are listed
///   together). Use it once per module.
/// * `snapshot_tests!(DEST, origins = [...], settings = SETTINGS, actions = [a, b])` — expands
///   to a module per listed action with two tests, `required_fields` and `all_fields`, plus
///   `snapshot_tests_cover_every_action`, which fails when the destination has an action the
///   list misses. The action keys must be plain identifiers (`streamConversion`); for other
///   keys use the first form.
///
/// `settings` is optional (generated values are used for every settings field; the given ones
/// override them). The tests are plain `#[test]`s running a current-thread tokio runtime, so
/// the calling crate needs no tokio or insta dependency of its own. Review new or changed
/// snapshots with `cargo insta review` (or `INSTA_UPDATE=always cargo test`).
///
/// ```no_run
/// # use actions_core::prelude::*;
/// # struct MyDestination;
/// # #[async_trait]
/// # impl Destination for MyDestination {
/// #     type Settings = NoSettings;
/// #     fn definition(&self) -> DestinationDefinition {
/// #         DestinationDefinition::new("Mine", "actions-mine", AuthScheme::Custom)
/// #     }
/// #     fn actions(&self) -> Vec<std::sync::Arc<dyn DynAction<NoSettings>>> { Vec::new() }
/// # }
/// actions_testkit::snapshot_tests!(MyDestination, origins = ["https://api.example.com"]);
/// ```
#[macro_export]
macro_rules! snapshot_tests {
    ($destination:expr, origins = $origins:tt, settings = $settings:expr,
     actions = [$($action:ident),+ $(,)?] $(,)?) => {
        $(
            #[allow(non_snake_case)]
            mod $action {
                #[allow(unused_imports)]
                use super::*;

                #[test]
                fn required_fields() {
                    $crate::snapshot::run_snapshot_tests(
                        $destination,
                        &$origins,
                        $settings,
                        ::core::option::Option::Some(&[stringify!($action)]),
                        &[$crate::snapshot::FieldSet::Required],
                        |name, value| $crate::insta::assert_json_snapshot!(name, value),
                    );
                }

                #[test]
                fn all_fields() {
                    $crate::snapshot::run_snapshot_tests(
                        $destination,
                        &$origins,
                        $settings,
                        ::core::option::Option::Some(&[stringify!($action)]),
                        &[$crate::snapshot::FieldSet::All],
                        |name, value| $crate::insta::assert_json_snapshot!(name, value),
                    );
                }
            }
        )+

        #[test]
        fn snapshot_tests_cover_every_action() {
            $crate::snapshot::assert_actions_listed($destination, &[$(stringify!($action)),+]);
        }
    };
    ($destination:expr, origins = $origins:tt,
     actions = [$($action:ident),+ $(,)?] $(,)?) => {
        $crate::snapshot_tests!(
            $destination,
            origins = $origins,
            settings = $crate::snapshot::no_settings(),
            actions = [$($action),+]
        );
    };
    ($destination:expr, origins = $origins:tt, settings = $settings:expr $(,)?) => {
        #[test]
        fn snapshot_tests() {
            $crate::snapshot::run_snapshot_tests(
                $destination,
                &$origins,
                $settings,
                ::core::option::Option::None,
                &$crate::snapshot::FieldSet::BOTH,
                |name, value| $crate::insta::assert_json_snapshot!(name, value),
            );
        }
    };
    ($destination:expr, origins = $origins:tt $(,)?) => {
        $crate::snapshot_tests!(
            $destination,
            origins = $origins,
            settings = $crate::snapshot::no_settings()
        );
    };
}

/// `{}`: no settings beyond the generated ones.
pub fn no_settings() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_fnv1a() {
        // The published FNV-1a 64 test vectors: the hash must never change, or every
        // snapshot does.
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(hash("a", "b"), fnv1a(*b"a\0b"));
        assert_ne!(hash("ab", ""), hash("a", "b"));
    }

    #[test]
    fn length_bounds_follow_minimum_and_maximum() {
        let f = |min: Option<u64>, max: Option<u64>| InputField {
            minimum: min.map(Into::into),
            maximum: max.map(Into::into),
            ..InputField::default()
        };
        assert_eq!(length_bounds(&f(None, None), 5, 20), (5, 20));
        assert_eq!(length_bounds(&f(Some(30), None), 5, 20), (30, 30));
        assert_eq!(length_bounds(&f(None, Some(3)), 5, 20), (3, 3));
        assert_eq!(length_bounds(&f(Some(0), Some(0)), 5, 20), (5, 20));
        assert_eq!(length_bounds(&f(Some(8), Some(4)), 5, 20), (8, 8));
    }
}
