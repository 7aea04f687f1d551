//! Property tests of the mapping kit: (a) nothing panics on arbitrary mappings (with random
//! directives and option values) and events; (b) `@path` and `@template` agree with a
//! straightforward model of the reference's semantics written here, independently.

use actions_core::mapping::{Mapping, transform, transform_batch};
use proptest::prelude::*;
use regex::Regex;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Generators.

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "a",
            "x y",
            "0",
            "$.a",
            "$.a.b",
            "a[0]",
            "{{a}}",
            "{{{a}}}",
            "encode",
            "decode",
            "ENCODE",
            "left",
            "right",
            "lower",
            "upper",
            "_",
            ".",
            "{{ a | upcase }}",
            "{% if a %}y{% endif %}",
            "{% for x in a %}{% endfor %}",
            "{{ a | sort }}",
            "😀",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

/// The directives a mapping can hold.
const DIRECTIVES: &[&str] = &[
    "@path",
    "@template",
    "@literal",
    "@if",
    "@case",
    "@replace",
    "@arrayPath",
    "@json",
    "@flatten",
    "@merge",
    "@transform",
    "@excludeWhenNull",
    "@liquid",
];

/// Object keys: plain keys, the directives' option names, the directives and near misses.
fn keys() -> Vec<&'static str> {
    let plain = [
        "a",
        "b",
        "x y",
        "0",
        "1",
        "length",
        "exists",
        "blank",
        "then",
        "else",
        "operator",
        "value",
        "pattern",
        "replacement",
        "pattern2",
        "replacement2",
        "ignorecase",
        "global",
        "mode",
        "separator",
        "omitArrays",
        "direction",
        "objects",
        "apply",
        "mapping",
        "_metadata",
    ];
    let invalid = ["@oops", "__segment_internal_directive"];
    plain
        .into_iter()
        .chain(DIRECTIVES.iter().copied())
        .chain(invalid)
        .collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(keys()), inner), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A mapping biased towards directives with plausible (and implausible) options.
