//! Validation with the reference's AJV configuration (`coerceTypes: 'array'`, `allErrors`,
//! `removeAdditional`, formats), built on the `jsonschema` crate.
//!
//! AJV changes the payload while it validates it, in a fixed keyword order; `jsonschema` only
//! reports errors. A schema is therefore compiled into two parts:
//!
//! * a *plan* that walks the payload along the schema in AJV's order and does what AJV does in
//!   place: type coercion (a failed coercion is AJV's type error), removal of undeclared keys
//!   where `additionalProperties` is `false`, and the composite keywords (`allOf`, `anyOf`,
//!   `oneOf`, `not`, `if`/`then`/`else`), which AJV evaluates *before* the object's properties
//!   are coerced and its unknown keys removed;
//! * a `jsonschema` validator of the schema without those composite keywords, run on the result
//!   (the composites' sub-schemas have validators of their own, run when AJV would run them).
//!
//! Errors of both parts are merged in AJV's evaluation order and worded as
//! `@segment/ajv-human-errors` words them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationOptions, Validator};
use regex::Regex;
use serde_json::{Map, Value};

use super::error::{FieldsError, HumanError, SchemaValidationError};
use super::field::Fields;
use super::formats::{self, FormatCheck};
use super::human;
use super::js::{as_f64, is_truthy, json_number_to_string, number_value, string_to_number};
use super::remove_empty::keep_cleaned;
use super::to_schema::fields_to_json_schema;

/// Schema nesting beyond which a schema is refused (protects the stack).
const MAX_SCHEMA_DEPTH: usize = 128;

/// Ranks of AJV's keywords within one schema object, in evaluation order.
mod rank {
    pub const TYPE_EARLY: u32 = 0;
    pub const CONST: u32 = 1;
    pub const ENUM: u32 = 2;
    pub const NOT: u32 = 3;
    pub const ANY_OF: u32 = 4;
    pub const ONE_OF: u32 = 5;
    pub const ALL_OF: u32 = 6;
    pub const IF: u32 = 7;
    pub const MAXIMUM: u32 = 10;
    pub const MINIMUM: u32 = 11;
    pub const EXCLUSIVE_MAXIMUM: u32 = 12;
    pub const EXCLUSIVE_MINIMUM: u32 = 13;
    pub const MULTIPLE_OF: u32 = 14;
    pub const FORMAT_NUMBER: u32 = 15;
    pub const MAX_LENGTH: u32 = 20;
    pub const MIN_LENGTH: u32 = 21;
    pub const PATTERN: u32 = 22;
    pub const FORMAT: u32 = 23;
    pub const MAX_ITEMS: u32 = 30;
    pub const MIN_ITEMS: u32 = 31;
    pub const UNIQUE_ITEMS: u32 = 32;
    pub const ADDITIONAL_ITEMS: u32 = 33;
    pub const ITEMS: u32 = 34;
    pub const CONTAINS: u32 = 35;
    pub const MAX_PROPERTIES: u32 = 40;
    pub const MIN_PROPERTIES: u32 = 41;
    pub const REQUIRED: u32 = 42;
    pub const PROPERTY_NAMES: u32 = 43;
    pub const ADDITIONAL_PROPERTIES: u32 = 44;
    pub const DEPENDENCIES: u32 = 45;
    pub const PROPERTIES: u32 = 46;
    pub const PATTERN_PROPERTIES: u32 = 47;
    pub const TYPE_LATE: u32 = 48;
    pub const OTHER: u32 = 60;
}

