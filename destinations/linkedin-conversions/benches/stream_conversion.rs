//! The reference's streamConversion workload (`shared/reference/performance.md`): `track`
//! "Order Completed" events with a distinct email and messageId, timestamps within the last
//! hour, revenue and currency, the default mapping and the rule id in the hook outputs; a local
//! server answers `POST /rest/conversionEvents` with 201 at once. Measured: one event through
//! `on_event` (concurrency 1), 64 concurrent `on_event`s, a batch of 1,000 through `on_batch`,
//! and the destination's own CPU work per event (time rule, validation, hashing, body).
//!
//! `cargo bench -p linkedin-conversions --bench stream_conversion -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use actions_core::{DestinationRuntime, RuntimeConfig};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use linkedin_conversions::LinkedInConversions;
use linkedin_conversions::actions::stream_conversion::{
    StreamConversionPayload, conversion_element, validate,
};
use linkedin_conversions::timestamp::conversion_time;

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn event(i: usize, now: i64) -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": format!("bench-{i}"),
        "userId": format!("user-{i}"),
        "anonymousId": format!("anon-{i}"),
        "timestamp": iso(now - (i as i64 % 3600) * 1000),
        "receivedAt": iso(now),
        "traits": {"email": format!("user{i}@example.com")},
        "properties": {"revenue": 49.99, "currency": "USD", "order_id": format!("o-{i}")},
        "context": {"ip": "8.8.8.8", "library": {"name": "analytics.js", "version": "2.11.1"}}
    })
}

fn settings() -> Value {
    json!({
        "oauth": {"access_token": "bench-token", "refresh_token": "bench-refresh"},
        "subscription": {
            "partnerAction": "streamConversion",
            "subscribe": "type = \"track\"",
            "mapping": {
                "conversionHappenedAt": {"@path": "$.timestamp"},
                "conversionValue": {"currencyCode": {"@path": "$.properties.currency"}, "amount": {"@path": "$.properties.revenue"}},
                "eventId": {"@path": "$.messageId"},
                "email": {"@path": "$.traits.email"},
                "enable_batching": true,
                "batch_size": 5000,
                "onMappingSave": {"inputs": {}, "outputs": {"id": "9001"}}
            }
        }
    })
}

/// A server answering every request with 201 and an empty body, on its own runtime thread.
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
        let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::CREATED });
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
    let runtime = Arc::new(
        DestinationRuntime::with_config(
            LinkedInConversions::new(),
            RuntimeConfig {
                origins: OriginOverrides::new().with("https://api.linkedin.com", &base),
                ..RuntimeConfig::default()
            },
        )
        .expect("runtime"),
    );
    let settings = settings();
    let opts = EventOptions::default();
    let now = now_ms();
    let events: Vec<Value> = (0..1000).map(|i| event(i, now)).collect();

    let mut g = c.benchmark_group("stream_conversion");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("on_event", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            let r = client_rt.block_on(runtime.on_event(&events[i], &settings, &opts));
            assert!(r.is_ok());
        })
    });

    g.throughput(Throughput::Elements(64));
    g.bench_function("on_event_x64_concurrent", |b| {
        b.iter(|| {
            let calls = events[..64]
                .iter()
                .map(|e| runtime.on_event(e, &settings, &opts));
            let results = client_rt.block_on(join_all(calls));
            assert!(results.iter().all(Result::is_ok));
        })
    });

    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("on_batch_1000", |b| {
        b.iter(|| {
            let r = client_rt.block_on(runtime.on_batch(&events, &settings, &opts));
            assert!(r.is_ok());
        })
    });

    // The destination's own work per event, after mapping and validation.
    let payloads: Vec<StreamConversionPayload> = events
        .iter()
        .map(|e| {
            serde_json::from_value(json!({
                "conversionHappenedAt": e["timestamp"],
                "conversionValue": {"currencyCode": "USD", "amount": "49.99"},
                "eventId": e["messageId"],
                "email": e["traits"]["email"]
            }))
            .expect("payload")
        })
        .collect();
    g.throughput(Throughput::Elements(payloads.len() as u64));
    g.bench_function("elements_1000", |b| {
        b.iter_batched(
            || payloads.clone(),
            |payloads| {
                let body: Vec<Value> = payloads
                    .into_iter()
                    .filter_map(|p| {
                        let time = conversion_time(&p.conversion_happened_at);
                        let time = validate(&p, time, now).ok()?;
                        Some(conversion_element("9001", time, p))
                    })
                    .collect();
                black_box(serde_json::to_string(&body).map(|s| s.len()).unwrap_or(0))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
