//! JavaScript semantics the reference depends on: `String(number)`, truthiness, `realTypeOf`,
//! UTF-16 lengths, `Array.prototype.join`, loose `== ''` and `JSON.stringify`.

use serde_json::Value;

pub use crate::js::number_to_string as js_number_to_string;
pub(crate) use crate::js::{
    array_index, as_f64 as number_f64, json_number_to_string as number_to_string, truthy,
    type_name, utf16_len,
};

use super::error::MappingError;
use super::value::R;

/// Nesting bound for the recursive helpers that walk event data (join, stringify, flatten, ...).
pub(crate) const MAX_VALUE_DEPTH: usize = 512;

/// JavaScript truthiness of a possibly-missing option (`undefined` is falsy).
pub(crate) fn truthy_opt(v: Option<&Value>) -> bool {
    v.is_some_and(truthy)
}

/// `realTypeOf` of a possibly-missing value.
pub(crate) fn type_name_opt(v: Option<&Value>) -> &'static str {
    v.map_or("undefined", type_name)
}

/// `typeof` of a JSON value (`null` and arrays are "object").
pub(crate) fn typeof_name(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
    }
}

/// The string made of the UTF-16 code unit at `index` (JavaScript `s[index]`). A lone surrogate
/// cannot live in a Rust string: it is given as U+FFFD.
pub(crate) fn utf16_unit_at(s: &str, index: usize) -> Option<String> {
    let mut pos = 0usize;
    for c in s.chars() {
        let len = c.len_utf16();
        if index < pos + len {
            return Some(if len == 1 {
                c.to_string()
            } else {
                '\u{FFFD}'.to_string()
            });
        }
        pos += len;
    }
    None
}

/// Splits a string into its UTF-16 code units as strings (lone surrogates become U+FFFD), as
/// `Object.assign({}, "str")` / `{...str}` do.
pub(crate) fn utf16_units(s: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c.len_utf16() == 1 {
            out.push(c.to_string());
        } else {
            out.push('\u{FFFD}'.to_string());
            out.push('\u{FFFD}'.to_string());
        }
    }
    out
}

fn depth_error() -> MappingError {
    MappingError::runtime("value nesting is too deep")
}

/// `String(value)` for a JSON value: arrays comma-joined (null → ""), objects
/// `[object Object]`.
pub(crate) fn to_js_string(v: &Value, out: &mut String, depth: usize) -> Result<(), MappingError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(depth_error());
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_to_string(n)),
        Value::String(s) => out.push_str(s),
        Value::Object(_) => out.push_str("[object Object]"),
        Value::Array(items) => join_values(items, out, depth)?,
    }
    Ok(())
}

fn join_values(items: &[Value], out: &mut String, depth: usize) -> Result<(), MappingError> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !item.is_null() {
            to_js_string(item, out, depth + 1)?;
        }
    }
    Ok(())
}

/// `String(value)` for a resolved value.
pub(crate) fn r_to_js_string(v: &R, out: &mut String, depth: usize) -> Result<(), MappingError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(depth_error());
    }
    match v {
        R::Undef => out.push_str("undefined"),
        R::V(v) => to_js_string(v, out, depth)?,
        R::Obj(_) => out.push_str("[object Object]"),
        R::Arr(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match item {
                    R::Undef | R::V(Value::Null) => {}
                    other => r_to_js_string(other, out, depth + 1)?,
                }
            }
        }
    }
    Ok(())
}

/// JavaScript `value != ''` (loose inequality), for `@if blank`.
pub(crate) fn loose_ne_empty_string(v: &R) -> Result<bool, MappingError> {
    Ok(match v {
        R::Undef => true,
        R::V(Value::Null) => true,
        R::V(Value::Bool(b)) => *b,
        R::V(Value::Number(n)) => {
            let f = number_f64(n);
            f != 0.0 || f.is_nan()
        }
        R::V(Value::String(s)) => !s.is_empty(),
        R::V(Value::Object(_)) | R::Obj(_) => true,
        R::V(Value::Array(_)) | R::Arr(_) => {
            let mut s = String::new();
            r_to_js_string(v, &mut s, 0)?;
            !s.is_empty()
        }
    })
}