const COMPOSITE_KEYWORDS: [&str; 7] = ["not", "anyOf", "oneOf", "allOf", "if", "then", "else"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum JType {
    Null,
    Boolean,
    Object,
    Array,
    Number,
    Integer,
    String,
}

impl JType {
    fn parse(name: &str) -> Option<JType> {
        Some(match name {
            "null" => JType::Null,
            "boolean" => JType::Boolean,
            "object" => JType::Object,
            "array" => JType::Array,
            "number" => JType::Number,
            "integer" => JType::Integer,
            "string" => JType::String,
            _ => return None,
        })
    }

    fn matches(self, v: &Value) -> bool {
        match self {
            JType::Null => v.is_null(),
            JType::Boolean => v.is_boolean(),
            JType::Object => v.is_object(),
            JType::Array => v.is_array(),
            JType::String => v.is_string(),
            JType::Number => v.is_number(),
            JType::Integer => v
                .as_number()
                .is_some_and(|n| n.is_i64() || n.is_u64() || as_f64(n).fract() == 0.0),
        }
    }
}

enum Additional {
    Keep,
    Remove,
    Schema(Box<Node>),
}

enum Items {
    None,
    Single(Box<Node>),
    Tuple(Vec<Node>, Option<Box<Node>>),
}

enum Composite {
    Not(Box<Unit>),
    AnyOf(Vec<Unit>),
    OneOf(Vec<Unit>),
    AllOf(Vec<Unit>),
    If {
        cond: Box<Unit>,
        then: Option<Box<Unit>>,
        otherwise: Option<Box<Unit>>,
    },
}

/// FNV-1a: a fast hash for the short keys of payload objects.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Declared properties in schema order, with a lookup by name that does not hash small sets.
#[derive(Default)]
struct Props {
    entries: Vec<(String, Node)>,
    index: Option<HashMap<String, usize, BuildHasherDefault<Fnv>>>,
}

impl Props {
    /// Properties beyond which names are hashed rather than compared one by one.
    const LINEAR: usize = 8;

    fn new(entries: Vec<(String, Node)>) -> Self {
        let index = (entries.len() > Self::LINEAR).then(|| {
            entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect()
        });
        Props { entries, index }
    }

    fn find(&self, key: &str) -> Option<(usize, &Node)> {
        match &self.index {
            Some(index) => index
                .get(key)
                .and_then(|&i| self.entries.get(i).map(|(_, node)| (i, node))),
            None => self
                .entries
                .iter()
                .enumerate()
                .find(|(_, (k, _))| k == key)
                .map(|(i, (_, node))| (i, node)),
        }
    }

    /// Like [`Props::find`], trying position `hint` first: payloads usually list their keys in
    /// the schema's order, so most lookups are one comparison.
    fn find_from(&self, key: &str, hint: usize) -> Option<(usize, &Node)> {
        match self.entries.get(hint) {
            Some((k, node)) if k == key => Some((hint, node)),
            _ => self.find(key),
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }
}

/// The facts `removeEmptyValues` reads from a schema.
struct Empties {
    /// `type` or `enum` is set (otherwise the value is left alone).
    typed: bool,
    allows_null: bool,
    allows_string: bool,
    has_properties: bool,
    has_items: bool,
}

/// A number format's check.
type NumberCheck = fn(f64) -> bool;

/// One schema object of the plan.
struct Node {
    /// JSON pointer of this schema within its unit's schema.
    ptr: String,
    /// The schema object itself, minus its sub-schemas' detail (title, type, errorMessage).
    meta: Value,
    types: Vec<JType>,
    coerce_to: Vec<JType>,
    /// AJV checks (and coerces) the type before the other keywords; otherwise (a lone `object`
    /// type with object keywords) the type error comes with the object keywords.
    early_type_check: bool,
    properties: Props,
    patterns: Vec<(Regex, Node)>,
    additional: Additional,
    items: Items,
    composites: Vec<Composite>,
    number_format: Option<(String, NumberCheck)>,
    /// What `removeEmptyValues` needs to know about this schema.
    empties: Empties,
    /// `jsonschema` validator of this node alone, compiled when first needed.
    lazy_check: OnceLock<Option<Validator>>,
}

/// A schema with its plan and the `jsonschema` validator of its composite-free part.
struct Unit {
    node: Node,
    check: Validator,
    check_schema: Value,
}

/// A JSON schema compiled once and used for many payloads, with the reference's validation
/// semantics (see [`CompiledSchema::validate`]). `Send + Sync`: share it across threads.
///
/// ```
/// use actions_core::fields::CompiledSchema;
/// use serde_json::json;
///
/// let schema = CompiledSchema::compile(&json!({
///     "type": "object", "additionalProperties": false,
///     "properties": {"n": {"title": "Count", "type": "integer"}}, "required": ["n"]
/// })).unwrap();
/// let mut payload = json!({"n": "42", "extra": true});
/// schema.validate(&mut payload, &[]).unwrap();
/// assert_eq!(payload, json!({"n": 42}));
///
/// let err = schema.validate(&mut json!({"n": "many"}), &[]).unwrap_err();
/// assert_eq!(err.message(), "Count must be an integer but it was a string.");
/// ```
pub struct CompiledSchema {
    schema: Value,
    root: Unit,
    /// Root properties whose schema `type` is `"array"`: scalars are wrapped before validation.
    arrify: Vec<String>,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn validation_options() -> ValidationOptions<'static> {
    let mut options = jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true);
    for name in formats::NAMES {
        options = match formats::lookup(name) {
            Some(FormatCheck::Str(check)) => options.with_format(*name, check),
            // Number formats do not constrain strings.
            Some(FormatCheck::Num(_)) => options.with_format(*name, |_: &str| true),
            None => options,
        };
    }
    options
}

impl CompiledSchema {
    /// Compiles a JSON schema (draft-07 semantics, as AJV's default).
    ///
    /// ```
    /// use actions_core::fields::CompiledSchema;
    /// let err = CompiledSchema::compile(&serde_json::json!({"allOf": []})).unwrap_err();
    /// assert!(err.message().starts_with("schema is invalid"));
    /// ```
    ///
    /// # Errors
    /// The schema is not a valid draft-07 schema, uses an unknown `format`, a `patternProperties`
    /// pattern the `regex` crate cannot compile, or is nested deeper than 128 levels.
    pub fn compile(schema: &Value) -> Result<CompiledSchema, FieldsError> {
        if let Err(e) = jsonschema::draft7::meta::validate(schema) {
            let at = e.instance_path().as_str().to_owned();
            return Err(FieldsError::compile(format!(
                "schema is invalid: data{at} {e}"
            )));
        }
        let options = validation_options();
        let root = build_unit(schema, "", 0, &options)?;
        let arrify = match schema.get("properties") {
            Some(Value::Object(props)) => props
                .iter()
                .filter(|(_, s)| s.get("type").and_then(Value::as_str) == Some("array"))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        };
        Ok(CompiledSchema {
            schema: schema.clone(),
            root,
            arrify,
        })
    }

    /// `fieldsToJsonSchema(fields)` compiled.
    ///
    /// ```
    /// use actions_core::fields::{CompiledSchema, Fields, FieldType, InputField};
    /// use serde_json::json;
    ///
    /// let mut fields = Fields::new();
    /// fields.insert("tags".into(), InputField { multiple: Some(true), ..InputField::new(FieldType::String, "Tags") });
    /// let schema = CompiledSchema::from_fields(&fields).unwrap();
    /// let mut payload = json!({"tags": "one"});
    /// schema.validate(&mut payload, &[]).unwrap();
    /// assert_eq!(payload, json!({"tags": ["one"]}));
    /// ```
    ///
    /// # Errors
    /// As [`fields_to_json_schema`] and [`CompiledSchema::compile`].
    pub fn from_fields(fields: &Fields) -> Result<CompiledSchema, FieldsError> {
        Self::compile(&fields_to_json_schema(fields)?)
    }

    /// [`remove_empty_values`](super::remove_empty_values)`(payload, self.schema(), is_root)`,
    /// reading the compiled schema instead of the JSON one (faster; same result).
    ///
    /// ```
    /// use actions_core::fields::{CompiledSchema, Fields};
    /// use serde_json::json;
    ///
    /// let fields: Fields = serde_json::from_value(json!({
    ///     "s": {"type": "string"}, "n": {"type": "number"}, "z": {"type": "number", "allowNull": true}
    /// })).unwrap();
    /// let schema = CompiledSchema::from_fields(&fields).unwrap();
    /// let payload = json!({"s": "", "n": null, "z": null});
    /// assert_eq!(schema.remove_empty_values(payload.clone(), true), Some(json!({"z": null})));
    /// assert_eq!(schema.remove_empty_values(payload, false), Some(json!({"s": "", "z": null})));
    /// ```
    pub fn remove_empty_values(&self, payload: Value, is_root: bool) -> Option<Value> {
        remove_empty(&self.root.node, payload, is_root)
    }

    /// The JSON schema this was compiled from.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The reference's `validateSchema(payload, schema, {exempt})`: validates `payload` in place.
    ///
    /// As AJV with `coerceTypes: 'array'` and `removeAdditional: true` does, this converts values
    /// to the declared types (`123` → `"123"`, `"true"` → `true`, `null` → `""`/`0`/`false`, a
    /// one-element array → its element, a scalar → a one-element array), and deletes keys that
    /// a schema with `additionalProperties: false` does not declare — also when the payload
    /// turns out invalid. Top-level `exempt` keys are kept as they were. On failure every error
    /// is reported, in AJV's order.
    ///
    /// ```
    /// use actions_core::fields::{CompiledSchema, Fields, FieldType, InputField};
    /// use serde_json::json;
    ///
    /// let mut fields = Fields::new();
    /// fields.insert("id".into(), InputField { required: Some(true.into()), ..InputField::new(FieldType::String, "ID") });
    /// let schema = CompiledSchema::from_fields(&fields).unwrap();
    ///
    /// let mut payload = json!({"id": 7, "dynamicAuthSettings": {"t": 1}, "junk": 1});
    /// schema.validate(&mut payload, &["dynamicAuthSettings"]).unwrap();
    /// assert_eq!(payload, json!({"id": "7", "dynamicAuthSettings": {"t": 1}}));
    ///
    /// let err = schema.validate(&mut json!({}), &[]).unwrap_err();
    /// assert_eq!(err.to_string(), "The root value is missing the required field 'id'.");
    /// ```
    ///
    /// # Errors
    /// [`SchemaValidationError`] with every error when the payload is invalid.
    pub fn validate(
        &self,
        payload: &mut Value,
        exempt: &[&str],
    ) -> Result<(), SchemaValidationError> {
        // Exempt keys are saved and put back after validation. Undeclared ones are moved out (AJV
        // would delete them); declared ones are validated, then restored to their first value.
        let mut saved: Vec<(&str, Value)> = Vec::new();
        if let Value::Object(obj) = payload {
            for key in exempt {
                if self.root.node.properties.contains(key) {
                    if let Some(v) = obj.get(*key) {
                        saved.push((key, v.clone()));
                    }
                } else if let Some(v) = obj.shift_remove(*key) {
                    saved.push((key, v));
                }
            }
            // `arrifyFields`: AJV only wraps scalars itself, so the reference wraps top-level
            // values of array fields (including objects) first; `null` is left to AJV.
            for key in &self.arrify {
                if let Some(v) = obj.get_mut(key)
                    && !v.is_null()
                    && !v.is_array()
                {
                    let inner = v.take();
                    *v = Value::Array(vec![inner]);
                }
            }
        }
        let mut state = State {
            errors: Vec::new(),
            type_pointers: Vec::new(),
            overrides: Vec::new(),
        };
        let root = Loc::root();
        let ok = evaluate(&self.root, payload, &root, &mut state, true);
        if let Value::Object(obj) = payload {
            for (key, value) in saved {
                obj.insert(key.to_owned(), value);
            }
        }
        if ok {
            return Ok(());
        }
        let mut errors = state.errors;
        errors.sort_by(|a, b| a.key.cmp(&b.key));
        Err(SchemaValidationError::new(
            errors
                .into_iter()
                .map(|p| HumanError {
                    path: human::json_path(&p.pointer),
                    pointer: p.pointer,
                    message: p.message,
                })
                .collect(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation

fn escape_pointer(s: &str) -> Cow<'_, str> {
    if s.contains(['~', '/']) {
        Cow::Owned(s.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The schema without composite keywords along the paths the plan walks (the plan evaluates
/// them when AJV would).
///
/// Along those paths the plan also does what `type` and `additionalProperties: false` require
/// (a value the plan could not coerce is a type error it reports; undeclared keys are gone), so
/// those keywords are left out too and `jsonschema` checks the rest.
fn strip_composites(schema: &Value, depth: usize) -> Value {
    let Value::Object(obj) = schema else {
        return schema.clone();
    };
    if depth > MAX_SCHEMA_DEPTH {
        return schema.clone();
    }
    let mut out = Map::with_capacity(obj.len());
    for (k, v) in obj {
        if COMPOSITE_KEYWORDS.contains(&k.as_str())
            || k == "type"
            || (k == "additionalProperties" && *v == Value::Bool(false))
        {
            continue;
        }
        let stripped = match (k.as_str(), v) {
            ("properties" | "patternProperties", Value::Object(props)) => Value::Object(
                props
                    .iter()
                    .map(|(pk, pv)| (pk.clone(), strip_composites(pv, depth + 1)))
                    .collect(),
            ),
            ("additionalProperties" | "additionalItems" | "items", Value::Object(_)) => {
                strip_composites(v, depth + 1)
            }
            ("items", Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|s| strip_composites(s, depth + 1))
                    .collect(),
            ),
            _ => v.clone(),
        };
        out.insert(k.clone(), stripped);
    }
    Value::Object(out)
}

fn build_unit(
    schema: &Value,
    abs: &str,
    depth: usize,
    options: &ValidationOptions<'static>,
) -> Result<Unit, FieldsError> {
    let check_schema = strip_composites(schema, 0);
    let check = options
        .build(&check_schema)
        .map_err(|e| FieldsError::compile(format!("schema is invalid: {e}")))?;
    let node = build_node(schema, String::new(), abs, depth, options)?;
    Ok(Unit {
        node,
        check,
        check_schema,
    })
}

fn has_object_rules(obj: &Map<String, Value>) -> bool {
    [
        "maxProperties",
        "minProperties",
        "required",
        "propertyNames",
        "additionalProperties",
        "dependencies",
        "properties",
        "patternProperties",
    ]
    .iter()
    .any(|k| obj.contains_key(*k))
}

fn schema_types(obj: &Map<String, Value>) -> Vec<JType> {
    match obj.get("type") {
        Some(Value::String(s)) => JType::parse(s).into_iter().collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|t| t.as_str().and_then(JType::parse))
            .collect(),
        _ => Vec::new(),
    }
}

fn build_node(
    schema: &Value,
    ptr: String,
    abs: &str,
    depth: usize,
    options: &ValidationOptions<'static>,
) -> Result<Node, FieldsError> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(FieldsError::compile(format!(
            "schema is nested deeper than {MAX_SCHEMA_DEPTH} levels"
        )));
    }
    let empty = Map::new();
    let obj = schema.as_object().unwrap_or(&empty);
    let types = schema_types(obj);
    let coerce_to: Vec<JType> = types
        .iter()
        .copied()
        .filter(|t| *t != JType::Object)
        .collect();
    let early_type_check =
        !(types.is_empty() || (coerce_to.is_empty() && types.len() == 1 && has_object_rules(obj)));

    let mut meta = Map::new();
    for k in ["title", "type", "errorMessage"] {
        if let Some(v) = obj.get(k) {
            meta.insert(k.to_owned(), v.clone());
        }
    }

    let child = |sub: &Value, seg: String| -> Result<Node, FieldsError> {
        build_node(
            sub,
            format!("{ptr}/{seg}"),
            &format!("{abs}/{seg}"),
            depth + 1,
            options,
        )
    };
    let unit = |sub: &Value, seg: String| -> Result<Unit, FieldsError> {
        build_unit(sub, &format!("{abs}/{seg}"), depth + 1, options)
    };

    let mut entries = Vec::new();
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (k, v) in props {
            entries.push((
                k.clone(),
                child(v, format!("properties/{}", escape_pointer(k)))?,
            ));
        }
    }
    let properties = Props::new(entries);
    let mut patterns = Vec::new();
    if let Some(Value::Object(props)) = obj.get("patternProperties") {
        for (pattern, v) in props {
            let re = Regex::new(&formats::js_to_rust(pattern, false)).map_err(|_| {
                FieldsError::compile(format!("unsupported patternProperties pattern {pattern:?}"))
            })?;
            patterns.push((
                re,
                child(v, format!("patternProperties/{}", escape_pointer(pattern)))?,
            ));
        }
    }
    let additional = match obj.get("additionalProperties") {
        Some(Value::Bool(false)) => Additional::Remove,
        Some(v @ Value::Object(_)) => {
            Additional::Schema(Box::new(child(v, "additionalProperties".into())?))
        }
        _ => Additional::Keep,
    };
    let items = match obj.get("items") {
        Some(v @ Value::Object(_)) => Items::Single(Box::new(child(v, "items".into())?)),
        Some(Value::Array(list)) => {
            let mut nodes = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                nodes.push(child(v, format!("items/{i}"))?);
            }
            let rest = match obj.get("additionalItems") {
                Some(v @ Value::Object(_)) => Some(Box::new(child(v, "additionalItems".into())?)),
                _ => None,
            };
            Items::Tuple(nodes, rest)
        }
        _ => Items::None,
    };

    let mut composites = Vec::new();
    if let Some(v) = obj.get("not") {
        composites.push(Composite::Not(Box::new(unit(v, "not".into())?)));
    }
    for (keyword, make) in [
        ("anyOf", Composite::AnyOf as fn(Vec<Unit>) -> Composite),
        ("oneOf", Composite::OneOf),
        ("allOf", Composite::AllOf),
    ] {
        if let Some(Value::Array(list)) = obj.get(keyword) {
            let mut units = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                units.push(unit(v, format!("{keyword}/{i}"))?);
            }
            composites.push(make(units));
        }
    }
    if let Some(cond) = obj.get("if") {
        let then = obj
            .get("then")
            .map(|v| unit(v, "then".into()))
            .transpose()?
            .map(Box::new);
        let otherwise = obj
            .get("else")
            .map(|v| unit(v, "else".into()))
            .transpose()?
            .map(Box::new);
        if then.is_some() || otherwise.is_some() {
            composites.push(Composite::If {
                cond: Box::new(unit(cond, "if".into())?),
                then,
                otherwise,
            });
        }
    }

    let number_format = match obj.get("format") {
        Some(Value::String(name)) => match formats::lookup(name) {
            Some(FormatCheck::Num(check)) => Some((name.clone(), check)),
            Some(FormatCheck::Str(_)) => None,
            None => {
                return Err(FieldsError::compile(format!(
                    "unknown format \"{name}\" ignored in schema at path \"#{abs}\""
                )));
            }
        },
        _ => None,
    };

    let type_includes = |name: &str| match obj.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(list)) => list.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    };
    let empties = Empties {
        typed: obj.get("type").is_some_and(is_truthy) || obj.get("enum").is_some_and(is_truthy),
        allows_null: type_includes("null"),
        allows_string: type_includes("string"),
        has_properties: obj.get("properties").is_some_and(Value::is_object),
        has_items: obj.get("items").is_some_and(is_truthy),
    };

    Ok(Node {
        ptr,
        meta: Value::Object(meta),
        types,
        coerce_to,
        early_type_check,
        properties,
        patterns,
        additional,
        items,
        composites,
        number_format,
        empties,
        lazy_check: OnceLock::new(),
    })
}

