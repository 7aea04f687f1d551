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
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Map, Value};

use super::js::{array_index, truthy, utf16_len, utf16_unit_at};

/// One key of a pre-split path, with the position at which it was last found in an object.
///
/// Events from one source list their keys in the same order, so the object met at a given step
/// of a given path almost always has the key at the same position: checking that position
/// first makes a lookup one key comparison. The hint is only a guess (any position is safe);
/// it is shared by the threads that evaluate the mapping (relaxed atomics, written only when
/// it changes).
#[derive(Debug)]
pub(crate) struct PathKey {
    name: String,
    hint: AtomicU32,
}

impl PathKey {
    pub(crate) fn new(name: String) -> Self {
        PathKey {
            name,
            hint: AtomicU32::new(0),
        }
    }

    /// The key.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Clone for PathKey {
    fn clone(&self) -> Self {
        PathKey {
            name: self.name.clone(),
            hint: AtomicU32::new(self.hint.load(Ordering::Relaxed)),
        }
    }
}

impl PartialEq for PathKey {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for PathKey {}

/// A pre-split path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedPath {
    /// `""` or `"."`: the whole object.
    Root,
    /// The keys to follow.
    Keys(Box<[PathKey]>),
}

/// Splits a path as the reference's `get` does.
pub(crate) fn parse_path(path: &str) -> ParsedPath {
    if path.is_empty() || path == "." {
        return ParsedPath::Root;
    }
    ParsedPath::Keys(split_path(path).into_iter().map(PathKey::new).collect())
}

fn is_quote_or_digit(c: Option<&u8>) -> bool {
    c.is_some_and(|c| matches!(c, b'"' | b'\'' | b'0'..=b'9'))
}

/// `path.split(/\[(?="|'|\d)|\.|(?<="|'|\d)]+/).filter(f => f).map(s => s.replace(/'|"/g, ''))`
///
/// Works on bytes: every separator and lookaround is ASCII, and in UTF-8 the bytes of other
/// characters are never ASCII, so the byte before or after a position is a quote or a digit
/// exactly when the character is.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let bytes = path.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while let Some(&c) = bytes.get(i) {
        let prev = i.checked_sub(1).and_then(|j| bytes.get(j));
        let sep_len = if c == b'[' && is_quote_or_digit(bytes.get(i + 1)) || c == b'.' {
            1
        } else if c == b']' && is_quote_or_digit(prev) {
            let mut n = 1;
            while bytes.get(i + n) == Some(&b']') {
                n += 1;
            }
            n
        } else {
            0
        };
        if sep_len > 0 {
            push_piece(&mut pieces, path.get(start..i).unwrap_or_default());
            i += sep_len;
            start = i;
        } else {
            i += 1;
        }
    }
    push_piece(&mut pieces, path.get(start..).unwrap_or_default());
    pieces
}

fn push_piece(pieces: &mut Vec<String>, piece: &str) {
    if !piece.is_empty() {
        pieces.push(if piece.contains(['\'', '"']) {
            piece.replace(['\'', '"'], "")
        } else {
            piece.to_owned()
        });
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

/// Key equality with the common short keys compared as machine words (no call to `memcmp`).
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
            a.first_chunk::<8>(),
            b.first_chunk::<8>(),
            a.last_chunk::<8>(),
            b.last_chunk::<8>(),
        ) {
            return a0 == b0 && a1 == b1;
        }
        if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
            a.first_chunk::<4>(),
            b.first_chunk::<4>(),
            a.last_chunk::<4>(),
            b.last_chunk::<4>(),
        ) {
            return a0 == b0 && a1 == b1;
        }
    }
    a == b
}

/// `map[key]`: the hinted position first, then a scan (small objects) or the hash index.
fn lookup<'a>(map: &'a Map<String, Value>, key: &PathKey) -> Option<&'a Value> {
    let hint = key.hint.load(Ordering::Relaxed) as usize;
    if let Some((k, v)) = map.iter().nth(hint)
        && same_key(k, &key.name)
    {
        return Some(v);
    }
    if map.len() > SMALL_OBJECT {
        return map.get(&key.name);
    }
    // Small objects (most events): a scan of the keys beats hashing the key.
    let (i, v) = map
        .iter()
        .enumerate()
        .find(|(_, (k, _))| same_key(k, &key.name))
        .map(|(i, (_, v))| (i, v))?;
    if let Ok(i) = u32::try_from(i) {
        key.hint.store(i, Ordering::Relaxed);
    }
    Some(v)
}

/// `array[key]` (a canonical index or `length`).
fn array_step<'a>(items: &'a [Value], key: &str) -> Got<'a> {
    if key == "length" {
        Got::Own(Value::from(items.len()))
    } else {
        array_index(key)
            .and_then(|i| items.get(i))
            .map_or(Got::Undef, Got::Ref)
    }
}

/// `string[key]` (a canonical index or `length`, in UTF-16 units).
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
    let Some(mut cur) = root else {
        return Got::Undef;
    };
    // Within the event: every step borrows.
    for (i, key) in keys.iter().enumerate() {
        // `prevObj && prevObj[key]`: objects and arrays are truthy.
        let next = match cur {
            Value::Object(map) => lookup(map, key).map_or(Got::Undef, Got::Ref),
            Value::Array(items) => array_step(items, key.name()),
            Value::String(s) if !s.is_empty() => string_step(s, key.name()),
            scalar if truthy(scalar) => Got::Undef,
            falsy => return Got::Ref(falsy),
        };
        match next {
            Got::Ref(v) => cur = v,
            made => return get_made(made, keys.get(i + 1..).unwrap_or_default()),
        }
    }
    Got::Ref(cur)
}

/// The rest of a path after a value made on the way (a length, or a character).
fn get_made<'a>(mut cur: Got<'a>, keys: &[PathKey]) -> Got<'a> {
    for key in keys {
        cur = match cur {
            Got::Own(v) => {
                if !truthy(&v) {
                    return Got::Own(v);
                }
                match &v {
                    Value::String(s) => string_step(s, key.name()),
                    _ => Got::Undef,
                }
            }
            other => return other,
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
            ParsedPath::Keys(k) => k.iter().map(|k| k.name().to_owned()).collect(),
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
        assert_eq!(keys("ü[0]ß"), vec!["ü", "0", "ß"]);
        assert_eq!(keys("ü]x.[é]"), vec!["ü]x", "[é]"]);
        assert_eq!(keys("a['é.ö']"), vec!["a", "é", "ö"]);
        assert_eq!(keys("''.b"), vec!["", "b"]);
    }

    #[test]
    fn dollar_prefix_is_removed_once_anywhere() {
        assert_eq!(strip_dollar("$.a.b"), "a.b");
        assert_eq!(strip_dollar("$.$.a"), "$.a");
        assert_eq!(strip_dollar("a$.b"), "ab");
        assert_eq!(strip_dollar("$"), "$");
    }

    #[test]
    fn position_hints_are_only_hints() {
        let big = |shift: usize| {
            let mut m = serde_json::Map::new();
            for i in 0..40 {
                let k = (i + shift) % 40;
                m.insert(format!("k{k}"), json!(k));
            }
            Value::Object(m)
        };
        let small = json!({"x": 1, "k25": "small"});
        let path = parse_path("k25");
        for round in 0..3 {
            for (ev, want) in [
                (big(0), json!(25)),
                (big(7), json!(25)),
                (small.clone(), json!("small")),
                (json!({"y": 2}), Value::Null),
            ] {
                let got = get(Some(&ev), &path).into_owned().unwrap_or(Value::Null);
                assert_eq!(got, want, "round {round} on {ev}");
            }
        }
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
