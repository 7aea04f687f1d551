//! Mapping kit throughput, in CPU time of the benchmarking thread (see `support/cpu_time.rs`:
//! other processes competing for the cores do not inflate the figures).
//!
//! * `default/*` — the LinkedIn streamConversion action's default mapping (its field defaults:
//!   `conversionHappenedAt`, `conversionValue`, `eventId`, `email`, `enable_batching`,
//!   `batch_size`), the target;
//! * `full/*` — every streamConversion field mapped (`@if` fallbacks, nested objects,
//!   `@arrayPath`) plus a `@template`: a heavier, still realistic mapping.
//!
//! Events are 16 distinct realistic track events ("Order Completed", distinct email,
//! messageId, timestamp, revenue), evaluated in turn: together they fit in the L2 cache, as an
//! event that was just parsed does (a pool of thousands of pre-built events would measure
//! cache misses on the event instead). `evaluate` builds a new output per event and drops it
//! (both timed); `evaluate_into` writes each event's output into the previous one's, reusing
//! its allocations (what a loop that serialises each output before the next event can do).

use std::hint::black_box;

use actions_core::mapping::{Mapping, transform};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

mod support;
use support::cpu_time::CpuTime;

const EVENTS: usize = 16;

/// The streamConversion field defaults.
fn linkedin_default_mapping() -> Value {
    json!({
        "conversionHappenedAt": {"@path": "$.timestamp"},
        "conversionValue": {"currencyCode": {"@path": "$.properties.currency"}, "amount": {"@path": "$.properties.revenue"}},
        "eventId": {"@path": "$.messageId"},
        "email": {"@path": "$.traits.email"},
        "enable_batching": true,
        "batch_size": 5000
    })
}

fn linkedin_full_mapping() -> Value {
    json!({
        "email": {"@if": {"exists": {"@path": "$.context.traits.email"}, "then": {"@path": "$.context.traits.email"}, "else": {"@path": "$.properties.email"}}},
        "conversionHappenedAt": {"@path": "$.timestamp"},
        "conversionValue": {"currencyCode": {"@path": "$.properties.currency"}, "amount": {"@path": "$.properties.revenue"}},
        "eventId": {"@path": "$.messageId"},
        "userInfo": {
            "firstName": {"@if": {"exists": {"@path": "$.properties.first_name"}, "then": {"@path": "$.properties.first_name"}, "else": {"@path": "$.context.traits.first_name"}}},
            "lastName": {"@if": {"exists": {"@path": "$.properties.last_name"}, "then": {"@path": "$.properties.last_name"}, "else": {"@path": "$.context.traits.last_name"}}},
            "title": {"@path": "$.properties.title"},
            "companyName": {"@path": "$.properties.company"},
            "countryCode": {"@path": "$.context.location.country"}
        },
        "linkedInUUID": {"@path": "$.properties.li_fat_id"},
        "acxiomID": {"@path": "$.properties.acxiom_id"},
        "oracleID": {"@path": "$.properties.oracle_id"},
        "externalIds": {"@arrayPath": ["$.properties.external_ids", {"id": {"@path": "$.id"}}]},
        "enable_batching": true,
        "batch_size": 5000,
        "subject": {"@template": "{{event}} by {{userId}}"}
    })
}

/// A realistic analytics.js track event; `i` makes email, ids, timestamp and revenue distinct.
fn track_event(i: usize) -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": format!("ajs-next-1712345678901-4f2c1e0a-9b7d-4c3e-8a6f-{i:012x}"),
        "anonymousId": format!("a1b2c3d4-e5f6-4a7b-8c9d-{i:012x}"),
        "userId": format!("user-{i:06}"),
        "timestamp": format!("2024-04-05T12:{:02}:{:02}.789Z", (i / 60) % 60, i % 60),
        "receivedAt": "2024-04-05T12:34:57.012Z",
        "sentAt": "2024-04-05T12:34:56.900Z",
        "context": {
            "ip": "203.0.113.42",
            "locale": "en-US",
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0 Safari/537.36",
            "library": {"name": "analytics.js", "version": "next-1.64.0"},
            "page": {"path": "/checkout/complete", "url": "https://shop.example.com/checkout/complete", "title": "Thank you", "referrer": "https://shop.example.com/cart"},
            "traits": {"email": format!("jane.doe+{i}@example.com"), "first_name": "Jane", "last_name": "Doe"},
            "location": {"country": "US", "city": "San Francisco"}
        },
        "properties": {
            "order_id": format!("ORD-2024-{i:06}"),
            "revenue": 100.0 + (i % 500) as f64 + 0.99,
            "currency": "USD",
            "title": "Engineering Manager",
            "company": "Example Corp",
            "li_fat_id": "li-fat-0123456789abcdef",
            "acxiom_id": "acx-987654",
            "external_ids": [{"id": format!("ext-{i}"), "type": "crm"}, {"id": "ext-2", "type": "erp"}],
            "products": [
                {"product_id": "p-1", "sku": "SKU-1", "name": "Shoe", "price": 99.99, "quantity": 1},
                {"product_id": "p-2", "sku": "SKU-2", "name": "Sock", "price": 25.0, "quantity": 2}
            ]
        },
        "integrations": {"All": true}
    })
}