/// `removeEmptyValues` over the plan (see `remove_empty.rs` for the JSON-schema version).
fn remove_empty(node: &Node, value: Value, is_root: bool) -> Option<Value> {
    let e = &node.empties;
    if !e.typed {
        return Some(value);
    }
    let drops = |item: &Value, node: &Node| {
        node.empties.typed
            && match item {
                Value::Null => !node.empties.allows_null,
                Value::String(s) => s.is_empty() && !node.empties.allows_string,
                _ => false,
            }
    };
    match value {
        Value::Array(mut items) => {
            if let (true, Items::Single(item_node)) = (e.has_items, &node.items) {
                items.retain(|item| !drops(item, item_node));
            }
            Some(Value::Array(items))
        }
        Value::Object(mut map) => {
            if e.has_properties {
                let mut hint = 0;
                map.retain(|key, v| {
                    let cleaned = match node.properties.find_from(key, hint) {
                        Some((i, child)) => {
                            hint = i + 1;
                            remove_empty(child, std::mem::take(v), false)
                        }
                        None => Some(std::mem::take(v)),
                    };
                    keep_cleaned(v, cleaned, is_root)
                });
            }
            Some(Value::Object(map))
        }
        scalar => (!drops(&scalar, node)).then_some(scalar),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Where the walk is: a linked list on the stack (no allocation unless an error is recorded).
struct Loc<'a> {
    parent: Option<&'a Loc<'a>>,
    seg: Seg<'a>,
    rank: Option<[u32; 2]>,
}

enum Seg<'a> {
    None,
    Key(Cow<'a, str>),
    Index(usize),
}

impl<'a> Loc<'a> {
    fn root() -> Loc<'static> {
        Loc {
            parent: None,
            seg: Seg::None,
            rank: None,
        }
    }

    fn child(&'a self, seg: Seg<'a>, rank: u32, index: usize) -> Loc<'a> {
        Loc {
            parent: Some(self),
            seg,
            rank: Some([rank, u32::try_from(index).unwrap_or(u32::MAX)]),
        }
    }

    fn pointer(&self) -> String {
        let mut segs: Vec<&Seg<'_>> = Vec::new();
        let mut cur = Some(self);
        while let Some(loc) = cur {
            if !matches!(loc.seg, Seg::None) {
                segs.push(&loc.seg);
            }
            cur = loc.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            out.push('/');
            match seg {
                Seg::Key(k) => out.push_str(&escape_pointer(k)),
                Seg::Index(i) => out.push_str(&i.to_string()),
                Seg::None => {}
            }
        }
        out
    }

    fn key(&self) -> Vec<u32> {
        let mut ranks = Vec::new();
        let mut cur = Some(self);
        while let Some(loc) = cur {
            if let Some([a, b]) = loc.rank {
                ranks.push(b);
                ranks.push(a);
            }
            cur = loc.parent;
        }
        ranks.reverse();
        ranks
    }
}

