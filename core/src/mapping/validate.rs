//! Mapping validation, as the reference's `validate.ts` does it: the same checks, the same
//! messages, the same order.
//!
//! Errors found under the keys of an object are collected (the reference's `AggregateError`,
//! flattened); a problem in a directive at the root is a single error. Arrays are only checked to
//! be arrays, their items are not validated ([quirk]: problems there surface at run time), and
//! the objects of `@merge` are validated with an empty location ([quirk]).

use serde_json::{Map, Value};

use super::error::ValidationIssue;
use super::js::utf16_len;

/// The outcome of a failed check: one error, or an aggregate of several.
#[derive(Debug)]
pub(crate) enum VErr {
    One(ValidationIssue),
    Agg(Vec<ValidationIssue>),
}

type VResult = Result<(), VErr>;

/// The directives known to validation (and to the evaluator).
pub(crate) const DIRECTIVES: [&str; 13] = [
    "@if",
    "@case",
    "@replace",
    "@arrayPath",
    "@path",
    "@json",
    "@flatten",
    "@merge",
    "@template",
    "@literal",
    "@transform",
    "@excludeWhenNull",
    "@liquid",
];

/// `realTypeOrDirective`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Undefined,
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
    Directive,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Undefined => "undefined",
            Ty::Null => "null",
            Ty::Boolean => "boolean",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::Array => "array",
            Ty::Object => "object",
            Ty::Directive => "directive",
        }
    }
}

fn real_type(v: Option<&Value>) -> Ty {
    match v {
        None => Ty::Undefined,
        Some(Value::Null) => Ty::Null,
        Some(Value::Bool(_)) => Ty::Boolean,
        Some(Value::Number(_)) => Ty::Number,
        Some(Value::String(_)) => Ty::String,
        Some(Value::Array(_)) => Ty::Array,
        Some(Value::Object(_)) => Ty::Object,
    }
}

fn real_type_or_directive(v: Option<&Value>) -> Ty {
    match v {
        Some(Value::Object(map)) if map.keys().any(|k| k.starts_with('@')) => Ty::Directive,
        other => real_type(other),
    }
}

fn article(type_name: &str) -> &'static str {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn a_type(t: Ty) -> String {
    format!("{} {}", article(t.name()), t.name())
}

fn err(stack: &[String], text: impl Into<String>) -> VErr {
    VErr::One(ValidationIssue::new(stack, text))
}

fn with(stack: &[String], key: &str) -> Vec<String> {
    let mut s = stack.to_vec();
    s.push(key.to_owned());
    s
}

fn flatten_into(errors: &mut Vec<ValidationIssue>, e: VErr) {
    match e {
        VErr::One(i) => errors.push(i),
        VErr::Agg(list) => errors.extend(list),
    }
}

/// Validates a mapping (already reduced to what the reference processes).
pub(crate) fn validate(mapping: Option<&Value>, stack: &[String]) -> VResult {
    match real_type_or_directive(mapping) {
        Ty::Directive => validate_directive(mapping, stack),
        Ty::Object => validate_object(mapping, stack),
        Ty::Array => validate_array(mapping, stack),
        _ => Ok(()),
    }
}

