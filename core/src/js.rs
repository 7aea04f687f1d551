//! The JavaScript value semantics the reference depends on, written once for every module (the
//! mapping kit, subscriptions, field validation) and for destinations that must mirror the
//! reference's conversions: `String(number)`, `Number(string)`, truthiness, `realTypeOf`,
//! UTF-16 lengths and canonical array indices.
//!
//! ```
//! use actions_core::js;
//! assert_eq!(js::number_to_string(1e21), "1e+21");
//! assert_eq!(js::number_to_string(0.000001), "0.000001");
//! assert_eq!(js::string_to_number(" 0x1F "), 31.0);
//! assert!(js::string_to_number("12px").is_nan());
//! assert!(!js::truthy(&serde_json::json!("")));
//! ```

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Largest integer a JavaScript number holds exactly (2^53).
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// Appends `String(x)` for a JavaScript number `x` (ECMAScript `Number::toString`): the shortest
/// digit string that round-trips, in exponent notation outside `[1e-6, 1e21)`.
pub fn write_number(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x == 0.0 {
        out.push('0');
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let magnitude = if x < 0.0 {
        out.push('-');
        -x
    } else {
        x
    };
    // `{:e}` yields the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{magnitude:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    // value = 0.d1d2...dk × 10^n
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(n - k).unwrap_or(0),
        ));
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        let (int_part, frac_part) = digits.split_at_checked(split).unwrap_or((&digits, ""));
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize::try_from(-n).unwrap_or(0)));
        out.push_str(&digits);
    } else {
        let e = n - 1;
        let sign = if e >= 0 { '+' } else { '-' };
        let (first, rest) = digits.split_at_checked(1).unwrap_or((&digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{sign}{}", e.abs());
    }
}

/// `String(x)` for a JavaScript number.
pub fn number_to_string(x: f64) -> String {
    let mut out = String::new();
    write_number(&mut out, x);
    out
}

/// `String(n)` for a JSON number; integers beyond 2^53 are first rounded to a double, as
/// JavaScript's `JSON.parse` would have done.
pub fn json_number_to_string(n: &Number) -> String {
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) if (i as f64).abs() < MAX_SAFE => i.to_string(),
        (_, Some(u)) if (u as f64) < MAX_SAFE => u.to_string(),
        _ => number_to_string(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// The value of a JSON number as a JavaScript number.
pub fn as_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// `StrWhiteSpaceChar` of ECMAScript (white space and line terminators), what `Number(string)`
/// and `String.prototype.trim` remove.
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JavaScript's `Number(string)` (ECMAScript `StringToNumber`): `NaN` when the string is not a
/// numeric literal; `""` and blanks are `0`.
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_whitespace);
    if t.is_empty() {
        return 0.0;
    }
    for (prefixes, radix) in [(["0x", "0X"], 16), (["0o", "0O"], 8), (["0b", "0B"], 2)] {
        if let Some(rest) = prefixes.iter().find_map(|p| t.strip_prefix(p)) {
            return parse_radix(rest, radix);
        }
    }
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let magnitude = if body == "Infinity" {
        f64::INFINITY
    } else if is_decimal_literal(body) {
        body.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        return f64::NAN;
    };
    if negative { -magnitude } else { magnitude }
}

/// `digits [. digits] [e [+-] digits]` or `. digits [e ...]`, at least one mantissa digit.
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut mantissa_digits = i;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Digits in `radix`, exact while they fit in 128 bits (then rounded like JavaScript).
fn parse_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    let mut exact: Option<u128> = Some(0);
    let mut approx = 0.0f64;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else {
            return f64::NAN;
        };
        exact = exact
            .and_then(|v| v.checked_mul(u128::from(radix)))
            .and_then(|v| v.checked_add(u128::from(d)));
        approx = approx * f64::from(radix) + f64::from(d);
    }
    match exact {
        Some(v) => v as f64,
        None => approx,
    }
}

/// Length of `s` in UTF-16 code units (JavaScript's `string.length`).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// A canonical array index (`"0"`, `"17"`; not `"01"`, `"+1"`, `"1e3"`, nor beyond
/// JavaScript's largest index 2^32 − 2).
pub fn array_index(key: &str) -> Option<usize> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|n| *n < u64::from(u32::MAX))
        .and_then(|n| usize::try_from(n).ok())
}

/// JavaScript truthiness of a JSON value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => {
            let f = as_f64(n);
            f != 0.0 && !f.is_nan()
        }
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The reference's `realTypeOf` (`Object.prototype.toString` tag, lower-cased).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// How deep [`stringify()`] descends by default (parsed JSON is limited to 128 levels by
/// `serde_json`; deeper values can only be built in code).
pub const STRINGIFY_MAX_DEPTH: usize = 256;

/// [`write_json`] met a value nested deeper than it was allowed to descend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the value nests deeper than {max_depth} levels and cannot be JSON-encoded")]
pub struct TooDeep {
    /// The nesting allowed.
    pub max_depth: usize,
}