struct Pending {
    key: Vec<u32>,
    pointer: String,
    message: String,
}

/// A node whose failed coercion unwrapped a one-element array: AJV checks the node's other
/// keywords against the element (and reports them at the node's path).
struct Override<'p> {
    pointer: String,
    key: Vec<u32>,
    node: &'p Node,
}

struct State<'p> {
    errors: Vec<Pending>,
    type_pointers: Vec<String>,
    overrides: Vec<Override<'p>>,
}

impl State<'_> {
    /// Records an error at `at`; returns its pointer.
    fn push(&mut self, at: &Loc<'_>, rank: u32, sub: u32, parent: &Value, body: &str) -> String {
        let pointer = at.pointer();
        let mut key = at.key();
        key.push(rank);
        key.push(sub);
        let message = human::sentence(parent, &pointer, body);
        self.errors.push(Pending {
            key,
            pointer: pointer.clone(),
            message,
        });
        pointer
    }
}

/// Validates `data` against a unit; records errors when `want` (otherwise stops at the first
/// one, as AJV does inside `if` and `not`). Returns whether it is valid.
fn evaluate<'p>(
    unit: &'p Unit,
    data: &mut Value,
    at: &Loc<'_>,
    st: &mut State<'p>,
    want: bool,
) -> bool {
    let (e0, t0, o0) = (st.errors.len(), st.type_pointers.len(), st.overrides.len());
    let pass_ok = visit(&unit.node, data, at, st, want);
    if !want {
        return pass_ok && unit.check.is_valid(data);
    }
    if !unit.check.is_valid(data) || st.overrides.len() > o0 {
        collect_check_errors(unit, data, at, st, t0, o0);
    }
    st.type_pointers.truncate(t0);
    st.overrides.truncate(o0);
    st.errors.len() == e0
}

