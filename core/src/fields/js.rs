//! The few JavaScript value semantics the reference's validation observably depends on:
//! `Number.prototype.toString`, `Number(string)`, `JSON.stringify` and `String.prototype.length`.

use serde_json::{Number, Value};

pub(crate) use crate::js::{
    as_f64, is_js_whitespace, json_number_to_string, number_to_string, string_to_number,
    truthy as is_truthy, utf16_len,
};

/// Largest integer a JavaScript number holds exactly (2^53).
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

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

/// `JSON.stringify(value)` (no indentation), for messages: a value nested too deep to encode
/// (only buildable in code) is described instead.
pub(crate) fn stringify(value: &Value) -> String {
    crate::js::stringify(value).unwrap_or_else(|e| format!("<{e}>"))
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
