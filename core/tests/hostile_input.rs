//! Hostile input for the framework's parsers: deep nesting, huge strings, invalid UTF-8,
//! NaN/huge numbers, pathological templates, Liquid and regexes, settings of the wrong types,
//! unreadable rate-limit headers. Every case must end in a clear error (or a defined result),
//! never a panic, a stack overflow or unbounded work.
//!
//! The bounds are the limits the code enforces, and the tests check them by size and depth,
//! never by wall-clock time:
//!
//! * JSON text nested deeper than 128 levels is refused by the parser (`serde_json`'s limit);
//! * a mapping nested deeper than [`MAX_DEPTH`] (64) is refused before it is compiled, without
//!   recursion, whatever its depth; at the limit it compiles and evaluates on a 2 MiB stack;
//! * a Liquid template longer than 1,000 characters is refused; `replace` patterns and
//!   replacements longer than 10 characters are refused;
//! * FQL groups cannot nest, so parsing is linear in the text;
//! * `Retry-After` / `X-RateLimit-Reset` values a clock cannot hold are "no hint".

use std::time::{Duration, SystemTime};

use actions_core::fields::CompiledSchema;
use actions_core::mapping::{MAX_DEPTH, Mapping, transform};
use actions_core::request::Response;
use actions_core::retry::{RateLimitHeaders, wait_hint};
use actions_core::subscriptions::Subscription;
use serde_json::{Map, Value, json};

/// Nests `leaf` `depth` levels deep in objects `{"a": …}` (iteratively).
fn nested(depth: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..depth {
        let mut m = Map::new();
        m.insert("a".into(), v);
        v = Value::Object(m);
    }
    v
}

/// Takes a deeply nested value apart iteratively, so that dropping it does not recurse once
/// per level on the test thread's stack.
fn dismantle(mut v: Value) {
    loop {
        let next = match &mut v {
            Value::Object(m) => m.values_mut().next().map(Value::take),
            Value::Array(a) => a.pop(),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return,
        }
    }
}

#[test]
fn json_text_nested_10000_levels_is_a_parse_error_not_a_stack_overflow() {
    let text = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let err = serde_json::from_str::<Value>(&text).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
    let text = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[test]
fn a_mapping_nested_10000_levels_is_refused_with_the_limit_named() {
    let deep = nested(10_000, json!({"@path": "$.userId"}));
    let err = Mapping::compile(&deep).unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains(&MAX_DEPTH.to_string()), "{text}");
    dismantle(deep);
}

/// Regression (found by this test): a mapping at the old limit (256 levels) overflowed a 2 MiB
/// thread stack in an unoptimised build. At the limit it now compiles and evaluates on a thread
/// with exactly that stack (a tokio worker's default).
#[test]
fn a_mapping_at_the_depth_limit_compiles_and_evaluates_on_a_2_mib_stack() {
    let out = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let ok = nested(MAX_DEPTH - 1, json!({"@path": "$.userId"}));
            Mapping::compile(&ok)
                .unwrap()
                .evaluate(&json!({"userId": "u1"}))
                .unwrap()
                .unwrap()
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    let mut leaf = &out;
    for _ in 0..MAX_DEPTH - 1 {
        leaf = &leaf["a"];
    }
    assert_eq!(leaf, "u1");
    let over = nested(MAX_DEPTH, json!({"@path": "$.userId"}));
    assert!(Mapping::compile(&over).is_err());
}

#[test]
fn a_payload_at_the_parsers_depth_limit_maps() {
    // Events reach the mapping as JSON text, so the parser's limit (128 levels) bounds them.
    let text = format!("{{\"deep\": {}1{}}}", "[".repeat(126), "]".repeat(126));
    let payload: Value = serde_json::from_str(&text).unwrap();
    let out = transform(&json!({"x": {"@path": "$.deep"}, "j": {"@json": {"value": {"@path": "$.deep"}, "mode": "encode"}}}), &payload)
        .unwrap()
        .unwrap();
    assert_eq!(out["x"], payload["deep"]);
}

