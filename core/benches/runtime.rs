//! `DestinationRuntime::on_event` end to end against a local HTTP server, with the reference's
//! workload (`/work/shared/reference/performance.md`): track "Order Completed" events with a
//! distinct email and messageId each, timestamp within the last hour, `properties.revenue` and
//! `properties.currency`; an OAuth destination (tokens in the settings, the conversion rule id
//! in the hook outputs `mapping.onMappingSave.outputs.id`) whose action has a 10-field typed
//! payload and posts a LinkedIn-style conversion body; the server answers `POST` with 201 and
//! an empty body at once.
//!
//! Groups (each measured twice: `runtime/*` in wall time, `runtime_cpu/*` in CPU time of the
//! benchmarking thread, which runs the runtime, the HTTP client and its connection — the
//! server has its own thread):
//!
//! * `on_event` — one event at a time through the whole runtime (settings cache, subscription,
//!   mapping, empty-value removal, validation, typed payload, request with OAuth headers,
//!   response);
//! * `on_event_without_http` — the same, the action building and serialising the body but not
//!   sending it;
//! * `map_remove_empty_validate` — the execute path up to the request, by the public pieces
//!   the runtime uses: mapping, `remove_empty_values`, schema validation, typed payload;
//! * `floor_reqwest_post` — the floor: a bare reqwest POST (one pooled client, same settings
//!   as the runtime's) of a pre-serialised body of the same size to the same server.
//!
//! Loopback HTTP costs vary a lot with the machine's state, so before the groups the bench
//! also prints `on_event` and the floor measured in alternating blocks, with the median ratio.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actions_core::fields::{CompiledSchema, fields_of, fields_to_json_schema, remove_empty_values};
use actions_core::mapping::Mapping;
use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use bytes::Bytes;
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::runtime::Runtime;

mod support;
use support::cpu_time::{CpuTime, thread_cpu_ns, thread_user_sys_us};

const API: &str = "https://api.linkedin.com";
const EVENTS: usize = 1024;

// ---------------------------------------------------------------------------------------------
// The destination.

/// Settings.
#[derive(Deserialize, JsonSchema)]
struct Settings {
    /// The ad account conversions are attributed to.
    #[schemars(title = "Ad Account")]
    #[allow(dead_code)] // Validated and typed like every setting; not sent.
    ad_account: String,
}

/// The payload of `streamConversion`: ten fields.
#[derive(Deserialize, JsonSchema)]
struct Conversion {
    /// When the conversion happened (ISO 8601).
    #[schemars(title = "Timestamp")]
    conversion_happened_at: String,
    /// The user's email address.
    #[schemars(title = "Email")]
    email: Option<String>,
    /// The currency of the amount.
    #[schemars(title = "Currency Code")]
    currency_code: Option<String>,
    /// The amount.
    #[schemars(title = "Amount")]
    amount: Option<f64>,
    /// The event id (deduplication).
    #[schemars(title = "Event ID")]
    event_id: Option<String>,
    /// First name.
    #[schemars(title = "First Name")]
    first_name: Option<String>,
    /// Last name.
    #[schemars(title = "Last Name")]
    last_name: Option<String>,
    /// Company.
    #[schemars(title = "Company Name")]
    company_name: Option<String>,
    /// Job title.
    #[schemars(title = "Title")]
    title: Option<String>,
    /// Country code.
    #[schemars(title = "Country Code")]
    country_code: Option<String>,
}

/// The conversion body, as LinkedIn's `conversionEvents` takes it.
fn conversion_body(input: &ExecuteInput<'_, Settings, Conversion>) -> Result<Value, Error> {
    let p = &input.payload;
    let rule = input
        .hook_output("onMappingSave")
        .and_then(|h| h["outputs"]["id"].as_str())
        .ok_or_else(|| Error::plain("no conversion rule id in the hook outputs"))?;
    let at = chrono::DateTime::parse_from_rfc3339(&p.conversion_happened_at)
        .map_err(|e| Error::plain(format!("bad timestamp: {e}")))?
        .timestamp_millis();
    let mut body = json!({
        "conversion": format!("urn:lla:llaPartnerConversion:{rule}"),
        "conversionHappenedAt": at,
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": p.email}]},
    });
    if let (Some(currency), Some(amount)) = (&p.currency_code, p.amount) {
        body["conversionValue"] = json!({"currencyCode": currency, "amount": amount.to_string()});
    }
    if let Some(id) = &p.event_id {
        body["eventId"] = json!(id);
    }
    if let (Some(first), Some(last)) = (&p.first_name, &p.last_name) {
        body["user"]["userInfo"] = json!({"firstName": first, "lastName": last,
            "companyName": p.company_name, "title": p.title, "countryCode": p.country_code});
    }
    Ok(body)
}

