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

mod build;
mod errors;
mod walk;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use jsonschema::{Draft, ValidationOptions, Validator};
use regex::Regex;
use serde_json::Value;

use super::error::{FieldsError, HumanError, SchemaValidationError};
use super::field::Fields;
use super::formats::{self, FormatCheck};
use super::human;
use super::js::as_f64;
use super::to_schema::fields_to_json_schema;

use self::build::*;
use self::errors::*;
use self::walk::*;

/// Schema nesting beyond which a schema is refused (protects the stack).
const MAX_SCHEMA_DEPTH: usize = 128;

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