#[test]
fn megabyte_strings_pass_through_paths_and_templates_whole() {
    let big = "x".repeat(1 << 20);
    let payload = json!({"userId": big, "properties": {"k": big}});
    let out = transform(
        &json!({"id": {"@path": "$.userId"}, "t": {"@template": "{{properties.k}}!"}}),
        &payload,
    )
    .unwrap()
    .unwrap();
    assert_eq!(out["id"].as_str().map(str::len), Some(1 << 20));
    assert_eq!(out["t"].as_str().map(str::len), Some((1 << 20) + 1));
    // A megabyte-long path is an unknown key, not a failure.
    let long_path = format!("$.{big}");
    let v = transform(&json!({"x": {"@path": long_path}}), &payload).unwrap();
    assert_eq!(v, Some(json!({})));
}

#[test]
fn oversized_liquid_templates_are_refused_by_length() {
    let long = format!("{{{{ userId }}}}{}", " ".repeat(1_000));
    let err = transform(&json!({"x": {"@liquid": long}}), &json!({"userId": "u"})).unwrap_err();
    assert!(format!("{err:?}").contains("1000"), "{err:?}");
}

#[test]
fn pathological_templates_are_errors_or_text_never_panics() {
    let payload = json!({"a": {"b": "c"}, "n": 1});
    let cases = [
        "{{".repeat(10_000),
        "}}".repeat(10_000),
        "{{a.b.c.d.e.f}}".repeat(1_000),
        format!("{{{{{}}}}}", ".".repeat(10_000)),
        "{{a}}{{".to_string(),
        "{{\u{0}}}".to_string(),
        "{{𝔘𝔫𝔦𝔠𝔬𝔡𝔢}}".to_string(),
    ];
    for t in cases {
        let _ = transform(&json!({"x": {"@template": t}}), &payload);
    }
    let liquid = [
        "{% for i in (1..1000000) %}{{i}}{% endfor %}",
        "{% assign x = 'a' %}{% for i in a %}{% for j in a %}{% endfor %}{% endfor %}",
        "{{ 'a' | append: 'b' | append: 'c' | append: 'd' | append: 'e' | upcase }}",
        "{% if %}",
        "{{ n | divided_by: 0 }}",
        "{{ n | times: 1e308 | times: 1e308 }}",
        "{% raw %}",
        "{{ a.b | split: '' | join: '' | size }}",
    ];
    for t in liquid {
        // An error or some output: what matters is that it returns.
        let _ = transform(&json!({"x": {"@liquid": t}}), &payload);
    }
}

#[test]
fn replace_patterns_over_the_limit_are_refused() {
    let mapping = json!({"x": {"@replace": {"value": "aaaa", "pattern": "a".repeat(11), "replacement": "b"}}});
    assert!(transform(&mapping, &json!({})).is_err());
}

#[test]
fn nan_and_huge_numbers_do_not_break_mapping_or_validation() {
    // JSON cannot carry NaN: the parser refuses it.
    assert!(serde_json::from_str::<Value>("{\"n\": NaN}").is_err());
    assert!(serde_json::from_str::<Value>("{\"n\": Infinity}").is_err());
    // Huge numbers parse (as f64 or u64) and flow through.
    let payload: Value =
        serde_json::from_str(r#"{"big": 1e308, "int": 18446744073709551615, "neg": -1e308}"#)
            .unwrap();
    let out = transform(
        &json!({"b": {"@path": "$.big"}, "i": {"@path": "$.int"}, "s": {"@template": "{{big}}{{int}}"}}),
        &payload,
    )
    .unwrap()
    .unwrap();
    assert_eq!(out["i"], json!(18446744073709551615u64));
    let schema = CompiledSchema::compile(&json!({
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 10}}
    }))
    .unwrap();
    for n in [
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
    ] {
        let mut p = json!({"n": n});
        assert!(
            schema.validate(&mut p, &[]).is_err(),
            "{n} is not in 0..=10"
        );
    }
}

