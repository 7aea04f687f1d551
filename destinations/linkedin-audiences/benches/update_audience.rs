//! `updateAudience` throughput, the reference's workload (`performance.md`): batches of 1,000
//! "Audience Entered" events (distinct emails in `context.traits.email`,
//! `properties.audience_key`), default mapping, no cached segment id — so every batch makes the
//! segment lookup and one users POST — through `on_batch` against the in-process LinkedIn
//! simulator (its own work runs in this process too, so the figure is conservative). Also the
//! destination's share alone: building the users request body for 1,000 payloads.

use std::hint::black_box;
use std::sync::Arc;

use actions_core::context::MemoryState;
use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use actions_testkit::golden::LINKEDIN_ORIGINS;
use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use linkedin_audiences::actions::update_audience::{UpdateAudiencePayload, user_element};
use linkedin_audiences::{LinkedInAudiences, Settings};
use serde_json::Map;

const BATCH: usize = 1_000;

fn event(i: usize) -> Value {
    json!({
        "type": "track",
        "event": "Audience Entered",
        "messageId": format!("bench-{i}"),
        "userId": format!("user-{i}"),
        "timestamp": "2026-10-31T23:00:00.000Z",
        "properties": {"audience_key": "li_test_audience", "li_test_audience": true},
        "context": {
            "personas": {"computation_key": "li_test_audience", "computation_class": "audience"},
            "traits": {"email": format!("member.{i}@example.com")}
        },
        "traits": {"firstName": "Member", "lastName": "One"}
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let sim = rt
        .block_on(LinkedInSim::start(SimConfig::default()))
        .expect("simulator");
    let mut origins = OriginOverrides::new();
    for origin in LINKEDIN_ORIGINS {
        origins.add(origin, &sim.base_url());
    }
    let runtime = DestinationRuntime::with_config(
        LinkedInAudiences::new(),
        RuntimeConfig {
            origins,
            ..RuntimeConfig::default()
        },
    )
    .expect("runtime");
    let mut mapping = Map::new();
    if let Some((_, fields)) = runtime.actions().find(|(d, _)| d.key == "updateAudience") {
        for (key, field) in fields {
            if let Some(d) = &field.default {
                mapping.insert(key.clone(), d.clone());
            }
        }
    }
    let settings = json!({
        "ad_account_id": "512345678",
        "send_email": true,
        "send_google_advertising_id": true,
        "oauth": {"access_token": "sim-access-token", "refresh_token": "sim-refresh-token",
                  "clientId": "sim-client-id", "clientSecret": "sim-client-secret"},
        "subscription": {
            "partnerAction": "updateAudience",
            "subscribe": "event = \"Audience Entered\" or event = \"Audience Exited\"",
            "mapping": Value::Object(mapping)
        }
    });
    let events: Vec<Value> = (0..BATCH).map(event).collect();

    // The benchmark measures complete, successful deliveries.
    let check = rt
        .block_on(runtime.on_batch(&events, &settings, &EventOptions::default()))
        .expect("the batch is delivered");
    let delivered = check
        .iter()
        .filter_map(|r| r.multistatus.as_ref())
        .flatten()
        .filter(|n| n.status() == 200)
        .count();
    assert_eq!(delivered, BATCH);

    let mut group = c.benchmark_group("updateAudience");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("on_batch 1,000 events (lookup + users POST)", |b| {
        b.iter(|| {
            // A fresh state cache: no cached segment id, as in the reference workload.
            let opts = EventOptions {
                state: Some(Arc::new(MemoryState::new())),
                ..EventOptions::default()
            };
            rt.block_on(runtime.on_batch(black_box(&events), &settings, &opts))
                .expect("delivered")
        })
    });

    let typed = Settings {
        ad_account_id: "512345678".into(),
        send_email: true,
        send_google_advertising_id: true,
    };
    let payloads: Vec<UpdateAudiencePayload> = (0..BATCH)
        .map(|i| UpdateAudiencePayload {
            personas_audience_key: "li_test_audience".into(),
            source_segment_id: Some("li_test_audience".into()),
            email: Some(format!("member.{i}@example.com")),
            first_name: Some("Member".into()),
            last_name: Some("One".into()),
            event_name: Some("Audience Entered".into()),
            ..UpdateAudiencePayload::default()
        })
        .collect();
    group.bench_function("build + serialize users body, 1,000 payloads", |b| {
        b.iter(|| {
            let elements: Vec<_> = black_box(&payloads)
                .iter()
                .filter_map(|p| user_element(p, &typed))
                .collect();
            let body = std::collections::BTreeMap::from([("elements", elements)]);
            serde_json::to_string(&body).expect("serializes")
        })
    });
    // The floor on this machine, measured in the same run (the machine is noisy): hashing the
    // 1,000 emails and serializing an already built body of the same shape.
    let prebuilt = json!({"elements": payloads
        .iter()
        .filter_map(|p| user_element(p, &typed).map(|e| serde_json::to_value(e).expect("json")))
        .collect::<Vec<_>>()});
    group.bench_function(
        "floor: hash 1,000 emails + serialize a prebuilt body",
        |b| {
            b.iter(|| {
                let hashes: usize = black_box(&payloads)
                    .iter()
                    .filter_map(|p| p.email.as_deref())
                    .map(|e| linkedin_common::process_hashing(e, None).len())
                    .sum();
                (
                    hashes,
                    serde_json::to_string(black_box(&prebuilt)).expect("serializes"),
                )
            })
        },
    );
    group.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
