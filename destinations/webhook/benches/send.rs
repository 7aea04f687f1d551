//! The `send` action's workload: `track` events with the default mapping (the whole event as
//! the body), a shared secret (so every request is signed) and the message id as the business
//! key; a local server answers 200 at once. Measured: one event through `on_event`, a batch of
//! 1,000 through `on_batch`, and the destination's own CPU work per event (JSON.stringify of the
//! event, the HMAC-SHA1 signature, the idempotency key).
//!
//! `cargo bench -p webhook --bench send -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use actions_core::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use webhook::Webhook;
use webhook::api::{idempotency_key, signature, stringify};

fn event(i: usize) -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": format!("bench-{i}"),
        "userId": format!("user-{i}"),
        "anonymousId": format!("anon-{i}"),
        "timestamp": "2024-05-05T09:06:40.000Z",
        "traits": {"email": format!("user{i}@example.com")},
        "properties": {"revenue": 49.99, "currency": "USD", "order_id": format!("o-{i}"),
                       "products": [{"sku": "a", "price": 19.99, "quantity": 1},
                                    {"sku": "b", "price": 30.0, "quantity": 1}]},
        "context": {"ip": "8.8.8.8", "library": {"name": "analytics.js", "version": "2.11.1"},
                    "page": {"url": "https://segment.com/academy/", "title": "Analytics Academy"}}
    })
}

/// The endpoint's logical origin; the bench's server stands in for it.
const HOOK_ORIGIN: &str = "https://hook.example";

fn settings(base: &str) -> Value {
    json!({
        "sharedSecret": "bench-secret",
        "subscription": {
            "partnerAction": "send",
            "subscribe": "type = \"track\"",
            "mapping": {
                "url": format!("{base}/hook"),
                "method": "POST",
                "data": {"@path": "$."},
                "idempotency_key": {"@path": "$.messageId"}
            }
        }
    })
}

/// A server answering every request with 200 and an empty body, on its own runtime thread.
fn server() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::OK });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    });
    (rt, format!("http://{addr}"))
}

fn bench(c: &mut Criterion) {
    let (_server_rt, base) = server();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    // Plain http only to loopback through an origin override (core's transport rule).
    let config = RuntimeConfig {
        origins: actions_core::request::OriginOverrides::new().with(HOOK_ORIGIN, &base),
        ..RuntimeConfig::default()
    };
    let runtime = DestinationRuntime::with_config(Webhook::new(), config).expect("runtime");
    let settings = settings(HOOK_ORIGIN);
    let opts = EventOptions::default();
    let events: Vec<Value> = (0..1000).map(event).collect();

    let mut g = c.benchmark_group("send");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("on_event", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            let r = client_rt.block_on(runtime.on_event(&events[i], &settings, &opts));
            assert!(r.is_ok());
        })
    });

    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("on_batch_1000", |b| {
        b.iter(|| {
            let r = client_rt.block_on(runtime.on_batch(&events, &settings, &opts));
            assert!(r.is_ok());
        })
    });

    // The destination's own work per event: the body text, its signature, the key.
    g.throughput(Throughput::Elements(1));
    g.bench_function("body_signature_key", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            let body = stringify(&events[i]).expect("body");
            let sig = signature("bench-secret", &body).expect("signature");
            let key = idempotency_key(events[i]["messageId"].as_str().unwrap_or(""));
            black_box((body.len(), sig, key))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
