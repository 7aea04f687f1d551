//! Prometheus metrics (`GET /metrics` of `relay serve`), through the `metrics` crate's
//! [`Recorder`] API and its Prometheus exporter. Each [`Relay`](crate::Relay) owns its own
//! recorder (no process-global state), so several relays in one process — tests, embedders —
//! keep their figures apart.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `relay_ingest_received_total` | counter | |
//! | `relay_ingest_rejected_total` | counter | `reason` |
//! | `relay_accepted_total` | counter | `instance` |
//! | `relay_delivered_total` | counter | `instance` |
//! | `relay_retried_total` | counter | `instance`, `reason` |
//! | `relay_dead_lettered_total` | counter | `instance`, `reason` |
//! | `relay_queue_depth` | gauge | `instance` |
//! | `relay_oldest_event_age_seconds` | gauge | `instance` |
//! | `relay_rate_limit_pauses_total` | counter | `instance` |
//! | `relay_rate_limit_factor` | gauge | `instance` |
//! | `relay_rate_limit_remaining` | gauge | `instance` |
//! | `relay_rate_limit_low` | gauge (1 below 10% of `X-RateLimit-Limit`) | `instance` |
//! | `relay_token_refreshes_total` | counter | `instance` |
//! | `relay_request_duration_seconds` | histogram | `instance`, `action` |
//!
//! Counters that [`Counters`](crate::Counters) already keeps are copied into the recorder when
//! the page is rendered ([`Relay::render_metrics`](crate::Relay::render_metrics)); the histogram
//! and the ingest counters are recorded as they happen.
//!
//! ```
//! let m = relay::metrics::Metrics::new();
//! m.counter("relay_ingest_received_total", &[]).increment(3);
//! assert!(m.render().contains("relay_ingest_received_total 3"));
//! ```

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

static META: Metadata<'static> = Metadata::new("relay", Level::INFO, Some("relay"));

/// Latency buckets (seconds).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "relay_ingest_received_total",
        "Events received by the HTTP ingest.",
    ),
    (
        "relay_ingest_rejected_total",
        "Events or requests the HTTP ingest refused, by reason.",
    ),
    (
        "relay_accepted_total",
        "Jobs accepted durably (one per event and subscribed destination instance).",
    ),
    ("relay_delivered_total", "Events delivered."),
    ("relay_retried_total", "Attempts to be retried, by reason."),
    (
        "relay_dead_lettered_total",
        "Events dead-lettered, by reason.",
    ),
    (
        "relay_queue_depth",
        "Jobs held in the queue (due, scheduled or in flight).",
    ),
    (
        "relay_oldest_event_age_seconds",
        "Age of the oldest job held in the queue.",
    ),
    (
        "relay_rate_limit_pauses_total",
        "Pauses of a destination instance by a rate limit (429, X-RateLimit-Remaining 0, daily quota).",
    ),
    (
        "relay_rate_limit_factor",
        "The adaptive factor applied to the configured rate limit (1 = full rate).",
    ),
    (
        "relay_rate_limit_remaining",
        "The partner's last X-RateLimit-Remaining.",
    ),
    (
        "relay_rate_limit_low",
        "1 while X-RateLimit-Remaining is below 10% of X-RateLimit-Limit.",
    ),
    ("relay_token_refreshes_total", "OAuth token refreshes."),
    (
        "relay_request_duration_seconds",
        "Duration of one delivery attempt (one request, or one batch), by action.",
    ),
];

/// A Prometheus recorder and its renderer.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, (*v).to_string()))
        .collect();
    Key::from_parts(name, labels)
}

impl Metrics {
    /// A recorder with relay's histogram buckets and descriptions.
    pub fn new() -> Self {
        // The buckets are a non-empty constant: setting them cannot fail.
        let recorder = match PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        {
            Ok(b) => b.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        for (name, help) in DESCRIPTIONS {
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            if name.ends_with("_total") {
                recorder.describe_counter(KeyName::from_const_str(name), unit, (*help).into());
            } else if *name == "relay_request_duration_seconds" {
                recorder.describe_histogram(KeyName::from_const_str(name), unit, (*help).into());
            } else {
                recorder.describe_gauge(KeyName::from_const_str(name), unit, (*help).into());
            }
        }
        Metrics { recorder, handle }
    }

    /// The counter `name` with these labels.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder.register_counter(&key(name, labels), &META)
    }

    /// The gauge `name` with these labels.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder.register_gauge(&key(name, labels), &META)
    }

    /// The histogram `name` with these labels.
    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.recorder.register_histogram(&key(name, labels), &META)
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}
