//! The few pieces of JavaScript semantics the subscription language depends on:
//! `String(number)`, `Number(string)`, UTF-16 lengths and indexing, and the names a
//! plain JavaScript value inherits from its prototype.

pub(crate) use crate::js::{
    array_index, number_to_string, string_to_number, utf16_len, write_number,
};

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