fn collect_check_errors(
    unit: &Unit,
    data: &Value,
    at: &Loc<'_>,
    st: &mut State<'_>,
    t0: usize,
    o0: usize,
) {
    let base = at.pointer();
    let base_key = at.key();
    let mut found = Vec::new();
    for err in unit.check.iter_errors(data) {
        let abs = format!("{base}{}", err.instance_path().as_str());
        let is_type = matches!(err.kind(), ValidationErrorKind::Type { .. });
        if is_type && st.type_pointers.get(t0..).is_some_and(|p| p.contains(&abs)) {
            continue;
        }
        let overridden = st.overrides.get(o0..).is_some_and(|ovs| {
            ovs.iter().any(|o| {
                abs == o.pointer
                    || abs
                        .strip_prefix(o.pointer.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        });
        if overridden {
            continue;
        }
        convert(&unit.check_schema, &err, &base_key, &base, &mut found);
    }
    for ov in st.overrides.get(o0..).unwrap_or(&[]) {
        let Some(rel) = ov.pointer.get(base.len()..) else {
            continue;
        };
        let Some(element) = data.pointer(rel).and_then(|v| v.get(0)) else {
            continue;
        };
        let Some(node_schema) = unit.check_schema.pointer(&ov.node.ptr) else {
            continue;
        };
        let validator = ov
            .node
            .lazy_check
            .get_or_init(|| validation_options().build(node_schema).ok());
        let Some(validator) = validator else {
            continue;
        };
        for err in validator.iter_errors(element) {
            if err.instance_path().as_str().is_empty()
                && matches!(err.kind(), ValidationErrorKind::Type { .. })
            {
                continue;
            }
            convert(node_schema, &err, &ov.key, &ov.pointer, &mut found);
        }
    }
    st.errors.append(&mut found);
}

fn split_pointer(p: &str) -> Vec<Cow<'_, str>> {
    if p.is_empty() {
        return Vec::new();
    }
    p.get(1..)
        .unwrap_or("")
        .split('/')
        .map(unescape_pointer)
        .collect()
}

fn unescape_pointer(segment: &str) -> Cow<'_, str> {
    if segment.contains('~') {
        Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(segment)
    }
}

fn keyword_rank(keyword: &str, parent: &Value) -> u32 {
    match keyword {
        "type" => {
            let late = parent.as_object().is_some_and(|obj| {
                let types = schema_types(obj);
                types == [JType::Object] && has_object_rules(obj)
            });
            if late {
                rank::TYPE_LATE
            } else {
                rank::TYPE_EARLY
            }
        }
        "const" => rank::CONST,
        "enum" => rank::ENUM,
        "not" => rank::NOT,
        "anyOf" => rank::ANY_OF,
        "oneOf" => rank::ONE_OF,
        "allOf" => rank::ALL_OF,
        "if" | "then" | "else" => rank::IF,
        "maximum" => rank::MAXIMUM,
        "minimum" => rank::MINIMUM,
        "exclusiveMaximum" => rank::EXCLUSIVE_MAXIMUM,
        "exclusiveMinimum" => rank::EXCLUSIVE_MINIMUM,
        "multipleOf" => rank::MULTIPLE_OF,
        "maxLength" => rank::MAX_LENGTH,
        "minLength" => rank::MIN_LENGTH,
        "pattern" => rank::PATTERN,
        "format" => rank::FORMAT,
        "maxItems" => rank::MAX_ITEMS,
        "minItems" => rank::MIN_ITEMS,
        "uniqueItems" => rank::UNIQUE_ITEMS,
        "additionalItems" => rank::ADDITIONAL_ITEMS,
        "items" => rank::ITEMS,
        "contains" => rank::CONTAINS,
        "maxProperties" => rank::MAX_PROPERTIES,
        "minProperties" => rank::MIN_PROPERTIES,
        "required" => rank::REQUIRED,
        "propertyNames" => rank::PROPERTY_NAMES,
        "additionalProperties" => rank::ADDITIONAL_PROPERTIES,
        "dependencies" => rank::DEPENDENCIES,
        "properties" => rank::PROPERTIES,
        "patternProperties" => rank::PATTERN_PROPERTIES,
        _ => rank::OTHER,
    }
}

fn index_of(map: Option<&Value>, name: &str) -> u32 {
    map.and_then(Value::as_object)
        .and_then(|m| m.keys().position(|k| k == name))
        .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
}

/// Turns a `jsonschema` error into AJV-ordered, human-worded errors. `root` is the schema the
/// validator was built from, `key`/`base` the position of the validated value.
fn convert(
    root: &Value,
    err: &jsonschema::ValidationError<'_>,
    key: &[u32],
    base: &str,
    out: &mut Vec<Pending>,
) {
    let schema_segs = split_pointer(err.schema_path().as_str());
    let instance_segs = split_pointer(err.instance_path().as_str());
    let keyword = err.kind().keyword();
    let mut key = key.to_vec();
    let mut node = root;
    let mut inst = 0;
    let mut i = 0;
    while i + 1 < schema_segs.len() {
        let seg = schema_segs.get(i).map_or("", |s| s.as_ref());
        let next = schema_segs.get(i + 1).map_or("", |s| s.as_ref());
        let (rank, index, target, consumed, step) = match seg {
            "properties" | "patternProperties" | "dependencies" => (
                keyword_rank(seg, node),
                index_of(node.get(seg), next),
                node.get(seg).and_then(|m| m.get(next)),
                seg != "dependencies",
                2,
            ),
            "items" if node.get("items").is_some_and(Value::is_array) => (
                rank::ITEMS,
                next.parse().unwrap_or(u32::MAX),
                node.get("items")
                    .and_then(|a| a.get(next.parse::<usize>().unwrap_or(usize::MAX))),
                true,
                2,
            ),
            "items" | "additionalItems" | "additionalProperties" | "contains" => (
                keyword_rank(seg, node),
                instance_segs
                    .get(inst)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                node.get(seg),
                true,
                1,
            ),
            "allOf" | "anyOf" | "oneOf" => (
                keyword_rank(seg, node),
                next.parse().unwrap_or(u32::MAX),
                node.get(seg)
                    .and_then(|a| a.get(next.parse::<usize>().unwrap_or(usize::MAX))),
                false,
                2,
            ),
            "not" | "if" | "then" | "else" | "propertyNames" => {
                (keyword_rank(seg, node), 0, node.get(seg), false, 1)
            }
            _ => break,
        };
        let Some(target) = target else {
            break;
        };
        key.push(rank);
        key.push(index);
        node = target;
        if consumed {
            inst += 1;
        }
        i += step;
    }
    let sub = match err.kind() {
        ValidationErrorKind::Required { property } => {
            index_of_in_array(node.get("required"), property)
        }
        _ => 0,
    };
    key.push(keyword_rank(keyword, node));
    key.push(sub);
    let pointer = format!("{base}{}", err.instance_path().as_str());
    for body in human::bodies(err.kind(), node, err.instance()) {
        out.push(Pending {
            key: key.clone(),
            pointer: pointer.clone(),
            message: human::sentence(node, &pointer, &body),
        });
    }
}

fn index_of_in_array(list: Option<&Value>, item: &Value) -> u32 {
    list.and_then(Value::as_array)
        .and_then(|l| l.iter().position(|v| v == item))
        .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
}

/// AJV's checks for one schema object, in its order; returns whether no error was found.
fn visit<'p>(
    node: &'p Node,
    data: &mut Value,
    at: &Loc<'_>,
    st: &mut State<'p>,
    want: bool,
) -> bool {
    let mut ok = true;
    let mut unwrapped = false;
    if node.early_type_check && !node.types.iter().any(|t| t.matches(data)) {
        match coerce(&node.types, &node.coerce_to, data) {
            Ok(value) => *data = value,
            Err(unwrapped_element) => {
                if !want {
                    return false;
                }
                ok = false;
                let shown = if unwrapped_element {
                    data.get(0)
                } else {
                    Some(&*data)
                };
                let body = human::type_body(&human::type_names(node.meta.get("type")), shown);
                let pointer = st.push(at, rank::TYPE_EARLY, 0, &node.meta, &body);
                st.type_pointers.push(pointer);
                if unwrapped_element {
                    st.overrides.push(Override {
                        pointer: at.pointer(),
                        key: at.key(),
                        node,
                    });
                    unwrapped = true;
                }
            }
        }
    }
    // After a failed unwrap AJV goes on with the element (its local `data` variable).
    let data: &mut Value = if unwrapped {
        match data.get_mut(0) {
            Some(element) => element,
            None => return ok,
        }
    } else {
        data
    };

    for composite in &node.composites {
        if !eval_composite(node, composite, data, at, st, want) {
            if !want {
                return false;
            }
            ok = false;
        }
    }

    if let (Some((name, check)), Value::Number(n)) = (&node.number_format, &*data)
        && !check(as_f64(n))
    {
        if !want {
            return false;
        }
        ok = false;
        let body = format!(
            "must be a valid {} string but it was not",
            formats::label(name)
        );
        st.push(at, rank::FORMAT_NUMBER, 0, &node.meta, &body);
    }

    if let Value::Array(items) = &mut *data {
        let visit_item =
            |i: usize, item: &mut Value, child: &'p Node, st: &mut State<'p>, rank: u32| {
                let loc = at.child(Seg::Index(i), rank, i);
                visit(child, item, &loc, st, want)
            };
        match &node.items {
            Items::None => {}
            Items::Single(child) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if !visit_item(i, item, child, st, rank::ITEMS) {
                        if !want {
                            return false;
                        }
                        ok = false;
                    }
                }
            }
            Items::Tuple(children, rest) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let (child, rank) = match (children.get(i), rest) {
                        (Some(c), _) => (c, rank::ITEMS),
                        (None, Some(r)) => (&**r, rank::ADDITIONAL_ITEMS),
                        (None, None) => break,
                    };
                    if !visit_item(i, item, child, st, rank) {
                        if !want {
                            return false;
                        }
                        ok = false;
                    }
                }
            }
        }
    }

    if let Value::Object(obj) = &mut *data {
        // One pass over the keys: declared ones are visited (AJV's `properties`), matching ones
        // too (`patternProperties`), the others removed (`additionalProperties: false`) or
        // visited (`additionalProperties: {...}`). Errors are ordered afterwards, so visiting in
        // the payload's key order instead of AJV's keyword order changes nothing observable.
        let mut failed = false;
        let mut hint = 0;
        obj.retain(|k, v| {
            let mut keep = false;
            if let Some((i, child)) = node.properties.find_from(k, hint) {
                hint = i + 1;
                keep = true;
                if want || !failed {
                    let loc = at.child(Seg::Key(Cow::Borrowed(k.as_str())), rank::PROPERTIES, i);
                    failed |= !visit(child, v, &loc, st, want);
                }
            }
            for (i, (re, child)) in node.patterns.iter().enumerate() {
                if re.is_match(k) {
                    keep = true;
                    if want || !failed {
                        let loc = at.child(
                            Seg::Key(Cow::Borrowed(k.as_str())),
                            rank::PATTERN_PROPERTIES,
                            i,
                        );
                        failed |= !visit(child, v, &loc, st, want);
                    }
                }
            }
            if keep {
                return true;
            }
            match &node.additional {
                Additional::Keep => true,
                Additional::Remove => false,
                Additional::Schema(child) => {
                    if want || !failed {
                        let loc = at.child(
                            Seg::Key(Cow::Borrowed(k.as_str())),
                            rank::ADDITIONAL_PROPERTIES,
                            0,
                        );
                        failed |= !visit(child, v, &loc, st, want);
                    }
                    true
                }
            }
        });
        if failed {
            if !want {
                return false;
            }
            ok = false;
        }
    } else if !node.early_type_check
        && !node.types.is_empty()
        && !node.types.iter().any(|t| t.matches(data))
    {
        // A lone `object` type is checked with the object keywords (AJV's type-group branch).
        if !want {
            return false;
        }
        ok = false;
        let body = human::type_body(&human::type_names(node.meta.get("type")), Some(data));
        let pointer = st.push(at, rank::TYPE_LATE, 0, &node.meta, &body);
        st.type_pointers.push(pointer);
    }
    ok
}

