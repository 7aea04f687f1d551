//! Hostile requests to the ingest, through [`relay::ingest::parse_request`] (the steps the
//! server runs before anything is stored): every one ends in a clear refusal — 400 with a
//! reason, 401, 404 — or in a batch answer that names each rejected event; none panics.
//!
//! Bounds (enforced by the code, checked here by size, not time): a body is at most
//! `max_body` bytes before and after gzip (decompression stops one byte past it), an event at
//! most `max_event` bytes of JSON, JSON nesting at most 128 levels (the parser's limit).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use relay::ingest::{Limits, Parsed, Refusal, parse_request};
use serde_json::{Value, json};

const LIMITS: Limits = Limits {
    max_body: 64 * 1024,
    max_event: 8 * 1024,
};
const AT: &str = "2026-01-01T00:00:00.000Z";

fn parse(kind: &str, body: impl Into<Bytes>) -> Result<Parsed, Refusal> {
    parse_request(kind, &HeaderMap::new(), body.into(), LIMITS, AT)
}

fn refused(kind: &str, body: impl Into<Bytes>) -> Refusal {
    parse(kind, body).expect_err("should be refused")
}

fn assert_bad(r: &Refusal, needle: &str) {
    assert_eq!(r.status().as_u16(), 400, "{r:?}");
    assert!(
        r.message().contains(needle),
        "reason {:?} should mention {needle:?}",
        r.message()
    );
}

#[test]
fn json_nested_10000_levels_is_400_not_a_crash() {
    let body = format!(
        "{{\"userId\":\"u\",\"event\":\"A\",\"properties\":{}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let r = refused("track", body);
    assert_bad(&r, "not valid JSON");
    assert!(r.message().contains("recursion limit"), "{}", r.message());
}

#[test]
fn bodies_over_the_limit_are_400_naming_the_limit() {
    let body = format!(
        "{{\"userId\":\"u\",\"event\":\"{}\"}}",
        "a".repeat(LIMITS.max_body)
    );
    let r = refused("track", body);
    assert_bad(&r, &LIMITS.max_body.to_string());
    assert_eq!(r.reason(), "too large");
}

#[test]
fn a_gzip_bomb_is_cut_off_at_the_limit() {
    use std::io::Write;
    // 100 MB of spaces compress to ~100 KB; decompression stops one byte past max_body.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..100 {
        gz.write_all(&chunk).unwrap();
    }
    let packed = gz.finish().unwrap();
    assert!(packed.len() < LIMITS.max_body * 4);
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let limits = Limits {
        max_body: packed.len() + 1,
        max_event: 1024,
    };
    let r = parse_request("batch", &h, Bytes::from(packed), limits, AT).unwrap_err();
    assert_bad(&r, "larger than the limit");
    // Not gzip at all, though declared so.
    let r = parse_request(
        "batch",
        &h,
        Bytes::from_static(b"{\"batch\":[]}"),
        LIMITS,
        AT,
    )
    .unwrap_err();
    assert_bad(&r, "gzip");
}

#[test]
fn a_megabyte_string_in_an_event_is_400_too_large() {
    let limits = Limits {
        max_body: 2 << 20,
        max_event: 32 * 1024,
    };
    let body = json!({"userId": "u", "event": "A", "properties": {"s": "x".repeat(1 << 20)}});
    let r = parse_request(
        "track",
        &HeaderMap::new(),
        Bytes::from(body.to_string()),
        limits,
        AT,
    )
    .unwrap_err();
    assert_bad(&r, "max_event");
    // In a batch only that event is rejected, with its index.
    let batch = json!({"batch": [
        {"type": "track", "userId": "u", "event": "ok"},
        {"type": "track", "userId": "u", "event": "big", "properties": {"s": "x".repeat(1 << 20)}}
    ]});
    let p = parse_request(
        "batch",
        &HeaderMap::new(),
        Bytes::from(batch.to_string()),
        limits,
        AT,
    )
    .unwrap();
    assert_eq!(p.accepted().count(), 1);
    let rejected: Vec<(usize, &str)> = p.rejected().collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 1);
    assert!(rejected[0].1.contains("max_event"), "{}", rejected[0].1);
}

