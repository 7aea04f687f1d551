//! Subscription (FQL) benchmarks: matching a parsed subscription against a realistic
//! track event (the per-event hot path), and parsing (once per subscription).

use std::hint::black_box;

use actions_core::subscriptions::Subscription;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const THREE_CLAUSES: &str =
    r#"type = "track" and event = "Order Completed" and properties.revenue > 10"#;

const MIXED: &str = r#"(type = "track" or type = "page") and contains(context.page.url, "/checkout") and !match(properties.coupon, "TEST*") and properties.products.\0.price >= 5 and userId != null"#;

fn track_event() -> Value {
    json!({
        "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
        "context": {
            "ip": "203.0.113.7",
            "library": {"name": "analytics.js", "version": "2.11.1"},
            "locale": "en-US",
            "page": {
                "path": "/checkout/complete",
                "referrer": "https://shop.example.com/cart",
                "title": "Thank you",
                "url": "https://shop.example.com/checkout/complete"
            },
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15"
        },
        "event": "Order Completed",
        "integrations": {},
        "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
        "properties": {
            "checkout_id": "fksdjfsdjfisjf9sdfjsd9f",
            "order_id": "50314b8e9bcf000000000000",
            "affiliation": "Google Store",
            "total": 27.5,
            "subtotal": 22.5,
            "revenue": 25.0,
            "shipping": 3,
            "tax": 2,
            "discount": 2.5,
            "coupon": "hasbros",
            "currency": "USD",
            "products": [
                {"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly: 3rd Edition", "price": 19, "quantity": 1, "category": "Games"},
                {"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "name": "Uno Card Game", "price": 3, "quantity": 2, "category": "Games"}
            ]
        },
        "receivedAt": "2024-06-01T12:00:00.123Z",
        "sentAt": "2024-06-01T12:00:00.100Z",
        "timestamp": "2024-06-01T12:00:00.000Z",
        "type": "track",
        "userId": "user-1234"
    })
}

fn bench_matching(c: &mut Criterion) {
    let event = track_event();
    let three = Subscription::parse(THREE_CLAUSES).expect("benchmark subscription parses");
    assert!(three.matches(&event));
    c.bench_function(
        "subscriptions/match 3 clauses (matching track event)",
        |b| b.iter(|| black_box(&three).matches(black_box(&event))),
    );

    let mut other = event.clone();
    other["event"] = json!("Product Viewed");
    assert!(!three.matches(&other));
    c.bench_function("subscriptions/match 3 clauses (event differs)", |b| {
        b.iter(|| black_box(&three).matches(black_box(&other)))
    });

    let mixed = Subscription::parse(MIXED).expect("benchmark subscription parses");
    assert!(mixed.matches(&event));
    c.bench_function(
        "subscriptions/match 6 clauses with functions and paths",
        |b| b.iter(|| black_box(&mixed).matches(black_box(&event))),
    );
}

fn bench_parsing(c: &mut Criterion) {
    c.bench_function("subscriptions/parse 3 clauses", |b| {
        b.iter(|| Subscription::parse(black_box(THREE_CLAUSES)))
    });
    c.bench_function(
        "subscriptions/parse 6 clauses with functions and paths",
        |b| b.iter(|| Subscription::parse(black_box(MIXED))),
    );
    let three = Subscription::parse(THREE_CLAUSES).expect("benchmark subscription parses");
    c.bench_function("subscriptions/print 3 clauses", |b| {
        b.iter(|| black_box(&three).to_fql())
    });
}

criterion_group!(benches, bench_matching, bench_parsing);
criterion_main!(benches);
