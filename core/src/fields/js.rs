//! The few JavaScript value semantics the reference's validation observably depends on:
//! `Number.prototype.toString`, `Number(string)`, `JSON.stringify` and `String.prototype.length`.

use serde_json::{Number, Value};

pub(crate) use crate::js::{
    as_f64, is_js_whitespace, json_number_to_string, number_to_string, string_to_number,
    truthy as is_truthy, utf16_len,
};

/// Largest integer a JavaScript number holds exactly (2^53).
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// Depth beyond which [`stringify`] stops descending (only reachable with values built in code;
/// parsed JSON is limited to 128 levels by `serde_json`).
const MAX_STRINGIFY_DEPTH: usize = 256;

/// A JavaScript number stored back into JSON: integral values within 2^53 as integers, other
/// finite values as floats, and non-finite values as `null` (what `JSON.stringify` writes).
pub(crate) fn number_value(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    if f.fract() == 0.0 && f.abs() < MAX_SAFE {
        // Exact: |f| < 2^53 and integral.
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `JSON.stringify(value)` (no indentation).
pub(crate) fn stringify(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value, 0);
    out
}

fn write_json(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number_to_string(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= MAX_STRINGIFY_DEPTH {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= MAX_STRINGIFY_DEPTH {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_json(out, v, depth + 1);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stringify_matches_json_stringify() {
        let v = json!({"a": [1, 2.5, null, true], "b": "q\"\n\u{1}", "c": 1e21});
        assert_eq!(
            stringify(&v),
            r#"{"a":[1,2.5,null,true],"b":"q\"\n\u0001","c":1e+21}"#
        );
    }

    #[test]
    fn number_value_keeps_integers_integral() {
        assert_eq!(number_value(3.0), json!(3));
        assert_eq!(number_value(-0.0), json!(0));
        assert_eq!(number_value(2.5), json!(2.5));
        assert_eq!(number_value(f64::INFINITY), Value::Null);
        assert_eq!(utf16_len("a😀"), 3);
    }
}