fn validate_directive(v: Option<&Value>, stack: &[String]) -> VResult {
    let Some(Value::Object(obj)) = v else {
        let t = real_type(v);
        return Err(err(
            stack,
            format!("should be a directive object but it is {}", a_type(t)),
        ));
    };
    let directive_keys: Vec<&String> = obj.keys().filter(|k| k.starts_with('@')).collect();
    if directive_keys.len() > 1 {
        return Err(err(
            stack,
            format!(
                "should only have one @-prefixed key but it has {} keys",
                directive_keys.len()
            ),
        ));
    }
    let has_other = obj.keys().any(|k| !k.starts_with('@') && k != "_metadata");
    if has_other {
        return Err(err(
            stack,
            format!(
                "should only have one @-prefixed key but it has {} keys",
                obj.len()
            ),
        ));
    }
    let Some(name) = directive_keys.first() else {
        return Err(err(stack, "has an invalid directive: undefined"));
    };
    let value = obj.get(name.as_str());
    let inner = with(stack, name);
    match name.as_str() {
        "@if" => validate_fields(
            value,
            &[
                ("exists", Field::Optional(directive_or_raw)),
                ("then", Field::Optional(directive_or_raw)),
                ("else", Field::Optional(directive_or_raw)),
            ],
            &inner,
        ),
        "@case" => validate_fields(
            value,
            &[
                ("operator", Field::Optional(string)),
                ("value", Field::Optional(directive_or_string)),
            ],
            &inner,
        ),
        "@replace" => validate_fields(
            value,
            &[
                ("pattern", Field::Required(pattern)),
                ("replacement", Field::Optional(replacement)),
                ("value", Field::Required(directive_or_string)),
                ("ignorecase", Field::Optional(boolean)),
                ("global", Field::Optional(boolean)),
            ],
            &inner,
        ),
        "@arrayPath" => {
            validate_array(value, &inner)?;
            let items = match value {
                Some(Value::Array(items)) => items.as_slice(),
                _ => &[],
            };
            directive_or_string(items.first(), &inner)?;
            validate(items.get(1), &inner)
        }
        "@path" | "@template" => directive_or_string(value, &inner),
        "@json" => validate_fields(
            value,
            &[
                ("value", Field::Required(directive_or_raw)),
                ("mode", Field::Required(json_mode)),
            ],
            &inner,
        ),
        "@flatten" => validate_fields(
            value,
            &[
                ("separator", Field::Optional(string)),
                ("value", Field::Required(directive_or_raw)),
            ],
            &inner,
        ),
        "@merge" => {
            validate_fields(
                value,
                &[
                    ("direction", Field::Optional(merge_direction)),
                    ("objects", Field::Required(validate_array)),
                ],
                &inner,
            )?;
            if let Some(Value::Array(objects)) = value.and_then(|v| v.get("objects")) {
                for obj in objects {
                    // [quirk] the reference validates these with an empty location.
                    directive_or_object(Some(obj), &[])?;
                }
            }
            Ok(())
        }
        "@literal" | "@excludeWhenNull" => directive_or_raw(value, &inner),
        "@transform" => validate_fields(
            value,
            &[
                ("apply", Field::Required(directive_or_object)),
                ("mapping", Field::Required(directive_or_object)),
            ],
            &inner,
        ),
        "@liquid" => string(value, &inner),
        _ => Err(err(stack, format!("has an invalid directive: {name}"))),
    }
}

type Check = fn(Option<&Value>, &[String]) -> VResult;

enum Field {
    Required(Check),
    Optional(Check),
}