/// Posts the conversion (`send: true`) or only builds and serialises it.
struct StreamConversion {
    key: &'static str,
    send: bool,
}

#[async_trait]
impl Action<Settings> for StreamConversion {
    type Payload = Conversion;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new(self.key, "Stream Conversion Event", "Streams conversions.")
            .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Conversion>,
    ) -> Result<Option<Value>, Error> {
        let body = conversion_body(&input)?;
        if !self.send {
            let bytes = serde_json::to_vec(&body).map_err(|e| Error::plain(e.to_string()))?;
            return Ok(Some(json!({"bytes": bytes.len()})));
        }
        let r = client
            .post(format!("{API}/rest/conversionEvents"))
            .json(body)
            .send()
            .await?;
        Ok(Some(r.result_data()))
    }
}

struct LinkedInLike;

#[async_trait]
impl Destination for LinkedInLike {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new(
            "LinkedIn-like",
            "actions-bench-linkedin",
            AuthScheme::OAuth2,
        )
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![
            Arc::new(StreamConversion {
                key: "streamConversion",
                send: true,
            }),
            Arc::new(StreamConversion {
                key: "buildConversion",
                send: false,
            }),
        ]
    }

    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        let mut o = RequestOptions::new()
            .header("LinkedIn-Version", "202603")
            .header("X-Restli-Protocol-Version", "2.0.0");
        if let Some(t) = ctx.auth.access_token() {
            o = o.header("authorization", format!("Bearer {t}"));
        }
        o
    }
}

/// The subscription's mapping: one member per payload field, plus the hook outputs.
fn mapping() -> Value {
    json!({
        "conversion_happened_at": {"@path": "$.timestamp"},
        "email": {"@path": "$.context.traits.email"},
        "currency_code": {"@path": "$.properties.currency"},
        "amount": {"@path": "$.properties.revenue"},
        "event_id": {"@path": "$.messageId"},
        "first_name": {"@path": "$.context.traits.first_name"},
        "last_name": {"@path": "$.context.traits.last_name"},
        "company_name": {"@path": "$.properties.company"},
        "title": {"@path": "$.properties.title"},
        "country_code": {"@path": "$.context.location.country"},
        "onMappingSave": {"inputs": {}, "outputs": {"id": "5678901"}}
    })
}

fn settings(action: &str) -> Value {
    json!({
        "ad_account": "512345678",
        "oauth": {"access_token": "AQX-access-token-0123456789", "refresh_token": "AQX-refresh-token-9876543210",
                  "clientId": "client-id", "clientSecret": "client-secret"},
        "subscription": {"partnerAction": action, "subscribe": "type = \"track\"", "mapping": mapping()}
    })
}

/// A track "Order Completed" event; `i` makes email, messageId and timestamp distinct.
fn track_event(i: usize, now: chrono::DateTime<chrono::Utc>) -> Value {
    let ago_ms = (3_000 * i % 3_600_000) as i64;
    let at = now - chrono::Duration::milliseconds(ago_ms);
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": format!("ajs-next-{i:08}-4f2c1e0a-9b7d-4c3e-8a6f-2d1b0c9e8f7a"),
        "anonymousId": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "userId": format!("user-{i}"),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "context": {
            "ip": "203.0.113.42",
            "library": {"name": "analytics.js", "version": "next-1.64.0"},
            "traits": {"email": format!("jane.doe+{i}@example.com"), "first_name": "Jane", "last_name": "Doe"},
            "location": {"country": "US"}
        },
        "properties": {"order_id": format!("ORD-{i}"), "revenue": 100.0 + (i % 500) as f64, "currency": "USD",
                       "company": "Example Corp", "title": "Engineering Manager"}
    })
}

// ---------------------------------------------------------------------------------------------
// The server.