fn eval_composite<'p>(
    node: &'p Node,
    composite: &'p Composite,
    data: &mut Value,
    at: &Loc<'_>,
    st: &mut State<'p>,
    want: bool,
) -> bool {
    match composite {
        Composite::AllOf(units) => {
            let mut ok = true;
            for (i, unit) in units.iter().enumerate() {
                let loc = at.child(Seg::None, rank::ALL_OF, i);
                if !evaluate(unit, data, &loc, st, want) {
                    if !want {
                        return false;
                    }
                    ok = false;
                }
            }
            ok
        }
        Composite::AnyOf(units) => {
            let e0 = st.errors.len();
            for (i, unit) in units.iter().enumerate() {
                let loc = at.child(Seg::None, rank::ANY_OF, i);
                if evaluate(unit, data, &loc, st, want) {
                    st.errors.truncate(e0);
                    return true;
                }
            }
            if want {
                st.push(
                    at,
                    rank::ANY_OF,
                    u32::MAX,
                    &node.meta,
                    "must match a schema in anyOf",
                );
            }
            false
        }
        Composite::OneOf(units) => {
            let e0 = st.errors.len();
            let mut passing = 0;
            for (i, unit) in units.iter().enumerate() {
                let loc = at.child(Seg::None, rank::ONE_OF, i);
                if evaluate(unit, data, &loc, st, want) {
                    passing += 1;
                }
            }
            if passing == 1 {
                st.errors.truncate(e0);
                return true;
            }
            if passing > 1 {
                st.errors.truncate(e0);
            }
            if want {
                st.push(
                    at,
                    rank::ONE_OF,
                    u32::MAX,
                    &node.meta,
                    "must match exactly one schema in oneOf",
                );
            }
            false
        }
        Composite::Not(unit) => {
            let loc = at.child(Seg::None, rank::NOT, 0);
            if !evaluate(unit, data, &loc, st, false) {
                return true;
            }
            if want {
                st.push(at, rank::NOT, 1, &node.meta, "must NOT be valid");
            }
            false
        }
        Composite::If {
            cond,
            then,
            otherwise,
        } => {
            let loc = at.child(Seg::None, rank::IF, 0);
            let holds = evaluate(cond, data, &loc, st, false);
            let (clause, name) = if holds {
                (then, "then")
            } else {
                (otherwise, "else")
            };
            let Some(clause) = clause else {
                return true;
            };
            let loc = at.child(Seg::None, rank::IF, 1);
            if evaluate(clause, data, &loc, st, want) {
                return true;
            }
            if want {
                let body = format!("must match \"{name}\" schema");
                st.push(at, rank::IF, 2, &node.meta, &body);
            }
            false
        }
    }
}