#[test]
fn invalid_utf8_is_400() {
    let r = refused("track", &b"{\"userId\":\"\xff\xfe\",\"event\":\"A\"}"[..]);
    assert_bad(&r, "not valid JSON");
}

#[test]
fn nan_and_infinity_are_400_and_huge_numbers_pass() {
    for body in [
        r#"{"userId":"u","event":"A","properties":{"n":NaN}}"#,
        r#"{"userId":"u","event":"A","properties":{"n":Infinity}}"#,
        r#"{"userId":"u","event":"A","properties":{"n":-Infinity}}"#,
    ] {
        assert_bad(&refused("track", body), "not valid JSON");
    }
    let p = parse(
        "track",
        r#"{"userId":"u","event":"A","properties":{"n":1e308,"m":18446744073709551615,"k":-1e308}}"#,
    )
    .unwrap();
    let stored: Value = serde_json::from_str(p.accepted().next().unwrap()).unwrap();
    assert_eq!(stored["properties"]["m"], json!(u64::MAX));
    // 1e400 does not fit an f64: the parser refuses it.
    assert_bad(
        &refused("track", r#"{"userId":"u","event":"A","n":1e400}"#),
        "not valid JSON",
    );
}

#[test]
fn unknown_event_types_are_named_in_the_reason() {
    let p = parse(
        "batch",
        r#"{"batch":[{"type":"purchase","userId":"u"},{"type":7,"userId":"u"},{"userId":"u"},"x",null]}"#,
    )
    .unwrap();
    assert_eq!(p.received(), 5);
    assert_eq!(p.accepted().count(), 0);
    let reasons: Vec<&str> = p.rejected().map(|(_, r)| r).collect();
    assert!(reasons[0].contains("\"purchase\""), "{reasons:?}");
    assert!(reasons[1].contains("must be a string"), "{reasons:?}");
    assert!(reasons[2].contains("`type` is required"), "{reasons:?}");
    assert!(reasons[3].contains("JSON object"), "{reasons:?}");
    assert!(reasons[4].contains("JSON object"), "{reasons:?}");
    // The route decides a single call's type, whatever the body says.
    let p = parse("identify", r#"{"type":"purchase","userId":"u"}"#).unwrap();
    let stored: Value = serde_json::from_str(p.accepted().next().unwrap()).unwrap();
    assert_eq!(stored["type"], "identify");
    assert_eq!(refused("purchase", "{}").status().as_u16(), 404);
}

#[test]
fn wrong_shapes_are_400_with_the_field_named() {
    let cases: [(&str, &str, &str); 7] = [
        ("track", "[]", "JSON object"),
        ("track", "\"text\"", "JSON object"),
        ("track", "", "not valid JSON"),
        ("track", r#"{"userId":"u"}"#, "`event`"),
        ("track", r#"{"userId":{"a":1},"event":"A"}"#, "userId"),
        ("batch", r#"{"batch":{"type":"track"}}"#, "`batch`"),
        ("alias", r#"{"userId":"u"}"#, "previousId"),
    ];
    for (kind, body, needle) in cases {
        assert_bad(&refused(kind, body), needle);
    }
}

#[test]
fn malformed_authorization_headers_are_401() {
    for value in ["Bearer abc", "Basic !!!", "Basic", "Basic //79"] {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        let r = parse_request(
            "track",
            &h,
            Bytes::from_static(b"{\"userId\":\"u\",\"event\":\"A\"}"),
            LIMITS,
            AT,
        )
        .unwrap_err();
        assert_eq!(r.status().as_u16(), 401, "{value}: {r:?}");
    }
}

#[test]
fn a_batch_of_many_small_events_is_bounded_by_the_body_limit() {
    // The body limit bounds the number of events: ~64 KiB of `{}` is at most ~21,000 items,
    // each rejected with its reason, none stored.
    let items = vec!["{}"; LIMITS.max_body / 3 - 20].join(",");
    let body = format!("{{\"batch\":[{items}]}}");
    assert!(body.len() <= LIMITS.max_body);
    let p = parse("batch", body).unwrap();
    assert_eq!(p.accepted().count(), 0);
    assert_eq!(p.rejected().count(), p.received());
    let over = format!("{{\"batch\":[{items},{items}]}}");
    assert_eq!(refused("batch", over).reason(), "too large");
}