/// Starts a minimal hyper server on 127.0.0.1 (its own thread and single-threaded runtime)
/// that answers `POST` with 201 and an empty body at once (404 otherwise); counts the POSTs.
fn start_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1");
            tx.send(listener.local_addr().expect("local address"))
                .expect("address sent");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: http::Request<Incoming>| {
                            let counter = counter.clone();
                            async move {
                                let status = if req.method() == http::Method::POST {
                                    counter.fetch_add(1, Ordering::Relaxed);
                                    201
                                } else {
                                    404
                                };
                                let _ = req.into_body().collect().await;
                                let response = http::Response::builder()
                                    .status(status)
                                    .body(Empty::<Bytes>::new())
                                    .expect("a valid response");
                                Ok::<_, Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (rx.recv().expect("server address"), posts)
}

// ---------------------------------------------------------------------------------------------
// The benchmarks.

struct Setup {
    rt: Runtime,
    runtime: DestinationRuntime<LinkedInLike>,
    send: Value,
    dry: Value,
    events: Vec<Value>,
    mapping: Mapping,
    schema: Value,
    compiled: CompiledSchema,
    floor_client: reqwest::Client,
    floor_url: String,
    floor_body: Bytes,
    posts: Arc<AtomicUsize>,
}

fn setup() -> Setup {
    let (addr, posts) = start_server();
    let origin = format!("http://{addr}");
    let config = RuntimeConfig {
        origins: OriginOverrides::new().with(API, &origin),
        ..RuntimeConfig::default()
    };
    let runtime =
        DestinationRuntime::with_config(LinkedInLike, config).expect("a valid destination");
    let now = chrono::Utc::now();
    let events: Vec<Value> = (0..EVENTS).map(|i| track_event(i, now)).collect();
    let fields = fields_of::<Conversion>().expect("fields");
    let schema = fields_to_json_schema(&fields).expect("a schema");
    let compiled = CompiledSchema::compile(&schema).expect("compiles");
    // The floor's body: what the action sends for the first event, serialised once.
    let sample = json!({
        "conversion": "urn:lla:llaPartnerConversion:5678901",
        "conversionHappenedAt": now.timestamp_millis(),
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": "jane.doe+0@example.com"}],
                 "userInfo": {"firstName": "Jane", "lastName": "Doe", "companyName": "Example Corp",
                              "title": "Engineering Manager", "countryCode": "US"}},
        "conversionValue": {"currencyCode": "USD", "amount": "100"},
        "eventId": "ajs-next-00000000-4f2c1e0a-9b7d-4c3e-8a6f-2d1b0c9e8f7a"
    });
    // The same client settings as the runtime's `HttpClient` (which installed the TLS provider).
    let floor_client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .expect("a reqwest client");
    Setup {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime"),
        runtime,
        send: settings("streamConversion"),
        dry: settings("buildConversion"),
        events,
        mapping: Mapping::compile(&mapping()).expect("a valid mapping"),
        schema,
        compiled,
        floor_client,
        floor_url: format!("{origin}/rest/conversionEvents"),
        floor_body: Bytes::from(serde_json::to_vec(&sample).expect("serialises")),
        posts,
    }
}

impl Setup {
    async fn on_event(&self, event: &Value, settings: &Value) -> Vec<actions_core::ResultEntry> {
        self.runtime
            .on_event(event, settings, &EventOptions::default())
            .await
            .expect("the event is delivered")
    }

    /// The execute path up to the request, as the runtime runs it.
    fn map_remove_empty_validate(&self, event: &Value) -> Conversion {
        let mapped = self
            .mapping
            .evaluate(event)
            .expect("maps")
            .unwrap_or_else(|| json!({}));
        let mut payload =
            remove_empty_values(mapped, &self.schema, true).unwrap_or_else(|| json!({}));
        self.compiled
            .validate(&mut payload, &[])
            .expect("a valid payload");
        serde_json::from_value(payload).expect("a typed payload")
    }

