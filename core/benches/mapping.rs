//! Mapping kit throughput: the LinkedIn streamConversion default mapping (plus a `@template`)
//! on a realistic track event — evaluate (compiled once), compile alone, and `transform`
//! (compile + evaluate, what the reference does per event).

use std::hint::black_box;

use actions_core::mapping::{Mapping, transform};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn linkedin_mapping() -> Value {
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

fn track_event() -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": "ajs-next-1712345678901-4f2c1e0a-9b7d-4c3e-8a6f-2d1b0c9e8f7a",
        "anonymousId": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "userId": "user-123456",
        "timestamp": "2024-04-05T12:34:56.789Z",
        "receivedAt": "2024-04-05T12:34:57.012Z",
        "sentAt": "2024-04-05T12:34:56.900Z",
        "context": {
            "ip": "203.0.113.42",
            "locale": "en-US",
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0 Safari/537.36",
            "library": {"name": "analytics.js", "version": "next-1.64.0"},
            "page": {"path": "/checkout/complete", "url": "https://shop.example.com/checkout/complete", "title": "Thank you", "referrer": "https://shop.example.com/cart"},
            "traits": {"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe"},
            "location": {"country": "US", "city": "San Francisco"}
        },
        "properties": {
            "order_id": "ORD-2024-000123",
            "revenue": 149.99,
            "currency": "USD",
            "title": "Engineering Manager",
            "company": "Example Corp",
            "li_fat_id": "li-fat-0123456789abcdef",
            "acxiom_id": "acx-987654",
            "external_ids": [{"id": "ext-1", "type": "crm"}, {"id": "ext-2", "type": "erp"}],
            "products": [
                {"product_id": "p-1", "sku": "SKU-1", "name": "Shoe", "price": 99.99, "quantity": 1},
                {"product_id": "p-2", "sku": "SKU-2", "name": "Sock", "price": 25.0, "quantity": 2}
            ]
        },
        "integrations": {"All": true}
    })
}

fn bench(c: &mut Criterion) {
    let mapping = linkedin_mapping();
    let event = track_event();
    let compiled = Mapping::compile(&mapping).expect("the LinkedIn mapping is valid");
    // The benchmark measures a real, complete output.
    let out = compiled
        .evaluate(&event)
        .expect("evaluates")
        .expect("an object");
    assert_eq!(out["subject"], "Order Completed by user-123456");
    assert_eq!(
        out["externalIds"],
        json!([{"id": "ext-1"}, {"id": "ext-2"}])
    );
    assert_eq!(out["email"], "jane.doe@example.com");

    c.bench_function("mapping/evaluate_linkedin", |b| {
        b.iter(|| compiled.evaluate(black_box(&event)))
    });
    c.bench_function("mapping/compile_linkedin", |b| {
        b.iter(|| Mapping::compile(black_box(&mapping)))
    });
    c.bench_function("mapping/transform_linkedin", |b| {
        b.iter(|| transform(black_box(&mapping), black_box(&event)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
