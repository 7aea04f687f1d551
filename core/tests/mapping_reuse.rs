//! `Mapping::evaluate_into` (the output buffer reused from event to event) gives exactly what
//! `Mapping::evaluate` gives: over every conformance vector, with a buffer that still holds
//! the previous case's output; across events that make members appear and disappear, arrays
//! grow and shrink and types change; with a buffer the caller modified; and with the path
//! lookups' position hints trained on objects whose keys are in another order.

mod common;

use actions_core::mapping::Mapping;
use common::alloc::{CountingAllocator, allocations_of};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// `evaluate` as `evaluate_into` reports it: the output, or `None`; errors by message.
fn fresh(m: &Mapping, event: &Value) -> Result<Option<Value>, String> {
    m.evaluate(event).map_err(|e| e.message())
}

fn reused(m: &Mapping, event: &Value, out: &mut Value) -> Result<Option<Value>, String> {
    match m.evaluate_into(event, out) {
        Ok(true) => Ok(Some(out.clone())),
        Ok(false) => {
            assert_eq!(*out, Value::Null, "nothing leaves null");
            Ok(None)
        }
        Err(e) => Err(e.message()),
    }
}

#[test]
fn every_vector_gives_the_same_output_into_a_dirty_buffer() {
    let cases = common::conformance::cases("mapping", |_| true);
    // Carried from case to case: each case starts from the previous case's output.
    let mut out = json!({"stale": ["x", {"y": 1}]});
    let mut compared = 0;
    for (file, case) in &cases {
        if case.get("batch") == Some(&Value::Bool(true)) {
            continue;
        }
        let Ok(m) = Mapping::compile(&case["mapping"]) else {
            continue;
        };
        let event = &case["payload"];
        let want = fresh(&m, event);
        // Twice: from the previous case's leftovers, then from this case's own output.
        for round in 0..2 {
            let got = reused(&m, event, &mut out);
            assert_eq!(got, want, "{file} (round {round})");
        }
        compared += 1;
    }
    assert!(compared > 500, "only {compared} vectors compared");
}

fn linkedin() -> Mapping {
    Mapping::compile(&json!({
        "email": {"@if": {"exists": {"@path": "$.context.traits.email"}, "then": {"@path": "$.context.traits.email"}, "else": {"@path": "$.properties.email"}}},
        "at": {"@path": "$.timestamp"},
        "value": {"currencyCode": {"@path": "$.properties.currency"}, "amount": {"@path": "$.properties.revenue"}},
        "ids": {"@arrayPath": ["$.properties.external_ids", {"id": {"@path": "$.id"}, "kind": {"@path": "$.type"}}]},
        "tags": [{"@path": "$.properties.tag"}, "fixed", {"@path": "$.nope"}],
        "subject": {"@template": "{{event}} by {{userId}}"},
        "batch_size": 5000
    }))
    .expect("valid")
}

#[test]
fn members_appear_and_disappear_arrays_resize_types_change() {
    let m = linkedin();
    let events = [
        json!({"event": "A", "userId": "u1", "timestamp": "t1", "context": {"traits": {"email": "a@x"}},
               "properties": {"currency": "USD", "revenue": 1.5, "tag": "t",
                              "external_ids": [{"id": "e1", "type": "crm"}, {"id": "e2"}]}}),
        // email from properties, no revenue, one external id given as an object, no tag.
        json!({"event": "B", "userId": "u2", "timestamp": "t2",
               "properties": {"email": "b@x", "currency": "EUR", "external_ids": {"id": "e3", "type": 7}}}),
        // Almost nothing: members disappear, `ids` is not an array.
        json!({"event": "C", "properties": {"external_ids": "plain"}}),
        // Types change under the same keys.
        json!({"event": {"o": 1}, "userId": [1, 2], "timestamp": {"deep": ["x"]}, "context": {"traits": {"email": null}},
               "properties": {"email": ["l", "m"], "currency": 3, "revenue": "r", "tag": {"k": "v"},
                              "external_ids": [{"id": {"n": 1}}, {}, {"id": "e4", "type": "erp"}]}}),
        json!({"event": "A", "userId": "u1", "timestamp": "t1", "context": {"traits": {"email": "a@x"}},
               "properties": {"currency": "USD", "revenue": 1.5, "tag": "t",
                              "external_ids": [{"id": "e1", "type": "crm"}, {"id": "e2"}]}}),
    ];
    let mut out = Value::Null;
    for _ in 0..2 {
        for (i, event) in events.iter().enumerate() {
            let want = fresh(&m, event);
            assert!(matches!(want, Ok(Some(_))));
            assert_eq!(reused(&m, event, &mut out), want, "event {i}");
        }
    }
}

#[test]
fn a_buffer_modified_by_the_caller_is_corrected() {
    let m = linkedin();
    let event = json!({"event": "A", "userId": "u1", "timestamp": "t1",
                       "properties": {"currency": "USD", "revenue": 2, "external_ids": [{"id": "e1"}]}});
    let want = fresh(&m, &event).expect("evaluates").expect("an object");
    let mut out = Value::Null;
    m.evaluate_into(&event, &mut out).expect("evaluates");
    out["batch_size"] = json!("changed");
    out["tags"][1] = json!(["changed"]);
    out["value"]["currencyCode"] = json!({"changed": true});
    out["ids"][0]["extra"] = json!(1);
    out["subject"] = json!(false);
    if let Some(o) = out.as_object_mut() {
        o.insert("added".to_owned(), json!(1));
    }
    m.evaluate_into(&event, &mut out).expect("evaluates");
    assert_eq!(out, want);
    // Key order is part of the output (objects keep insertion order).
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&out), keys(&want));
}

