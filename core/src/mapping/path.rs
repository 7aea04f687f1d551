//! Event paths, exactly as the reference's `get(obj, path)` reads them.
//!
//! * `""` and `"."` are the whole object;
//! * the path is split on `.`, on `[` when followed by a quote or a digit, and on runs of `]`
//!   preceded by a quote or a digit; empty pieces are dropped and every `'` and `"` is removed
//!   (so `['a.b']` is still split on the dot, and `[x]` is part of a key);
//! * each step reads `value[key]` — but a falsy value (`null`, `0`, `false`, `""`) is returned
//!   as it is (`prevObj && prevObj[key]`), and strings and arrays answer `length` and indices
//!   as in JavaScript.
//!
//! Directives strip the first `$.` (wherever it occurs) before calling this; `@template` does not.

use std::borrow::Cow;

use serde_json::Value;

use super::js::{array_index, truthy, utf16_len, utf16_unit_at};

/// A pre-split path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedPath {
    /// `""` or `"."`: the whole object.
    Root,
    /// The keys to follow.
    Keys(Vec<String>),
}

/// Splits a path as the reference's `get` does.
pub(crate) fn parse_path(path: &str) -> ParsedPath {
    if path.is_empty() || path == "." {
        return ParsedPath::Root;
    }
    ParsedPath::Keys(split_path(path))
}

fn is_quote_or_digit(c: char) -> bool {
    c == '"' || c == '\'' || c.is_ascii_digit()
}

/// `path.split(/\[(?="|'|\d)|\.|(?<="|'|\d)]+/).filter(f => f).map(s => s.replace(/'|"/g, ''))`
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let chars: Vec<char> = path.chars().collect();
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        let prev = if i > 0 {
            chars.get(i - 1).copied()
        } else {
            None
        };
        let next = chars.get(i + 1).copied();
        let sep_len = if c == '[' && next.is_some_and(is_quote_or_digit) || c == '.' {
            1
        } else if c == ']' && prev.is_some_and(is_quote_or_digit) {
            let mut n = 1;
            while chars.get(i + n) == Some(&']') {
                n += 1;
            }
            n
        } else {
            0
        };
        if sep_len > 0 {
            push_piece(&mut pieces, &mut current);
            i += sep_len;
        } else {
            current.push(c);
            i += 1;
        }
    }
    push_piece(&mut pieces, &mut current);
    pieces
}

fn push_piece(pieces: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        let cleaned: String = current
            .chars()
            .filter(|c| *c != '\'' && *c != '"')
            .collect();
        pieces.push(cleaned);
        current.clear();
    }
}

/// `path.replace('$.', '')`: the first `$.` is removed, wherever it is.
pub(crate) fn strip_dollar(path: &str) -> Cow<'_, str> {
    match path.find("$.") {
        Some(pos) => {
            let mut s = String::with_capacity(path.len() - 2);
            s.push_str(&path[..pos]);
            s.push_str(&path[pos + 2..]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(path),
    }
}

/// The result of a lookup: nothing, a borrowed part of the event, or a value made on the way
/// (a string's `length` or one of its characters).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Got<'a> {
    Undef,
    Ref(&'a Value),
    Own(Value),
}

impl Got<'_> {
    /// The value as an owned option (`None` = undefined).
    pub(crate) fn into_owned(self) -> Option<Value> {
        match self {
            Got::Undef => None,
            Got::Ref(v) => Some(v.clone()),
            Got::Own(v) => Some(v),
        }
    }

    /// The value by reference.
    pub(crate) fn as_ref(&self) -> Option<&Value> {
        match self {
            Got::Undef => None,
            Got::Ref(v) => Some(v),
            Got::Own(v) => Some(v),
        }
    }
}

/// Objects up to this many keys are searched by a linear scan rather than by hash.
const SMALL_OBJECT: usize = 24;

/// One step `value[key]` for a truthy value.
fn step<'a>(v: &'a Value, key: &str) -> Got<'a> {
    match v {
        Value::Object(map) => {
            // Small objects (most events): a scan of the keys beats hashing the key.
            let found = if map.len() <= SMALL_OBJECT {
                map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
            } else {
                map.get(key)
            };
            found.map_or(Got::Undef, Got::Ref)
        }
        Value::Array(items) => {
            if key == "length" {
                Got::Own(Value::from(items.len()))
            } else {
                array_index(key)
                    .and_then(|i| items.get(i))
                    .map_or(Got::Undef, Got::Ref)
            }
        }
        Value::String(s) => string_step(s, key),
        _ => Got::Undef,
    }
}

