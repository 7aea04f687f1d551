//! Settings, compiled once: a raw settings object is validated and typed, its subscriptions
//! parsed and their mappings compiled, and the result kept in a bounded cache keyed by a fast
//! hash of the raw JSON (hits confirmed by equality), so events with the same settings pay
//! nothing again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::DestinationRuntime;
use super::pipeline::mapping_error;
use crate::destination::Destination;
use crate::error::{Error, ValidationIssue};
use crate::fields::{CompiledSchema, Fields, SchemaValidationError, fields_to_json_schema};
use crate::mapping::Mapping;
use crate::oauth::AuthTokens;
use crate::subscriptions::Subscription;

/// Keys the exempt list of validation keeps.
pub(super) const EXEMPT: &[&str] = &["dynamicAuthSettings"];
/// At most this many distinct settings objects stay compiled.
const CACHE_LIMIT: usize = 1024;
/// The members of a settings object that belong to the runtime, not to the destination.
const RUNTIME_KEYS: [&str; 3] = ["subscription", "subscriptions", "oauth"];

/// One raw settings object, validated and compiled.
pub(super) struct CompiledSettings<S> {
    /// The raw settings this was built from (cache hits are confirmed against it).
    raw: Value,
    /// The destination settings, typed.
    pub(super) settings: Arc<S>,
    /// The tokens of the `oauth` member.
    pub(super) auth: AuthTokens,
    /// The `subscription` / `subscriptions` members, compiled.
    pub(super) subscriptions: Vec<CompiledSubscription>,
}

/// A subscription compiled once.
pub(super) struct CompiledSubscription {
    /// The action it runs.
    pub(super) partner_action: String,
    /// The mapping as configured (its internal keys steer sync mode and matching key).
    pub(super) raw_mapping: Value,
    /// The trigger and mapping, or why the subscription cannot run.
    pub(super) trigger: Trigger,
}

/// A subscription's trigger and mapping, or the reference's message for an unusable one.
pub(super) enum Trigger {
    /// The `subscribe` member is empty or not a string, or does not parse: the reference's
    /// result message.
    Invalid(String),
    /// The parsed trigger and the compiled mapping.
    Valid(Box<(Subscription, Mapping)>),
}

/// The bounded cache of compiled settings.
pub(super) struct SettingsCache<S>(Mutex<HashMap<u64, Arc<CompiledSettings<S>>>>);

impl<S> Default for SettingsCache<S> {
    fn default() -> Self {
        SettingsCache(Mutex::new(HashMap::new()))
    }
}

/// FNV-1a: a fast hasher for the settings cache key (hits are confirmed by equality, so the
/// hash needs speed, not collision resistance).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn hash_json<H: Hasher>(v: &Value, h: &mut H) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => {
            1u8.hash(h);
            b.hash(h);
        }
        Value::Number(n) => {
            2u8.hash(h);
            n.as_f64().unwrap_or(f64::NAN).to_bits().hash(h);
        }
        Value::String(s) => {
            3u8.hash(h);
            s.hash(h);
        }
        Value::Array(a) => {
            4u8.hash(h);
            a.len().hash(h);
            for x in a {
                hash_json(x, h);
            }
        }
        Value::Object(o) => {
            5u8.hash(h);
            o.len().hash(h);
            for (k, x) in o {
                k.hash(h);
                hash_json(x, h);
            }
        }
    }
}

/// Compiles a set of fields into a schema (`None` when there are no fields).
pub(super) fn compile_fields(fields: &Fields, what: &str) -> Result<Option<CompiledSchema>, Error> {
    if fields.is_empty() {
        return Ok(None);
    }
    let schema = fields_to_json_schema(fields)
        .map_err(|e| Error::plain(format!("the fields of {what} are invalid: {e}")))?;
    let compiled = CompiledSchema::compile(&schema)
        .map_err(|e| Error::plain(format!("the schema of {what} does not compile: {e}")))?;
    Ok(Some(compiled))
}