#[test]
fn pathological_regexes_in_schemas_are_errors_or_bounded_matches() {
    // ECMAScript patterns are translated to the regex crate, which matches in linear time
    // (no backtracking), so "catastrophic" patterns are just patterns.
    for pattern in [
        "(a+)+$",
        "(a|aa)*b",
        "^(\\w+\\s?)*$",
        "(",
        "[",
        "\\",
        "(?<n>a)\\k<n>",
    ] {
        let schema = json!({"type": "object",
            "properties": {"s": {"type": "string", "pattern": pattern}}});
        if let Ok(s) = CompiledSchema::compile(&schema) {
            let mut p = json!({"s": format!("{}!", "a".repeat(100_000))});
            let _ = s.validate(&mut p, &[]);
        }
    }
    // A regex nested past the translator's limit is refused, not recursed into.
    let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let schema =
        json!({"type": "object", "properties": {"s": {"type": "string", "pattern": deep}}});
    if let Ok(s) = CompiledSchema::compile(&schema) {
        let mut p = json!({"s": "a"});
        let _ = s.validate(&mut p, &[]);
    }
}

#[test]
fn hostile_fql_is_a_parse_error() {
    // Unbalanced groups and unterminated strings are parse errors.
    for fql in [
        "(".repeat(10_000),
        format!("type = \"{}", "a".repeat(1 << 20)),
    ] {
        assert!(Subscription::parse(&fql).is_err(), "{:.40}", fql);
    }
    // The lenient parser (the reference's) accepts some odd text; matching it still returns.
    for fql in ["properties.".repeat(10_000), "\u{0}".to_string()] {
        if let Ok(s) = Subscription::parse(&fql) {
            let _ = s.matches(&json!({"properties": {"a": 1}}));
        }
    }
    // A megabyte of `or`s parses (groups do not nest) and matches.
    let long = vec!["event = \"A\""; 50_000].join(" or ");
    let s = Subscription::parse(&long).unwrap();
    assert!(s.matches(&json!({"event": "A"})));
}

#[test]
fn invalid_utf8_is_a_parse_error() {
    let bytes = b"{\"userId\": \"\xff\xfe\"}";
    assert!(serde_json::from_slice::<Value>(bytes).is_err());
}

fn response(headers: &[(&str, &str)]) -> Response {
    Response::new(
        429,
        "https://api.example.com/",
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        "",
    )
}

/// Regression (found by the `retry_headers` fuzz target): an `X-RateLimit-Reset` Unix time
/// beyond what `SystemTime` holds made `UNIX_EPOCH + secs` panic.
#[test]
fn a_rate_limit_reset_past_the_end_of_time_is_no_hint() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let r = response(&[("X-RateLimit-Reset", "18446744073709551615")]);
    assert_eq!(wait_hint(&r, now), None);
    assert_eq!(RateLimitHeaders::of(&r, now).reset, None);
    // Still read: a time in range.
    let r = response(&[("X-RateLimit-Reset", "1800000060")]);
    assert_eq!(wait_hint(&r, now), Some(Duration::from_secs(60)));
}

#[test]
fn unreadable_retry_after_values_are_no_hint() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for v in [
        "NaN",
        "inf",
        "-1",
        "1e400",
        "18446744073709551616",
        "99999999999999999999999",
        "",
        "Wed, 99 Foo 2015",
        "\u{0}",
    ] {
        let r = response(&[("Retry-After", v)]);
        assert_eq!(wait_hint(&r, now), None, "Retry-After {v:?}");
    }
    // The largest representable delay is read as is, not overflowed.
    let r = response(&[("Retry-After", "18446744073709551615")]);
    assert_eq!(wait_hint(&r, now), Some(Duration::from_secs(u64::MAX)));
    let r = response(&[
        ("X-RateLimit-Limit", "0"),
        ("X-RateLimit-Remaining", "18446744073709551615"),
    ]);
    let q = RateLimitHeaders::of(&r, now);
    assert_eq!(q.fraction_remaining(), None);
}