#[test]
fn lookups_are_right_whatever_order_the_keys_come_in() {
    let m = Mapping::compile(
        &json!({"a": {"@path": "$.p.a"}, "b": {"@path": "$.p.b"}, "c": {"@path": "$.p.c"}}),
    )
    .expect("valid");
    let orders = [
        json!({"p": {"a": 1, "b": 2, "c": 3}}),
        json!({"p": {"c": 3, "b": 2, "a": 1}}),
        json!({"p": {"b": 2, "x": 0, "a": 1}}),
        json!({"x": 0, "p": {"c": 3, "a": 1}}),
    ];
    let mut out = Value::Null;
    for _ in 0..3 {
        for event in &orders {
            let want: Value = ["a", "b", "c"]
                .iter()
                .filter_map(|k| event["p"].get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into();
            assert_eq!(m.evaluate(event).expect("evaluates"), Some(want.clone()));
            m.evaluate_into(event, &mut out).expect("evaluates");
            assert_eq!(out, want);
        }
    }
}

#[test]
fn nothing_and_errors() {
    let m = Mapping::compile(&json!({"@path": "$.x"})).expect("valid");
    let mut out = json!({"old": 1});
    assert_eq!(m.evaluate_into(&json!({}), &mut out).ok(), Some(false));
    assert_eq!(out, Value::Null);
    assert_eq!(
        m.evaluate_into(&json!({"x": [1]}), &mut out).ok(),
        Some(true)
    );
    assert_eq!(out, json!([1]));
    let err = m
        .evaluate_into(&json!([1]), &mut out)
        .expect_err("not an object");
    assert_eq!(err.message(), "data must be an object, got array");
    let m = Mapping::compile(&json!({"a": {"@path": "$.x"}, "b": [{"@oops": 1}]})).expect("valid");
    let err = m
        .evaluate_into(&json!({"x": 1}), &mut out)
        .expect_err("fails at run time");
    assert_eq!(
        err.message(),
        "@oops is not a valid directive, got undefined"
    );
}

#[test]
fn one_compiled_mapping_over_events_lacking_different_members() {
    let m = Mapping::compile(
        &json!({"a": {"@path": "$.a"}, "k": 1, "b": {"@path": "$.b"}, "c": {"@path": "$.c"}}),
    )
    .expect("valid");
    let subsets: [&[&str]; 7] = [
        &["a"],
        &["a", "b", "c"],
        &["b"],
        &["a"],
        &[],
        &["a", "c"],
        &["c", "b"],
    ];
    let mut out = Value::Null;
    for _ in 0..2 {
        for subset in subsets {
            let event: serde_json::Map<String, Value> = subset
                .iter()
                .map(|k| ((*k).to_owned(), json!(format!("v{k}"))))
                .collect();
            let event = Value::Object(event);
            // Independently: the mapping's members in order, the missing ones left out.
            let mut want = serde_json::Map::new();
            for k in ["a", "k", "b", "c"] {
                if k == "k" {
                    want.insert("k".to_owned(), json!(1));
                } else if subset.contains(&k) {
                    want.insert(k.to_owned(), json!(format!("v{k}")));
                }
            }
            let want = Value::Object(want);
            let got = m.evaluate(&event).expect("evaluates").expect("an object");
            assert_eq!(got, want, "{subset:?}");
            let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
            assert_eq!(keys(&got), keys(&want), "{subset:?}");
            m.evaluate_into(&event, &mut out).expect("evaluates");
            assert_eq!(keys(&out), keys(&want), "{subset:?}");
        }
    }
}

/// A stream of events of one shape (same keys, strings of the same lengths).
fn stream_event(i: usize) -> Value {
    json!({"event": "Order Completed", "userId": format!("u{:04}", i), "timestamp": format!("2024-04-05T12:00:{:02}Z", i % 60),
           "context": {"traits": {"email": format!("user{:04}@example.com", i)}},
           "properties": {"currency": "USD", "revenue": i as f64 + 0.5, "tag": "t",
                          "external_ids": [{"id": format!("e{:03}", i % 1000), "type": "crm"}, {"id": "e2"}]}})
}

#[test]
fn evaluate_into_allocates_nothing_once_the_output_has_its_shape() {
    let m = linkedin();
    let mut out = Value::Null;
    m.evaluate_into(&stream_event(0), &mut out)
        .expect("evaluates");
    let events: Vec<Value> = (1..50).map(stream_event).collect();
    for event in &events {
        let (r, n) = allocations_of(|| m.evaluate_into(event, &mut out));
        assert_eq!(r.ok(), Some(true));
        assert_eq!(n, 0, "allocations for {event}");
        assert_eq!(Some(&out), m.evaluate(event).expect("evaluates").as_ref());
    }
}

#[test]
fn evaluate_allocates_only_what_its_output_owns() {
    let m = linkedin();
    m.evaluate(&stream_event(0)).expect("evaluates");
    for i in 1..20 {
        let event = stream_event(i);
        let (out, n) = allocations_of(|| m.evaluate(&event).expect("evaluates"));
        let out = out.expect("an object");
        // A copy of the output owns the same strings, arrays and objects.
        let (_copy, owned) = allocations_of(|| out.clone());
        assert_eq!(n, owned, "evaluating event {i}");
    }
}