/// AJV's `coerceData` with `coerceTypes: 'array'`. `Ok` holds the coerced value; `Err(true)` when
/// the value was a one-element array whose element AJV went on with.
fn coerce(types: &[JType], coerce_to: &[JType], data: &Value) -> Result<Value, bool> {
    if coerce_to.is_empty() {
        // Nothing to coerce to: AJV reports the type error straight away.
        return Err(false);
    }
    let mut local = data;
    let mut unwrapped = false;
    if let Value::Array(items) = data
        && let [element] = items.as_slice()
    {
        local = element;
        unwrapped = true;
        if all_types_match(types, element) {
            return Ok(element.clone());
        }
    }
    for t in coerce_to {
        let coerced = match (t, local) {
            (JType::String, Value::Number(n)) => Some(Value::String(json_number_to_string(n))),
            (JType::String, Value::Bool(b)) => Some(Value::String(b.to_string())),
            (JType::String, Value::Null) => Some(Value::String(String::new())),
            (JType::Number | JType::Integer, Value::Bool(b)) => Some(Value::from(u8::from(*b))),
            (JType::Number | JType::Integer, Value::Null) => Some(Value::from(0)),
            (JType::Number | JType::Integer, Value::String(s)) if !s.is_empty() => {
                let n = string_to_number(s);
                // `data == +data` (and `!(data % 1)` for integers; `Infinity % 1` is NaN).
                let integral = n.fract() == 0.0 || n.is_infinite();
                (!n.is_nan() && (*t == JType::Number || integral)).then(|| number_value(n))
            }
            (JType::Boolean, Value::String(s)) if s == "false" => Some(Value::Bool(false)),
            (JType::Boolean, Value::String(s)) if s == "true" => Some(Value::Bool(true)),
            (JType::Boolean, Value::Number(n)) if as_f64(n) == 0.0 => Some(Value::Bool(false)),
            (JType::Boolean, Value::Number(n)) if as_f64(n) == 1.0 => Some(Value::Bool(true)),
            (JType::Boolean, Value::Null) => Some(Value::Bool(false)),
            (JType::Null, Value::String(s)) if s.is_empty() => Some(Value::Null),
            (JType::Null, Value::Number(n)) if as_f64(n) == 0.0 => Some(Value::Null),
            (JType::Null, Value::Bool(false)) => Some(Value::Null),
            (JType::Array, Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null) => {
                Some(Value::Array(vec![local.clone()]))
            }
            _ => None,
        };
        if let Some(value) = coerced {
            return Ok(value);
        }
    }
    Err(unwrapped)
}