/// `JSON.stringify(value)` without indentation: key order kept, numbers as JavaScript prints
/// them, strings escaped as JavaScript escapes them. Descends at most
/// [`STRINGIFY_MAX_DEPTH`] levels.
///
/// ```
/// use actions_core::js;
/// use serde_json::json;
/// let v = json!({"b": 1.0, "a": [1e21, "x\u{1}y"], "c": null});
/// assert_eq!(js::stringify(&v).unwrap(), r#"{"b":1,"a":[1e+21,"x\u0001y"],"c":null}"#);
/// ```
///
/// # Errors
/// [`TooDeep`] when the value nests deeper than [`STRINGIFY_MAX_DEPTH`] levels.
pub fn stringify(value: &Value) -> Result<String, TooDeep> {
    let mut out = String::new();
    write_json(value, &mut out, STRINGIFY_MAX_DEPTH)?;
    Ok(out)
}

/// Appends `JSON.stringify(value)` to `out`, descending at most `max_depth` levels (the value
/// itself is level 0). On error `out` holds a partial text.
///
/// ```
/// use actions_core::js::{TooDeep, write_json};
/// use serde_json::json;
/// let mut out = String::from("[");
/// write_json(&json!({"a": [true]}), &mut out, 2).unwrap();
/// assert_eq!(out, r#"[{"a":[true]}"#);
/// assert_eq!(write_json(&json!([[[1]]]), &mut String::new(), 2), Err(TooDeep { max_depth: 2 }));
/// ```
///
/// # Errors
/// [`TooDeep`] when the value nests deeper than `max_depth`.
pub fn write_json(value: &Value, out: &mut String, max_depth: usize) -> Result<(), TooDeep> {
    write_json_at(value, out, 0, max_depth)
}

fn write_json_at(value: &Value, out: &mut String, depth: usize, max: usize) -> Result<(), TooDeep> {
    if depth > max {
        return Err(TooDeep { max_depth: max });
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if !as_f64(n).is_finite() => out.push_str("null"),
        Value::Number(n) => out.push_str(&json_number_to_string(n)),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_at(item, out, depth + 1, max)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json_at(v, out, depth + 1, max)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Appends a JSON string literal exactly as `JSON.stringify` writes it: `"` and `\` escaped,
/// `\b \f \n \r \t` by name, other control characters as `\u00xx`, everything else as is.
///
/// ```
/// let mut out = String::new();
/// actions_core::js::write_json_string("a\"b\n\u{7}é", &mut out);
/// assert_eq!(out, r#""a\"b\n\u0007é""#);
/// ```
pub fn write_json_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
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
            c if u32::from(c) < 0x20 => {
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
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
    fn number_to_string_follows_ecmascript() {
        let cases: [(f64, &str); 15] = [
            (1.0, "1"),
            (12.5, "12.5"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1.5e-10, "1.5e-10"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "Infinity"),
            (9007199254740993.0, "9007199254740992"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1234.5, "1234.5"),
        ];
        for (f, want) in cases {
            assert_eq!(number_to_string(f), want, "{f}");
        }
        assert_eq!(number_to_string(f64::NAN), "NaN");
        assert_eq!(
            json_number_to_string(&Number::from(9_007_199_254_740_993u64)),
            "9007199254740992"
        );
        assert_eq!(json_number_to_string(&Number::from(-42)), "-42");
    }

    #[test]
    fn string_to_number_follows_ecmascript() {
        assert_eq!(string_to_number("12.5"), 12.5);
        assert_eq!(string_to_number("  42\n"), 42.0);
        assert_eq!(string_to_number("   "), 0.0);
        assert_eq!(string_to_number("0x1F"), 31.0);
        assert_eq!(string_to_number("0b101"), 5.0);
        assert_eq!(
            string_to_number("0xFFFFFFFFFFFFFFFFF"),
            295147905179352830000.0
        );
        assert_eq!(string_to_number(".5"), 0.5);
        assert_eq!(string_to_number("5."), 5.0);
        assert_eq!(string_to_number("-1e3"), -1000.0);
        assert_eq!(string_to_number("+Infinity"), f64::INFINITY);
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        for bad in [
            "abc", "1_000", "0x", "-0x10", "1e", "e5", ".", "inf", "NaN", "12px", "--1",
        ] {
            assert!(string_to_number(bad).is_nan(), "{bad}");
        }
    }

    #[test]
    fn indices_lengths_truthiness() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("17"), Some(17));
        for bad in ["", "01", "+1", "1e3", "-0", "4294967295", "99999999999"] {
            assert_eq!(array_index(bad), None, "{bad}");
        }
        assert_eq!(utf16_len("a😀"), 3);
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for t in [json!(true), json!(-1), json!("0"), json!([]), json!({})] {
            assert!(truthy(&t), "{t}");
        }
        assert_eq!(type_name(&json!([])), "array");
    }
}