/// Validates `value` against the fields (coercing it in place); `what` names them in errors.
pub(super) fn validate_against(fields: &Fields, what: &str, value: &Value) -> Result<Value, Error> {
    let mut value = if value.is_null() {
        Value::Object(Map::new())
    } else {
        value.clone()
    };
    if let Some(compiled) = compile_fields(fields, what)? {
        compiled
            .validate(&mut value, EXEMPT)
            .map_err(schema_error)?;
    }
    Ok(value)
}

/// A schema validation failure as the framework error (`AggregateAjvError`, 400).
pub(super) fn schema_error(e: SchemaValidationError) -> Error {
    let issues = e
        .errors()
        .iter()
        .map(|i| ValidationIssue {
            pointer: i.pointer.clone(),
            message: i.message.clone(),
        })
        .collect();
    Error::schema_validation(e.message(), issues)
}

fn compile_subscription(raw: &Value) -> Result<CompiledSubscription, Error> {
    let partner_action = raw
        .get("partnerAction")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let raw_mapping = raw.get("mapping").cloned().unwrap_or_else(|| json!({}));
    let trigger = match raw.get("subscribe") {
        Some(Value::String(s)) if !s.is_empty() => match Subscription::parse(s) {
            Err(e) => Trigger::Invalid(format!("Invalid subscription : {}", e.message())),
            Ok(sub) => {
                let mapping = Mapping::compile(&raw_mapping).map_err(mapping_error)?;
                Trigger::Valid(Box::new((sub, mapping)))
            }
        },
        _ => Trigger::Invalid("Failed to validate subscription".to_string()),
    };
    Ok(CompiledSubscription {
        partner_action,
        raw_mapping,
        trigger,
    })
}

impl<D: Destination> DestinationRuntime<D> {
    /// Destination settings without the runtime's own keys (`subscription`, `subscriptions`,
    /// `oauth`), validated (coerced, undeclared keys removed) and typed.
    pub fn validate_settings(&self, settings: &Value) -> Result<D::Settings, Error> {
        let mut dest = match settings {
            Value::Object(o) => {
                let mut m = Map::with_capacity(o.len());
                for (k, v) in o {
                    if !RUNTIME_KEYS.contains(&k.as_str()) {
                        m.insert(k.clone(), v.clone());
                    }
                }
                Value::Object(m)
            }
            Value::Null => Value::Object(Map::new()),
            other => {
                return Err(Error::schema_validation(
                    format!(
                        "Settings must be an object, got {}.",
                        crate::js::type_name(other)
                    ),
                    Vec::new(),
                ));
            }
        };
        if let Some(schema) = &self.settings_schema {
            schema.validate(&mut dest, EXEMPT).map_err(schema_error)?;
        }
        serde_json::from_value(dest).map_err(|e| {
            Error::schema_validation(
                format!("The settings do not fit the destination's settings type: {e}"),
                Vec::new(),
            )
        })
    }

    /// The compiled form of a raw settings object, from the cache or built (and cached) now.
    pub(super) fn compiled_settings(
        &self,
        settings: &Value,
    ) -> Result<Arc<CompiledSettings<D::Settings>>, Error> {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        hash_json(settings, &mut h);
        let key = h.finish();
        if let Ok(cache) = self.settings_cache.0.lock()
            && let Some(c) = cache.get(&key)
            && c.raw == *settings
        {
            return Ok(c.clone());
        }
        let typed = self.validate_settings(settings)?;
        let raw_subs: Vec<&Value> =
            match (settings.get("subscription"), settings.get("subscriptions")) {
                (Some(s @ Value::Object(_)), _) => vec![s],
                (_, Some(Value::Array(list))) => list.iter().collect(),
                _ => Vec::new(),
            };
        let subscriptions = raw_subs
            .into_iter()
            .map(compile_subscription)
            .collect::<Result<Vec<_>, _>>()?;
        let compiled = Arc::new(CompiledSettings {
            raw: settings.clone(),
            settings: Arc::new(typed),
            auth: AuthTokens::from_settings(settings),
            subscriptions,
        });
        if let Ok(mut cache) = self.settings_cache.0.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, compiled.clone());
        }
        Ok(compiled)
    }
}