pub(crate) use crate::js::write_json_string;

/// `JSON.stringify` of a JSON value (numbers formatted as JavaScript does), `depth` levels
/// below the top of what is being written.
pub(crate) fn stringify_value(
    v: &Value,
    out: &mut String,
    depth: usize,
) -> Result<(), MappingError> {
    let max = MAX_VALUE_DEPTH.checked_sub(depth).ok_or_else(depth_error)?;
    crate::js::write_json(v, out, max).map_err(|_| depth_error())
}

/// `JSON.stringify` of a resolved value; `None` when the value is `undefined`.
pub(crate) fn stringify_r(v: &R) -> Result<Option<String>, MappingError> {
    if matches!(v, R::Undef) {
        return Ok(None);
    }
    let mut out = String::new();
    stringify_r_into(v, &mut out, 0)?;
    Ok(Some(out))
}

fn stringify_r_into(v: &R, out: &mut String, depth: usize) -> Result<(), MappingError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(depth_error());
    }
    match v {
        R::Undef => out.push_str("null"),
        R::V(v) => stringify_value(v, out, depth)?,
        R::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                stringify_r_into(item, out, depth + 1)?;
            }
            out.push(']');
        }
        R::Obj(map) => {
            out.push('{');
            let mut first = true;
            for (k, item) in map {
                if matches!(item, R::Undef) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                write_json_string(k, out);
                out.push(':');
                stringify_r_into(item, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Number;
    use serde_json::json;

    #[test]
    fn number_formatting_matches_ecmascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (123456789.0, "123456789"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123e20, "1.23e+22"),
            (0.000001, "0.000001"),
            (0.0000012, "0.0000012"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (x, want) in cases {
            assert_eq!(js_number_to_string(*x), *want, "formatting {x:e}");
        }
    }

    #[test]
    fn big_integers_are_rounded_like_doubles() {
        let n: Number = serde_json::from_str("12345678901234567890").unwrap();
        assert_eq!(number_to_string(&n), "12345678901234567000");
        let n: Number = serde_json::from_str("-42").unwrap();
        assert_eq!(number_to_string(&n), "-42");
    }

    #[test]
    fn truthiness() {
        for v in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(&v), "{v} should be falsy");
        }
        for v in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("0"),
            json!([]),
            json!({}),
        ] {
            assert!(truthy(&v), "{v} should be truthy");
        }
    }

    #[test]
    fn string_conversion_joins_arrays() {
        let mut s = String::new();
        to_js_string(&json!([1, null, [2, [3, "x"]], {"a": 1}, true]), &mut s, 0).unwrap();
        assert_eq!(s, "1,,2,3,x,[object Object],true");
    }

    #[test]
    fn loose_blank_comparison() {
        let blank = |v: Value| !loose_ne_empty_string(&R::V(v)).unwrap();
        assert!(blank(json!("")));
        assert!(blank(json!(0)));
        assert!(blank(json!(false)));
        assert!(blank(json!([])));
        assert!(blank(json!([null])));
        assert!(!blank(json!([0])));
        assert!(!blank(json!({})));
        assert!(!blank(json!("a")));
        assert!(!blank(json!(true)));
    }

    #[test]
    fn stringify_matches_json_stringify() {
        let mut s = String::new();
        stringify_value(
            &json!({"b": 1.0, "a": "x\u{1}\"", "c": [1e21, null]}),
            &mut s,
            0,
        )
        .unwrap();
        assert_eq!(s, r#"{"b":1,"a":"x\u0001\"","c":[1e+21,null]}"#);
    }

    #[test]
    fn utf16_helpers() {
        assert_eq!(utf16_len("a😀"), 3);
        assert_eq!(utf16_unit_at("usd", 0).as_deref(), Some("u"));
        assert_eq!(utf16_unit_at("usd", 3), None);
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index("12"), Some(12));
    }
}