/// AJV's `checkDataTypes(types, data, DataType.Correct)`: with several types the per-type tests
/// are joined with `&&` (an AJV quirk), so an element matches only a single remaining type.
fn all_types_match(types: &[JType], v: &Value) -> bool {
    let has_number = types.contains(&JType::Number);
    let remaining: Vec<JType> = types
        .iter()
        .copied()
        .filter(|t| !(has_number && *t == JType::Integer))
        .collect();
    match remaining.as_slice() {
        [] => true,
        [only] => only.matches(v),
        several => {
            if several.contains(&JType::Array) && several.contains(&JType::Object) {
                // AJV's special case builds a "wrong type" test here; it never holds for JSON
                // values together with another type test.
                return false;
            }
            several.iter().all(|t| t.matches(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn coerce_one(types: &[&str], v: Value) -> Result<Value, bool> {
        let types: Vec<JType> = types.iter().filter_map(|t| JType::parse(t)).collect();
        let to: Vec<JType> = types
            .iter()
            .copied()
            .filter(|t| *t != JType::Object)
            .collect();
        if types.iter().any(|t| t.matches(&v)) {
            return Ok(v);
        }
        coerce(&types, &to, &v)
    }

    #[test]
    fn coercion_table() {
        let table: Vec<(&[&str], Value, Result<Value, bool>)> = vec![
            (&["string"], json!(123), Ok(json!("123"))),
            (&["string"], json!(12.5), Ok(json!("12.5"))),
            (&["string"], json!(true), Ok(json!("true"))),
            (&["string"], json!(null), Ok(json!(""))),
            (&["string"], json!(["a"]), Ok(json!("a"))),
            (&["string"], json!([1]), Ok(json!("1"))),
            (&["string"], json!({"a": 1}), Err(false)),
            (&["string"], json!(["a", "b"]), Err(false)),
            (&["number"], json!("12.5"), Ok(json!(12.5))),
            (&["number"], json!(" 7 "), Ok(json!(7))),
            (&["number"], json!(""), Err(false)),
            (&["number"], json!("abc"), Err(false)),
            (&["number"], json!(false), Ok(json!(0))),
            (&["number"], json!(null), Ok(json!(0))),
            (&["number"], json!(["a"]), Err(true)),
            (&["integer"], json!("3.5"), Err(false)),
            (&["integer"], json!("3.0"), Ok(json!(3))),
            (&["integer"], json!(true), Ok(json!(1))),
            (&["boolean"], json!("true"), Ok(json!(true))),
            (&["boolean"], json!(0), Ok(json!(false))),
            (&["boolean"], json!(null), Ok(json!(false))),
            (&["boolean"], json!("yes"), Err(false)),
            (&["boolean"], json!(2), Err(false)),
            (&["string", "null"], json!(""), Ok(json!(""))),
            (&["number", "null"], json!(""), Ok(json!(null))),
            (&["boolean", "null"], json!(false), Ok(json!(false))),
            (&["string", "null"], json!(["a"]), Err(true)),
            (&["string", "number"], json!(true), Ok(json!("true"))),
            (&["string", "number"], json!([5]), Ok(json!("5"))),
            (&["array"], json!("x"), Ok(json!(["x"]))),
            (&["array"], json!(null), Ok(json!([null]))),
            (&["array"], json!({"a": 1}), Err(false)),
            (&["object"], json!("x"), Err(false)),
        ];
        for (types, input, want) in table {
            assert_eq!(
                coerce_one(types, input.clone()),
                want,
                "{types:?} <- {input}"
            );
        }
    }

    #[test]
    fn compiled_schema_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CompiledSchema>();
    }

    #[test]
    fn unknown_formats_are_refused_like_ajv_strict_mode() {
        let err = CompiledSchema::compile(
            &json!({"properties": {"f": {"type": "string", "format": "nope"}}}),
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "unknown format \"nope\" ignored in schema at path \"#/properties/f\""
        );
    }

    #[test]
    fn error_order_follows_ajv_keyword_order() {
        let schema = CompiledSchema::compile(&json!({
            "type": "object", "additionalProperties": false,
            "properties": {
                "a": {"title": "A", "type": "string", "enum": ["x"], "minLength": 3},
                "b": {"title": "B", "type": "integer"}
            },
            "required": ["z", "a"],
            "allOf": [{"if": {"required": ["b"]}, "then": {"required": ["c"]}}]
        }))
        .unwrap();
        let err = schema
            .validate(&mut json!({"a": "yy", "b": "q"}), &[])
            .unwrap_err();
        let messages: Vec<_> = err.errors().iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "The root value is missing the required field 'c'.",
                "The root value must match \"then\" schema.",
                "The root value is missing the required field 'z'.",
                "A must be one of: \"x\".",
                "A must be 3 characters or more but it was 2 characters.",
                "B must be an integer but it was a string.",
            ]
        );
    }

    #[test]
    fn conditions_see_the_payload_before_coercion() {
        let schema = CompiledSchema::compile(&json!({
            "type": "object", "additionalProperties": false,
            "properties": {"n": {"type": "string"}, "b": {"type": "string"}},
            "allOf": [{"if": {"required": ["n"], "properties": {"n": {"const": "5"}}}, "then": {"required": ["b"]}}]
        }))
        .unwrap();
        // `5` becomes "5" only after the condition was evaluated on the number.
        let mut payload = json!({"n": 5});
        assert!(schema.validate(&mut payload, &[]).is_ok());
        assert_eq!(payload, json!({"n": "5"}));
        assert!(schema.validate(&mut json!({"n": "5"}), &[]).is_err());
    }

    #[test]
    fn failed_unwrap_checks_the_element() {
        let schema = CompiledSchema::compile(&json!({
            "type": "object",
            "properties": {"d": {"title": "D", "type": ["string", "number"], "format": "date-like"}}
        }))
        .unwrap();
        let mut payload = json!({"d": ["a"]});
        let err = schema.validate(&mut payload, &[]).unwrap_err();
        let messages: Vec<_> = err.errors().iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "D must be a string or number but it was a string.",
                "D must be a valid date-like string but it was not."
            ]
        );
        assert_eq!(payload, json!({"d": ["a"]}));
    }

    #[test]
    fn composites_report_like_ajv() {
        let schema = CompiledSchema::compile(&json!({
            "type": "object",
            "properties": {"x": {"anyOf": [{"type": "string", "maxLength": 1}, {"type": "boolean"}], "not": {"const": "q"}}}
        }))
        .unwrap();
        let mut ok = json!({"x": "a"});
        assert!(schema.validate(&mut ok, &[]).is_ok());
        let err = schema.validate(&mut json!({"x": "q"}), &[]).unwrap_err();
        assert_eq!(
            err.errors()[0].message,
            "The value at /x must NOT be valid."
        );
        let err = schema.validate(&mut json!({"x": "long"}), &[]).unwrap_err();
        let messages: Vec<_> = err.errors().iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "The value at /x must be 1 character or fewer but it was 4 characters.",
                "The value at /x must be a boolean but it was a string.",
                "The value at /x must match a schema in anyOf."
            ]
        );
    }

    fn fields_schema(fields: Value) -> CompiledSchema {
        let fields: Fields = serde_json::from_value(fields).unwrap();
        CompiledSchema::from_fields(&fields).unwrap()
    }

    #[test]
    fn undeclared_keys_are_removed_at_every_level_even_when_invalid() {
        let schema = fields_schema(json!({
            "o": {"type": "object", "properties": {"a": {"type": "string"}}},
            "free": {"type": "object"},
            "open": {"type": "object", "additionalProperties": true, "properties": {"a": {"type": "string"}}},
            "list": {"type": "object", "multiple": true, "properties": {"id": {"type": "string", "required": true}}},
            "n": {"label": "N", "type": "number"}
        }));
        let mut payload = json!({
            "o": {"a": 1, "x": 1},
            "free": {"x": {"y": null}},
            "open": {"a": 2, "x": 3},
            "list": [{"id": 1, "x": 1}, {"x": 2}],
            "n": "not a number",
            "top": true
        });
        let err = schema.validate(&mut payload, &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "The value at /list/1 is missing the required field 'id'. N must be a number but it was a string."
        );
        assert_eq!(
            payload,
            json!({
                "o": {"a": "1"},
                "free": {"x": {"y": null}},
                "open": {"a": "2", "x": 3},
                "list": [{"id": "1"}, {}],
                "n": "not a number"
            })
        );
    }

    #[test]
    fn exempt_keys_survive_validation_as_they_were() {
        let schema = fields_schema(json!({"a": {"type": "number"}, "b": {"type": "string"}}));
        let mut payload =
            json!({"a": "5", "b": 1, "dynamicAuthSettings": {"token": "t"}, "other": 1});
        schema
            .validate(&mut payload, &["a", "dynamicAuthSettings", "absent"])
            .unwrap();
        assert_eq!(
            payload,
            json!({"a": "5", "b": "1", "dynamicAuthSettings": {"token": "t"}})
        );
    }

    #[test]
    fn only_top_level_multiple_fields_wrap_objects() {
        let schema = fields_schema(json!({
            "tags": {"type": "string", "multiple": true},
            "items": {"type": "object", "multiple": true},
            "o": {"type": "object", "properties": {
                "tags": {"type": "string", "multiple": true},
                "items": {"label": "Items", "type": "object", "multiple": true}
            }}
        }));
        let mut payload =
            json!({"tags": null, "items": {"a": 1}, "o": {"tags": 5, "items": {"a": 1}}});
        let err = schema.validate(&mut payload, &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "Items must be an array but it was an object."
        );
        assert_eq!(
            payload,
            json!({"tags": [""], "items": [{"a": 1}], "o": {"tags": ["5"], "items": {"a": 1}}})
        );
    }

    #[test]
    fn conditional_requirements_on_object_children() {
        let schema = fields_schema(json!({
            "kind": {"type": "string"},
            "obj": {"label": "Obj", "type": "object", "properties": {
                "id": {"type": "string", "required": {"conditions": [{"fieldKey": "kind", "operator": "is", "value": "x"}]}},
                "k": {"type": "string"}
            }},
            "c": {"type": "string", "required": {"match": "any", "conditions": [
                {"fieldKey": "obj.k", "operator": "is", "value": "v"},
                {"fieldKey": "kind", "operator": "is_not", "value": "x"}
            ]}}
        }));
        assert!(
            schema
                .validate(&mut json!({"kind": "x", "obj": {"id": "1"}}), &[])
                .is_ok()
        );
        let err = schema
            .validate(&mut json!({"kind": "x", "obj": {"k": "v"}}), &[])
            .unwrap_err();
        assert_eq!(
            err.message(),
            "The value at /obj is missing the required field 'id'. The root value must match \"then\" schema. \
             The root value is missing the required field 'c'. The root value must match \"then\" schema."
        );
        let err = schema.validate(&mut json!({"kind": "y"}), &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "The root value is missing the required field 'c'. The root value must match \"then\" schema."
        );
    }
}