fn string_step<'a>(s: &str, key: &str) -> Got<'a> {
    if key == "length" {
        Got::Own(Value::from(utf16_len(s)))
    } else {
        array_index(key)
            .and_then(|i| utf16_unit_at(s, i))
            .map_or(Got::Undef, |c| Got::Own(Value::String(c)))
    }
}

/// `get(obj, path)` on an event (`None` = `undefined`).
pub(crate) fn get<'a>(root: Option<&'a Value>, path: &ParsedPath) -> Got<'a> {
    let keys = match path {
        ParsedPath::Root => return root.map_or(Got::Undef, Got::Ref),
        ParsedPath::Keys(keys) => keys,
    };
    let mut cur = root.map_or(Got::Undef, Got::Ref);
    for key in keys {
        cur = match cur {
            Got::Undef => return Got::Undef,
            Got::Ref(v) => {
                if !truthy(v) {
                    return Got::Ref(v);
                }
                step(v, key)
            }
            Got::Own(v) => {
                if !truthy(&v) {
                    return Got::Own(v);
                }
                match &v {
                    Value::String(s) => string_step(s, key),
                    _ => Got::Undef,
                }
            }
        };
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(p: &str) -> Vec<String> {
        match parse_path(p) {
            ParsedPath::Root => vec!["<root>".to_owned()],
            ParsedPath::Keys(k) => k,
        }
    }

    #[test]
    fn splitting() {
        assert_eq!(keys(""), vec!["<root>"]);
        assert_eq!(keys("."), vec!["<root>"]);
        assert_eq!(keys(".."), Vec::<String>::new());
        assert_eq!(keys("a.b"), vec!["a", "b"]);
        assert_eq!(keys("a.b.f[0]"), vec!["a", "b", "f", "0"]);
        assert_eq!(keys("['a'].b"), vec!["a", "b"]);
        assert_eq!(keys("a[\"x y\"]"), vec!["a", "x y"]);
        assert_eq!(keys("a['dot.key']"), vec!["a", "dot", "key"]);
        assert_eq!(keys("[txt] non"), vec!["[txt] non"]);
        assert_eq!(keys("tags[x]"), vec!["tags[x]"]);
        assert_eq!(keys("tags[-1]"), vec!["tags[-1"]);
        assert_eq!(
            keys("Actions Amplitude.session_id"),
            vec!["Actions Amplitude", "session_id"]
        );
        assert_eq!(keys("a[0]]]"), vec!["a", "0"]);
        assert_eq!(keys("it's"), vec!["its"]);
    }

    #[test]
    fn dollar_prefix_is_removed_once_anywhere() {
        assert_eq!(strip_dollar("$.a.b"), "a.b");
        assert_eq!(strip_dollar("$.$.a"), "$.a");
        assert_eq!(strip_dollar("a$.b"), "ab");
        assert_eq!(strip_dollar("$"), "$");
    }

    #[test]
    fn lookups_follow_javascript() {
        let ev = json!({"a": {"b": [10, {"c": "x"}], "n": null, "z": 0, "s": "usd", "e": ""}});
        let g = |p: &str| get(Some(&ev), &parse_path(p)).into_owned();
        assert_eq!(g("a.b[1].c"), Some(json!("x")));
        assert_eq!(g("a.b.1.c"), Some(json!("x")));
        assert_eq!(g("a.b.length"), Some(json!(2)));
        assert_eq!(g("a.s.length"), Some(json!(3)));
        assert_eq!(g("a.s[1]"), Some(json!("s")));
        assert_eq!(g("a.n.deep.er"), Some(json!(null)));
        assert_eq!(g("a.z.deep"), Some(json!(0)));
        assert_eq!(g("a.e.deep"), Some(json!("")));
        assert_eq!(g("a.missing.deep"), None);
        assert_eq!(g("a.b.01"), None);
        assert_eq!(g(""), Some(ev.clone()));
        assert_eq!(get(None, &parse_path("a")), Got::Undef);
    }
}
