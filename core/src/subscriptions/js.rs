//! The few pieces of JavaScript semantics the subscription language depends on:
//! `String(number)`, `Number(string)`, UTF-16 lengths and indexing, and the names a
//! plain JavaScript value inherits from its prototype.

use std::fmt::Write as _;

/// Appends `String(x)` for a JavaScript number `x` (ECMAScript `Number::toString`).
///
/// Uses the shortest digit string that round-trips (as JavaScript does) and switches to
/// exponent notation outside `[1e-6, 1e21)`.
pub(crate) fn write_number(out: &mut String, x: f64) {
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
    let k = digits.len() as i64;
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        let (int_part, frac_part) = digits.split_at_checked(n as usize).unwrap_or((&digits, ""));
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
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
pub(crate) fn number_to_string(x: f64) -> String {
    let mut out = String::new();
    write_number(&mut out, x);
    out
}

/// Whether `c` is removed by JavaScript's `Number(string)` trimming
/// (WhiteSpace and LineTerminator code points).
fn is_js_space(c: char) -> bool {
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

/// JavaScript's `Number(string)` (ECMAScript `StringToNumber`).
pub(crate) fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            return parse_radix(rest, radix);
        }
    }
    let (negative, body) = if let Some(rest) = t.strip_prefix('-') {
        (true, rest)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
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
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

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
pub(crate) fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The UTF-16 code unit at `index` (JavaScript's `string[index]`), if in range.
pub(crate) fn utf16_unit_at(s: &str, index: usize) -> Option<u16> {
    s.encode_utf16().nth(index)
}

/// The single UTF-16 code unit of `s`, when `s` is exactly one unit long.
pub(crate) fn single_unit(s: &str) -> Option<u16> {
    let mut units = s.encode_utf16();
    match (units.next(), units.next()) {
        (Some(u), None) => Some(u),
        _ => None,
    }
}

/// Parses a canonical array index (`"0"`, `"17"`; not `"01"`, `"-0"`, `"1e3"`).
pub(crate) fn array_index(key: &str) -> Option<usize> {
    let b = key.as_bytes();
    match b {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ if b.iter().all(u8::is_ascii_digit) => key.parse().ok(),
        _ => None,
    }
}

/// Names every plain JavaScript object inherits from `Object.prototype`.
const OBJECT_PROTO: &[&str] = &[
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
];

/// `Array.prototype` (Node.js 20), without `length` (handled separately).
const ARRAY_PROTO: &[&str] = &[
    "at",
    "concat",
    "copyWithin",
    "entries",
    "every",
    "fill",
    "filter",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "flat",
    "flatMap",
    "forEach",
    "includes",
    "indexOf",
    "join",
    "keys",
    "lastIndexOf",
    "map",
    "pop",
    "push",
    "reduce",
    "reduceRight",
    "reverse",
    "shift",
    "slice",
    "some",
    "sort",
    "splice",
    "toReversed",
    "toSorted",
    "toSpliced",
    "unshift",
    "values",
    "with",
];

/// `String.prototype` (Node.js 20), without `length` (handled separately).
const STRING_PROTO: &[&str] = &[
    "anchor",
    "at",
    "big",
    "blink",
    "bold",
    "charAt",
    "charCodeAt",
    "codePointAt",
    "concat",
    "endsWith",
    "fixed",
    "fontcolor",
    "fontsize",
    "includes",
    "indexOf",
    "isWellFormed",
    "italics",
    "lastIndexOf",
    "link",
    "localeCompare",
    "match",
    "matchAll",
    "normalize",
    "padEnd",
    "padStart",
    "repeat",
    "replace",
    "replaceAll",
    "search",
    "slice",
    "small",
    "split",
    "startsWith",
    "strike",
    "sub",
    "substr",
    "substring",
    "sup",
    "toLocaleLowerCase",
    "toLocaleUpperCase",
    "toLowerCase",
    "toUpperCase",
    "toWellFormed",
    "trim",
    "trimEnd",
    "trimLeft",
    "trimRight",
    "trimStart",
];

/// `Number.prototype` members not already in `Object.prototype`.
const NUMBER_PROTO: &[&str] = &["toExponential", "toFixed", "toPrecision"];

/// The kind of JavaScript value whose inherited members are looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    /// A plain object.
    Object,
    /// An array.
    Array,
    /// A string.
    String,
    /// A number.
    Number,
    /// A boolean.
    Boolean,
}

/// Whether a value of kind `proto` inherits a member called `key`.
pub(crate) fn inherits(proto: Proto, key: &str) -> bool {
    OBJECT_PROTO.contains(&key)
        || match proto {
            Proto::Object | Proto::Boolean => false,
            Proto::Array => ARRAY_PROTO.contains(&key),
            Proto::String => STRING_PROTO.contains(&key),
            Proto::Number => NUMBER_PROTO.contains(&key),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_to_string_matches_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (42.0, "42"),
            (-5.0, "-5"),
            (1.5, "1.5"),
            (9.99, "9.99"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (2.5e25, "2.5e+25"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (x, want) in cases {
            assert_eq!(number_to_string(*x), *want, "String({x:e})");
        }
    }

    #[test]
    fn string_to_number_matches_javascript() {
        let cases: &[(&str, f64)] = &[
            ("42", 42.0),
            ("  42\n", 42.0),
            ("", 0.0),
            (" ", 0.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("-.5", -0.5),
            ("+7", 7.0),
            ("007", 7.0),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("0x1F", 31.0),
            ("0b101", 5.0),
            ("0o17", 15.0),
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ];
        for (s, want) in cases {
            assert_eq!(string_to_number(s), *want, "Number({s:?})");
        }
        for s in [
            "-", "+", ".", "abc", "1.2.3", "1e", "inf", "nan", "infinity", "-0x5", "1_000", "0x",
        ] {
            assert!(string_to_number(s).is_nan(), "Number({s:?}) should be NaN");
        }
        assert!(string_to_number("-0").is_sign_negative());
    }

    #[test]
    fn utf16_helpers_count_code_units() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_unit_at("a😀", 1), Some(0xd83d));
        assert_eq!(utf16_unit_at("a😀", 2), Some(0xde00));
        assert_eq!(utf16_unit_at("a", 1), None);
        assert_eq!(single_unit("é"), Some(0xe9));
        assert_eq!(single_unit("😀"), None);
        assert_eq!(single_unit(""), None);
    }

    #[test]
    fn array_index_accepts_only_canonical_indices() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("17"), Some(17));
        for k in ["", "01", "-0", "-1", "1e3", "a", " 1"] {
            assert_eq!(array_index(k), None, "{k:?}");
        }
    }

    #[test]
    fn inherited_members_follow_the_prototype_chain() {
        assert!(inherits(Proto::Object, "constructor"));
        assert!(inherits(Proto::Array, "hasOwnProperty"));
        assert!(inherits(Proto::Array, "map"));
        assert!(!inherits(Proto::Object, "map"));
        assert!(inherits(Proto::String, "toUpperCase"));
        assert!(inherits(Proto::Number, "toFixed"));
        assert!(!inherits(Proto::Boolean, "toFixed"));
        assert!(!inherits(Proto::Object, "type"));
    }
}