fn mapping() -> impl Strategy<Value = Value> {
    json_value().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            (prop::sample::select(DIRECTIVES), inner.clone()).prop_map(|(d, v)| json!({ d: v })),
            (
                prop::sample::select(DIRECTIVES),
                prop::collection::vec((prop::sample::select(keys()), inner.clone()), 0..5)
            )
                .prop_map(|(d, kv)| {
                    let opts: Map<String, Value> =
                        kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                    json!({ d: opts })
                }),
            prop::collection::vec((prop::sample::select(keys()), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// (a) Compile and evaluate never panic, whatever the mapping and the event.
    #[test]
    fn never_panics(m in mapping(), ev in json_value()) {
        let _ = transform(&m, &ev);
        let _ = transform(&m, &json!({"a": ev.clone(), "b": [ev.clone()]}));
        let _ = transform_batch(&m, &json!([ev.clone(), {}]));
        if let Ok(compiled) = Mapping::compile(&m) {
            let _ = compiled.value_keys();
            let _ = compiled.evaluate(&json!({"a": ev}));
        }
    }

    /// `evaluate_into` with one output buffer over a sequence of events gives what
    /// `evaluate` gives for each (outputs, nothing, and errors).
    #[test]
    fn evaluate_into_agrees_with_evaluate(m in mapping(), evs in prop::collection::vec(json_value(), 1..4)) {
        let Ok(compiled) = Mapping::compile(&m) else { return Ok(()) };
        let mut out = Value::Null;
        for ev in evs.iter().chain(evs.iter().rev()) {
            let event = json!({"a": ev, "b": [ev], "0": ev});
            let want = compiled.evaluate(&event).map_err(|e| e.message());
            let got = match compiled.evaluate_into(&event, &mut out) {
                Ok(true) => Ok(Some(out.clone())),
                Ok(false) => Ok(None),
                Err(e) => Err(e.message()),
            };
            prop_assert_eq!(got, want, "mapping {} on {}", m, event);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (b) A model of `get` and of placeholder rendering.

/// JavaScript's `String(n)` for the numbers the generators make (integers and simple floats).
fn js_num(n: &serde_json::Number) -> String {
    match n.as_i64() {
        Some(i) => i.to_string(),
        None => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e21 {
                format!("{f:.0}")
            } else {
                format!("{f}")
            }
        }
    }
}

fn falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The keys of a path: every separator (`.`, `[` before a quote or digit, `]`s after a quote
/// or digit) is first replaced by a NUL, then the string is split, empties dropped and quotes
/// removed.
fn model_keys(path: &str) -> Vec<String> {
    let chars: Vec<char> = path.chars().collect();
    let mut marked = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let quote_or_digit = |c: char| c == '"' || c == '\'' || c.is_ascii_digit();
        if c == '.' || (c == '[' && i + 1 < chars.len() && quote_or_digit(chars[i + 1])) {
            marked.push('\0');
        } else if c == ']' && i > 0 && quote_or_digit(chars[i - 1]) {
            marked.push('\0');
            while i + 1 < chars.len() && chars[i + 1] == ']' {
                i += 1;
            }
        } else {
            marked.push(c);
        }
        i += 1;
    }
    marked
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace(['\'', '"'], ""))
        .collect()
}

fn model_get(obj: &Value, path: &str) -> Option<Value> {
    if path.is_empty() || path == "." {
        return Some(obj.clone());
    }
    let mut cur = Some(obj.clone());
    for key in model_keys(path) {
        let v = cur?;
        if falsy(&v) {
            return Some(v);
        }
        let is_index = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_digit())
            && (key == "0" || !key.starts_with('0'));
        cur = match &v {
            Value::Object(m) => m.get(&key).cloned(),
            Value::Array(a) if key == "length" => Some(json!(a.len())),
            Value::Array(a) if is_index => {
                key.parse::<usize>().ok().and_then(|i| a.get(i).cloned())
            }
            Value::String(s) if key == "length" => Some(json!(s.encode_utf16().count())),
            Value::String(s) if is_index => key
                .parse::<usize>()
                .ok()
                .and_then(|i| s.encode_utf16().nth(i))
                .map(|u| Value::String(String::from_utf16_lossy(&[u]))),
            _ => None,
        };
    }
    cur
}

fn model_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_num(n),
        Value::String(s) => s.clone(),
        Value::Object(_) => "[object Object]".into(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                if x.is_null() {
                    String::new()
                } else {
                    model_string(x)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn model_template(template: &str, data: &Value) -> String {
    let triple = Regex::new(r"\{\{\{([^}]+)\}\}\}").expect("valid regex");
    let double = Regex::new(r"\{\{([^}]+)\}\}").expect("valid regex");
    let js_trim = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .to_owned()
    };
    let replace = |re: &Regex, text: &str| {
        re.replace_all(text, |caps: &regex::Captures<'_>| {
            let key = js_trim(&caps[1]);
            match model_get(data, &key) {
                None | Some(Value::Null) => String::new(),
                Some(v) => model_string(&v),
            }
        })
        .into_owned()
    };
    let first = replace(&triple, template);
    replace(&double, &first)
}

fn event() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-50i64..50).prop_map(Value::from),
        prop::sample::select(vec![0.5f64, -2.25, 1e-3]).prop_map(Value::from),
        prop::sample::select(vec!["", "v", "usd", "Zoë", "{{a}}", "x,y"]).prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec!["a", "b", "x y", "0", "1", "length", "$"]);
    let tree = leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    });
    prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "x y", "0", "length", "$"]),
            tree,
        ),
        0..5,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn path() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "b", "x y", "0", "1", "length", "$", "$.", ".", "..", "[0]", "[1]", "['a']",
        "[\"b\"]", "[x]", "]", "[", "'", "\"", "]]",
    ]);
    prop::collection::vec(piece, 0..5).prop_map(|p| p.concat())
}

fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec!["hi ", "}", "{", " ", "-", "{{", "}}", "{{}}"])
            .prop_map(str::to_owned),
        path().prop_map(|p| format!("{{{{{p}}}}}")),
        path().prop_map(|p| format!("{{{{ {p} }}}}")),
        path().prop_map(|p| format!("{{{{{{{p}}}}}}}")),
    ];
    prop::collection::vec(piece, 0..5).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// (b) `@path` reads what the model of the reference's `get` reads.
    #[test]
    fn path_matches_model(ev in event(), p in path()) {
        let out = transform(&json!({"v": {"@path": p.clone()}}), &ev).expect("a valid mapping");
        let want = model_get(&ev, &p.replacen("$.", "", 1));
        let got = out.and_then(|o| o.get("v").cloned());
        prop_assert_eq!(got, want, "path {:?} on {}", p, ev);
    }

    /// (b) `@template` renders what the model renders.
    #[test]
    fn template_matches_model(ev in event(), t in template()) {
        let out = transform(&json!({"@template": t.clone()}), &ev).expect("a valid mapping");
        prop_assert_eq!(out, Some(Value::String(model_template(&t, &ev))), "template {:?} on {}", t, ev);
    }
}