fn validate_fields(input: Option<&Value>, fields: &[(&str, Field)], stack: &[String]) -> VResult {
    validate_object(input, stack)?;
    let obj = match input {
        Some(Value::Object(obj)) => obj,
        _ => return Ok(()),
    };
    let mut errors = Vec::new();
    for (prop, field) in fields {
        let value = obj.get(*prop);
        let result = match field {
            Field::Required(check) => match value {
                None => Err(err(
                    stack,
                    format!("should have field {} but it doesn't", json_string(prop)),
                )),
                Some(_) => check(value, &with(stack, prop)),
            },
            Field::Optional(check) => match value {
                None => Ok(()),
                Some(_) => check(value, &with(stack, prop)),
            },
        };
        if let Err(e) = result {
            flatten_into(&mut errors, e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(VErr::Agg(errors))
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::new();
    super::js::write_json_string(s, &mut out);
    out
}

fn validate_object(value: Option<&Value>, stack: &[String]) -> VResult {
    let t = real_type_or_directive(value);
    let obj: &Map<String, Value> = match value {
        Some(Value::Object(obj)) if t == Ty::Object => obj,
        _ => {
            return Err(err(
                stack,
                format!("should be an object but it is {}", a_type(t)),
            ));
        }
    };
    if let Some(k) = obj.keys().find(|k| k.starts_with('@')) {
        return Err(err(
            stack,
            format!(
                "shouldn't have directive (@-prefixed) keys but it has {}",
                json_string(k)
            ),
        ));
    }
    let mut errors = Vec::new();
    for (k, v) in obj {
        if let Err(e) = validate(Some(v), &with(stack, k)) {
            flatten_into(&mut errors, e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(VErr::Agg(errors))
    }
}

fn validate_array(value: Option<&Value>, stack: &[String]) -> VResult {
    let t = real_type(value);
    if t != Ty::Array {
        return Err(err(
            stack,
            format!("should be an array but it is {}", a_type(t)),
        ));
    }
    Ok(())
}

fn directive_or_raw(v: Option<&Value>, stack: &[String]) -> VResult {
    match real_type_or_directive(v) {
        Ty::Directive => validate_directive(v, stack),
        Ty::Undefined => Err(err(
            stack,
            "should be a mapping directive or a JSON value but it is an undefined",
        )),
        _ => Ok(()),
    }
}

fn directive_or_string(v: Option<&Value>, stack: &[String]) -> VResult {
    match real_type_or_directive(v) {
        Ty::Directive => validate_directive(v, stack),
        Ty::String => Ok(()),
        t => Err(err(
            stack,
            format!(
                "should be a string or a mapping directive but it is {}",
                a_type(t)
            ),
        )),
    }
}

fn directive_or_object(v: Option<&Value>, stack: &[String]) -> VResult {
    match real_type_or_directive(v) {
        Ty::Directive => validate_directive(v, stack),
        Ty::Object => validate_object(v, stack),
        t => Err(err(
            stack,
            format!(
                "should be a object or a mapping directive but it is {}",
                a_type(t)
            ),
        )),
    }
}

fn string(v: Option<&Value>, stack: &[String]) -> VResult {
    let t = real_type_or_directive(v);
    if t != Ty::String {
        return Err(err(
            stack,
            format!("should be a string but it is {}", a_type(t)),
        ));
    }
    Ok(())
}

fn boolean(v: Option<&Value>, stack: &[String]) -> VResult {
    let t = real_type_or_directive(v);
    if t != Ty::Boolean {
        return Err(err(
            stack,
            format!("should be a boolean but it is {}", a_type(t)),
        ));
    }
    Ok(())
}

fn string_length(v: Option<&Value>, min: usize, max: usize, stack: &[String]) -> VResult {
    if let Some(Value::String(s)) = v {
        let len = utf16_len(s);
        if len < min {
            return Err(err(
                stack,
                format!("should be a string of length {min} or greater"),
            ));
        }
        if len > max {
            return Err(err(
                stack,
                format!("should be a string of length {max} or less"),
            ));
        }
    }
    Ok(())
}

fn pattern(v: Option<&Value>, stack: &[String]) -> VResult {
    string(v, stack)?;
    string_length(v, 1, super::replace::MAX_PATTERN_LENGTH, stack)
}

fn replacement(v: Option<&Value>, stack: &[String]) -> VResult {
    string(v, stack)?;
    string_length(v, 0, super::replace::MAX_REPLACEMENT_LENGTH, stack)
}

fn allowed_strings(v: Option<&Value>, allowed: &[&str], stack: &[String]) -> VResult {
    string(v, stack)?;
    let s = v.and_then(Value::as_str).unwrap_or_default();
    if !allowed.contains(&s.to_lowercase().as_str()) {
        return Err(err(
            stack,
            format!(
                "should be one of {} but it is {}",
                allowed.join(", "),
                json_string(s)
            ),
        ));
    }
    Ok(())
}

fn json_mode(v: Option<&Value>, stack: &[String]) -> VResult {
    allowed_strings(v, &["encode", "decode"], stack)
}

fn merge_direction(v: Option<&Value>, stack: &[String]) -> VResult {
    allowed_strings(v, &["left", "right"], stack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(m: Value) -> (bool, Vec<String>) {
        match validate(Some(&m), &[]) {
            Ok(()) => (false, vec![]),
            Err(VErr::One(i)) => (false, vec![i.message().to_owned()]),
            Err(VErr::Agg(list)) => (true, list.iter().map(|i| i.message().to_owned()).collect()),
        }
    }

    #[test]
    fn valid_mappings_pass() {
        for m in [
            json!({"a": 1, "b": {"@path": "$.x"}}),
            json!({"@if": {"exists": {"@path": "$.a"}, "then": 1, "else": {"x": 1}}}),
            json!({"@replace": {"pattern": "a", "value": "b", "global": false}}),
            json!([{"@oops": 1}]),
            json!({"@merge": {"objects": [{"a": 1}, {"@path": "x"}], "direction": "LEFT"}}),
        ] {
            assert_eq!(messages(m.clone()), (false, vec![]), "{m}");
        }
    }

    #[test]
    fn root_directive_errors_are_single() {
        assert_eq!(
            messages(json!({"@path": false})),
            (
                false,
                vec![
                    "/@path should be a string or a mapping directive but it is a boolean.".into()
                ]
            )
        );
        assert_eq!(
            messages(json!({"@path": "$.foo", "bar": "baz"})),
            (
                false,
                vec!["/ should only have one @-prefixed key but it has 2 keys.".into()]
            )
        );
    }

    #[test]
    fn errors_under_keys_are_collected_in_order() {
        let (agg, msgs) = messages(json!({
            "a": {"@oops": 1},
            "b": {"@replace": {"pattern": "abcdefghijkl", "global": "x"}},
            "c": {"d": {"@json": {"mode": "ENCODE"}}}
        }));
        assert!(agg);
        assert_eq!(
            msgs,
            vec![
                "/a has an invalid directive: @oops.",
                "/b/@replace/pattern should be a string of length 10 or less.",
                "/b/@replace should have field \"value\" but it doesn't.",
                "/b/@replace/global should be a boolean but it is a string.",
                "/c/d/@json should have field \"value\" but it doesn't.",
            ]
        );
    }

    #[test]
    fn merge_objects_are_validated_without_location() {
        assert_eq!(
            messages(json!({"@merge": {"objects": [1], "direction": "left"}})),
            (
                false,
                vec!["/ should be a object or a mapping directive but it is a number.".into()]
            )
        );
    }
}