    async fn floor_post(&self) -> u16 {
        let r = self
            .floor_client
            .post(&self.floor_url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer AQX-access-token-0123456789")
            .body(self.floor_body.clone())
            .send()
            .await
            .expect("posted");
        let status = r.status().as_u16();
        let _ = r.bytes().await.expect("read");
        status
    }

    /// Checks once that every benchmarked path does its whole job.
    fn check(&self) {
        let before = self.posts.load(Ordering::Relaxed);
        let results = self.rt.block_on(self.on_event(&self.events[3], &self.send));
        let outputs: Vec<_> = results.iter().filter_map(|r| r.output.as_deref()).collect();
        assert_eq!(
            outputs,
            ["Mappings resolved", "Payload validated", "Action Executed"]
        );
        assert_eq!(
            self.posts.load(Ordering::Relaxed),
            before + 1,
            "one POST per event"
        );
        let results = self.rt.block_on(self.on_event(&self.events[3], &self.dry));
        let sent = results
            .last()
            .and_then(|r| r.data.as_ref())
            .and_then(|d| d["bytes"].as_u64());
        assert!(
            sent.is_some_and(|n| n.abs_diff(self.floor_body.len() as u64) < 16),
            "the body is built without HTTP, the floor's size ({sent:?})"
        );
        assert_eq!(self.posts.load(Ordering::Relaxed), before + 1);
        let p = self.map_remove_empty_validate(&self.events[3]);
        assert_eq!(p.email.as_deref(), Some("jane.doe+3@example.com"));
        assert_eq!(p.currency_code.as_deref(), Some("USD"));
        assert_eq!(self.rt.block_on(self.floor_post()), 201);
        assert_eq!(self.posts.load(Ordering::Relaxed), before + 2);
        println!(
            "body: {} bytes; events: {EVENTS} distinct",
            self.floor_body.len()
        );
    }
}

/// Per-event cost of one block of `n` calls, in µs: wall, CPU of this thread, and that CPU's
/// user and system parts.
fn block(n: usize, mut f: impl FnMut(usize)) -> [f64; 4] {
    let (wall, cpu, (user, sys)) = (
        std::time::Instant::now(),
        thread_cpu_ns(),
        thread_user_sys_us(),
    );
    for k in 0..n {
        f(k);
    }
    let cpu_ns = thread_cpu_ns().saturating_sub(cpu) as f64;
    let (user2, sys2) = thread_user_sys_us();
    let n = n as f64;
    [
        wall.elapsed().as_secs_f64() * 1e6 / n,
        cpu_ns / 1e3 / n,
        (user2 - user) / n,
        (sys2 - sys) / n,
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

impl Setup {
    /// `on_event` and the floor in alternating blocks, so that both see the same machine
    /// (which varies a lot from minute to minute): medians of the per-block figures and of the
    /// per-round ratios.
    fn interleaved(&self, rounds: usize, n: usize) {
        let (mut ev, mut fl, mut ratio_wall, mut ratio_cpu) = (vec![], vec![], vec![], vec![]);
        for r in 0..rounds {
            let e = block(n, |k| {
                let event = &self.events[(r * n + k) % EVENTS];
                black_box(self.rt.block_on(self.on_event(event, &self.send)));
            });
            let f = block(n, |_| {
                black_box(self.rt.block_on(self.floor_post()));
            });
            ratio_wall.push(e[0] / f[0]);
            ratio_cpu.push(e[1] / f[1]);
            ev.push(e);
            fl.push(f);
        }
        let col = |v: &[[f64; 4]], i: usize| {
            median(
                v.iter()
                    .map(|p| p.get(i).copied().unwrap_or(f64::NAN))
                    .collect(),
            )
        };
        println!(
            "interleaved ({rounds} rounds of {n}): on_event {:.1} µs wall, {:.1} µs cpu \
             ({:.1} user + {:.1} sys); floor {:.1} µs wall, {:.1} µs cpu ({:.1} user + {:.1} \
             sys); ratio on_event/floor {:.2} wall, {:.2} cpu",
            col(&ev, 0),
            col(&ev, 1),
            col(&ev, 2),
            col(&ev, 3),
            col(&fl, 0),
            col(&fl, 1),
            col(&fl, 2),
            col(&fl, 3),
            median(ratio_wall),
            median(ratio_cpu),
        );
    }
}

fn groups<M: Measurement + 'static>(c: &mut Criterion<M>, s: &Setup, name: &str) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("on_event", |b| {
        b.iter(|| {
            i = (i + 1) % EVENTS;
            s.rt.block_on(s.on_event(black_box(&s.events[i]), &s.send))
        })
    });
    g.bench_function("on_event_without_http", |b| {
        b.iter(|| {
            i = (i + 1) % EVENTS;
            s.rt.block_on(s.on_event(black_box(&s.events[i]), &s.dry))
        })
    });
    g.bench_function("map_remove_empty_validate", |b| {
        b.iter(|| {
            i = (i + 1) % EVENTS;
            s.map_remove_empty_validate(black_box(&s.events[i]))
        })
    });
    g.bench_function("floor_reqwest_post", |b| {
        b.iter(|| s.rt.block_on(s.floor_post()))
    });
    g.finish();
}

fn wall(c: &mut Criterion) {
    let s = setup();
    s.check();
    s.interleaved(21, 300);
    groups(c, &s, "runtime");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    let s = setup();
    s.check();
    groups(c, &s, "runtime_cpu");
}

criterion_group!(wall_benches, wall);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_benches, cpu_benches);