/// Checks once that the benchmarked evaluations produce the real, complete output.
fn check_outputs(default: &Mapping, full: &Mapping, events: &[Value]) {
    let ev = &events[7];
    let out = default.evaluate(ev).expect("evaluates").expect("an object");
    assert_eq!(out["eventId"], ev["messageId"]);
    assert_eq!(
        out["conversionValue"]["amount"],
        ev["properties"]["revenue"]
    );
    assert_eq!(
        out.as_object().map(|o| o.len()),
        Some(5),
        "email is not in $.traits"
    );
    let mut reused = Value::Null;
    for ev in events.iter().chain([ev]) {
        assert!(full.evaluate_into(ev, &mut reused).expect("evaluates"));
    }
    let out = full.evaluate(ev).expect("evaluates").expect("an object");
    assert_eq!(reused, out);
    assert_eq!(out["subject"], "Order Completed by user-000007");
    assert_eq!(
        out["externalIds"],
        json!([{"id": "ext-7"}, {"id": "ext-2"}])
    );
    assert_eq!(out["email"], ev["context"]["traits"]["email"]);
    assert_eq!(out["userInfo"]["countryCode"], "US");
    assert!(out.get("oracleID").is_none());
}

fn bench(c: &mut Criterion<CpuTime>) {
    let events: Vec<Value> = (0..EVENTS).map(track_event).collect();
    let default_mapping = linkedin_default_mapping();
    let full_mapping = linkedin_full_mapping();
    let default = Mapping::compile(&default_mapping).expect("the default mapping is valid");
    let full = Mapping::compile(&full_mapping).expect("the full mapping is valid");
    check_outputs(&default, &full, &events);

    let mut g = c.benchmark_group("mapping");
    g.throughput(Throughput::Elements(1));
    for (name, compiled) in [("default", &default), ("full", &full)] {
        let mut i = 0usize;
        g.bench_function(format!("{name}/evaluate"), |b| {
            b.iter(|| {
                i = (i + 1) % EVENTS;
                compiled.evaluate(black_box(&events[i]))
            })
        });
        let mut out = Value::Null;
        g.bench_function(format!("{name}/evaluate_into"), |b| {
            b.iter(|| {
                i = (i + 1) % EVENTS;
                compiled.evaluate_into(black_box(&events[i]), &mut out)
            })
        });
    }
    // The floor for any evaluator that returns a new `serde_json::Value`: copying the finished
    // output (same allocations, no lookups) and dropping it.
    let outputs: Vec<Value> = events
        .iter()
        .map(|e| default.evaluate(e).expect("evaluates").expect("an object"))
        .collect();
    let mut i = 0usize;
    g.bench_function("default/clone_of_output", |b| {
        b.iter(|| {
            i = (i + 1) % EVENTS;
            black_box(&outputs[i]).clone()
        })
    });
    // What a sender does per event: map, then serialise the body (into a reused buffer).
    let mut body: Vec<u8> = Vec::with_capacity(1024);
    let mut i = 0usize;
    g.bench_function("default/evaluate+serialize", |b| {
        b.iter(|| {
            i = (i + 1) % EVENTS;
            let out = default.evaluate(black_box(&events[i])).expect("evaluates");
            body.clear();
            serde_json::to_writer(&mut body, &out).expect("serialises");
            black_box(body.len())
        })
    });
    let mut out = Value::Null;
    g.bench_function("default/evaluate_into+serialize", |b| {
        b.iter(|| {
            i = (i + 1) % EVENTS;
            default
                .evaluate_into(black_box(&events[i]), &mut out)
                .expect("evaluates");
            body.clear();
            serde_json::to_writer(&mut body, &out).expect("serialises");
            black_box(body.len())
        })
    });
    let event = &events[0];
    g.bench_function("full/evaluate_same_event", |b| {
        b.iter(|| full.evaluate(black_box(event)))
    });
    g.bench_function("full/compile", |b| {
        b.iter(|| Mapping::compile(black_box(&full_mapping)))
    });
    g.bench_function("full/transform", |b| {
        b.iter(|| transform(black_box(&full_mapping), black_box(event)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
