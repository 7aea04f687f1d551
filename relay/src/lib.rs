//! relay: durable delivery of events to destinations on one machine.
//!
//! It holds events durably ([`queue`], an embedded redb store behind the [`Queue`] trait),
//! retries them at the time the partner asked for (the core classifies each attempt as an
//! [`Outcome`](actions_core::Outcome); relay [schedules](engine)), never sends the same event
//! twice (an idempotency ledger keyed by destination instance, action and `messageId`), and parks
//! what can never succeed as a dead letter with the reason.
//!
//! The same engine runs the `relay` binary and embeds in a pipeline:
//!
//! ```no_run
//! use relay::{Relay, config::Config};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load(std::path::Path::new("relay.toml"))?;
//! let relay = Relay::from_config(config).await?;
//! relay.accept(serde_json::json!({"type": "track", "event": "Order Completed"})).await?;
//! let summary = relay.run_until_idle().await?;
//! println!("{}", summary.table());
//! relay.shutdown().await;
//! # Ok(()) }
//! ```

mod batcher;
pub mod classify;
pub mod config;
pub mod engine;
pub mod ingest;
mod instance;
pub mod metrics;
pub mod progress;
pub mod queue;
pub mod ratelimit;
pub mod schedule;
mod summary;

#[cfg(feature = "demo")]
pub mod demo;
#[cfg(feature = "demo")]
pub mod soak;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actions_core::context::{Clock, MemoryState};
use actions_core::request::OriginOverrides;
use actions_core::subscriptions::Subscription;
use actions_core::{EventOptions, RuntimeConfig};
use destination_registry::Registry;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::engine::Engine;
pub use crate::instance::Counters;
use crate::instance::{Instance, Settings, Sub};
use crate::queue::{
    DeadLetter, EmbeddedQueue, Enqueued, InstanceState, LedgerEntry, LedgerKey, NewJob, Queue,
    ReplayReport, Selection, StoreError,
};
pub use crate::summary::{InstanceSummary, Summary};

/// The default number of events in one batch of a batch-capable action (the configuration's
/// `batch.size`; never above the action's own maximum).
pub const DEFAULT_BATCH_SIZE: usize = 1000;
/// The default time in-flight attempts get to finish at shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// What can go wrong building or running relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A clock on tokio's time: ms since the epoch, anchored at the system time when created and
/// advanced by tokio's monotonic clock — so paused-time tests move it with `tokio::time`.
#[derive(Debug)]
pub struct TokioClock {
    epoch_ms: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Anchored at the system time now.
    pub fn new() -> Self {
        TokioClock::at(chrono::Utc::now().timestamp_millis())
    }

    /// Anchored at `epoch_ms` now.
    pub fn at(epoch_ms: i64) -> Self {
        TokioClock {
            epoch_ms,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.epoch_ms.saturating_add(elapsed)
    }
}

/// Builds a [`Relay`]: the configuration plus what tests and hosts inject (clock, jitter seed,
/// destination registry, queue backend, batch size, shutdown grace).
///
/// ```no_run
/// # async fn demo(config: relay::config::Config) -> Result<(), relay::RelayError> {
/// use std::sync::Arc;
/// let relay = relay::Relay::builder(config)
///     .clock(Arc::new(relay::TokioClock::at(1_700_000_000_000)))
///     .jitter_seed(7)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
pub struct RelayBuilder {
    config: Config,
    registry: Registry,
    clock: Option<Arc<dyn Clock>>,
    seed: Option<u64>,
    queue: Option<Arc<dyn Queue>>,
    batch_size: Option<usize>,
    grace: Duration,
}

impl RelayBuilder {
    /// The destination registry (default: every destination of the workspace).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// The clock (default [`TokioClock::new`]); runtimes get it too.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The seed of the backoff jitter (default: random).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The queue backend (default: the embedded store at `store.path`).
    pub fn queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Most events in one batch attempt, for every instance (default: each instance's
    /// `batch.size`, [`DEFAULT_BATCH_SIZE`] unless configured; never above an action's maximum).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n.max(1));
        self
    }

    /// How long in-flight attempts may run at shutdown (default [`DEFAULT_SHUTDOWN_GRACE`]).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Opens the store, builds every destination instance and starts delivering.
    ///
    /// # Errors
    /// An unknown slug or action, an invalid subscription (the error names the key and line), or
    /// a store that cannot be opened.
    pub async fn build(self) -> Result<Relay, RelayError> {
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(TokioClock::new()) as Arc<dyn Clock>);
        let queue: Arc<dyn Queue> = match self.queue {
            Some(q) => q,
            None => {
                let c = clock.clone();
                open_queue(&self.config, Arc::new(move || c.now_ms())).await?
            }
        };
        let mut instances = Vec::new();
        for i in 0..self.config.destinations.len() {
            instances.push(Arc::new(
                build_instance(
                    &self.config,
                    i,
                    &self.registry,
                    &clock,
                    &queue,
                    self.batch_size,
                )
                .await?,
            ));
        }
        let seed = self.seed.unwrap_or_else(rand::random);
        let retry = self.config.retry.clone();
        let (stop, _) = watch::channel(false);
        let engine = Arc::new(Engine {
            queue,
            instances,
            clock,
            backoff: schedule::Backoff::new(retry.initial_backoff, retry.max_backoff, seed),
            retry,
            shutdown_grace: self.grace,
            stop,
            progress: Notify::new(),
            metrics: metrics::Metrics::new(),
            ingest: self.config.ingest.clone(),
        });
        let mut tasks = Vec::new();
        for inst in &engine.instances {
            tasks.push(tokio::spawn(engine.clone().run_instance(inst.clone())));
            tasks.push(tokio::spawn(engine.clone().persist_state(inst.clone())));
        }
        Ok(Relay {
            engine,
            tasks: Mutex::new(tasks),
            extra: Mutex::new(Extra::default()),
        })
    }
}

/// Opens the queue backend the configuration names (`[queue] kind`): the embedded store at
/// `[store] path`, or the JetStream stream at `[queue] url`.
///
/// # Errors
/// The store cannot be opened, or the NATS server cannot be reached.
pub async fn open_queue(
    config: &Config,
    now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
) -> Result<Arc<dyn Queue>, StoreError> {
    Ok(match config.queue.kind {
        config::QueueKind::Embedded => Arc::new(EmbeddedQueue::open(
            &config.store.path,
            config.store.ledger_window,
            now_ms,
        )?),
        config::QueueKind::Jetstream => Arc::new(
            queue::JetStreamQueue::connect(
                &config.queue,
                config.store.ledger_window,
                config.retry.max_age,
                now_ms,
            )
            .await?,
        ),
    })
}

/// This worker's share of a destination's rate limit: with JetStream, `[queue] workers` split it.
fn worker_share(
    config: &Config,
    limit: Option<config::RateLimitConfig>,
) -> Option<config::RateLimitConfig> {
    let workers = match config.queue.kind {
        config::QueueKind::Jetstream => config.queue.workers.max(1),
        config::QueueKind::Embedded => 1,
    };
    limit.map(|l| {
        let burst = l.burst();
        config::RateLimitConfig {
            per_second: l.per_second / f64::from(workers),
            burst: Some((burst / workers).max(1)),
        }
    })
}

async fn build_instance(
    config: &Config,
    i: usize,
    registry: &Registry,
    clock: &Arc<dyn Clock>,
    queue: &Arc<dyn Queue>,
    batch_size: Option<usize>,
) -> Result<Instance, RelayError> {
    let d = &config.destinations[i];
    let entry = registry.get(&d.slug.value).map_err(|e| {
        config.error_at(
            &d.slug.span,
            format!("destinations[{i}].slug"),
            e.to_string(),
        )
    })?;
    let info = entry.describe().map_err(|e| {
        config.error_at(
            &d.slug.span,
            format!("destinations[{i}].slug"),
            e.to_string(),
        )
    })?;
    let mut origins = OriginOverrides::new();
    for o in &d.origins {
        origins.add(&o.origin, &o.target.value);
    }
    let refresh_coordinator = queue.refresh_coordinator(
        &d.id.value,
        &instance::oauth_fingerprint(&d.settings),
        config.retry.propagation_delay,
    );
    let runtime_config = RuntimeConfig {
        refresh_coordinator,
        clock: clock.clone(),
        state: Arc::new(MemoryState::with_clock(clock.clone())),
        origins,
        // Within one propagation wait a 65601 answers without refreshing again: the instance is
        // paused for that long anyway, and a second refresh would restart LinkedIn's wait.
        propagation_refresh_cooldown: config.retry.propagation_delay,
        ..RuntimeConfig::default()
    };
    let runtime: Arc<dyn actions_core::AnyRuntime> =
        Arc::from(entry.build(runtime_config).map_err(|e| {
            config.error_at(
                &d.slug.span,
                format!("destinations[{i}].slug"),
                e.to_string(),
            )
        })?);
    let mut subs = Vec::new();
    let mut members = Vec::new();
    for (j, s) in d.subscriptions.iter().enumerate() {
        let key = |k: &str| format!("destinations[{i}].subscriptions[{j}].{k}");
        let action = &s.partner_action.value;
        let Some(defaults) = runtime.default_subscription_settings(action) else {
            let known: Vec<&str> = info
                .actions
                .iter()
                .map(|a| a.definition.key.as_str())
                .collect();
            return Err(config
                .error_at(
                    &s.partner_action.span,
                    key("partnerAction"),
                    format!(
                        "{} has no action {action:?} (actions: {})",
                        d.slug.value,
                        known.join(", ")
                    ),
                )
                .into());
        };
        let (fql, span) = match &s.subscribe {
            Some(q) => (q.value.clone(), q.span.clone()),
            None => match defaults.get("subscribe").and_then(Value::as_str) {
                Some(q) => (q.to_string(), s.partner_action.span.clone()),
                None => {
                    return Err(config
                        .error_at(
                            &s.partner_action.span,
                            key("subscribe"),
                            format!(
                                "action {action:?} has no default subscription: set `subscribe`"
                            ),
                        )
                        .into());
                }
            },
        };
        let subscription = Subscription::parse(&fql).map_err(|e| {
            config.error_at(
                &span,
                key("subscribe"),
                format!("{fql:?} is not a valid subscription: {}", e.message()),
            )
        })?;
        let mut mapping = defaults
            .get("mapping")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(m) = s.mapping.as_object() {
            for (k, v) in m {
                mapping.insert(k.clone(), v.clone());
            }
        }
        let member = serde_json::json!({
            "partnerAction": action,
            "subscribe": fql,
            "mapping": Value::Object(mapping.clone()),
        });
        members.push(member);
        let action_info = info.action(action);
        let batch = d.batch.enabled && action_info.is_some_and(|a| a.supports_batch);
        let max_batch = [
            Some(d.batch.size),
            batch_size,
            action_info.and_then(batcher::action_maximum),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(1)
        .max(1);
        let batch_keys = match action_info {
            Some(a) if batch => batcher::batch_keys_mapping(a, &mapping)
                .map_err(|m| config.error_at(&s.partner_action.span, key("mapping"), m))?,
            _ => None,
        };
        let ordered = s.ordered.unwrap_or_else(|| {
            info.definition.audience_mode.is_some()
                || action_info.is_some_and(batcher::is_audience_action)
        });
        subs.push(Sub {
            action: action.clone(),
            subscription,
            batch,
            max_batch,
            batch_keys,
            ordered,
        });
    }
    // Tokens: the stored ones win while the configured credentials are the same.
    let fingerprint = instance::oauth_fingerprint(&d.settings);
    let mut settings = d.settings.clone();
    let mut state = InstanceState {
        config_fingerprint: fingerprint.clone(),
        ..InstanceState::default()
    };
    if let Some(stored) = queue.instance_state(&d.id.value).await?
        && stored.config_fingerprint == fingerprint
    {
        if let Some(oauth) = &stored.oauth {
            instance::overlay_tokens(&mut settings, oauth);
        }
        state = stored;
    }
    let now = clock.now_ms();
    let pause = instance::Pause {
        until_ms: state.paused_until_ms.filter(|u| *u > now).unwrap_or(0),
        reason: state.pause_reason.clone().unwrap_or_default(),
        ..instance::Pause::default()
    };
    let halted = state.halted.clone();
    let settings = Arc::new(Settings::new(settings, members, state));
    let cell = settings.clone();
    let options = EventOptions {
        on_token_refresh: Some(Arc::new(move |tokens| cell.apply_tokens(tokens))),
        ..EventOptions::default()
    };
    let (idle, _) = watch::channel((0, false));
    Ok(Instance {
        id: d.id.value.clone(),
        runtime,
        subs,
        settings,
        options,
        max_in_flight: d.max_in_flight,
        rate: ratelimit::Rate::new(worker_share(config, d.rate_limit.clone())),
        batch: d.batch.clone(),
        pause: Mutex::new(pause),
        order: Mutex::new(batcher::Order::default()),
        halted: Mutex::new(halted),
        counters: Mutex::new(Counters::default()),
        notify: Notify::new(),
        generation: std::sync::atomic::AtomicU64::new(0),
        idle,
    })
}

/// What became of one accepted event.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// Its `messageId` (assigned when it had none).
    pub message_id: String,
    /// Destination instances it was queued for (durably).
    pub queued: Vec<String>,
    /// Instances where the same event was already delivered: the first result.
    pub delivered_before: Vec<(String, LedgerEntry)>,
    /// Instances where the same event is already waiting.
    pub queued_before: Vec<String>,
}

impl Accepted {
    /// Whether no subscription of any instance matched.
    pub fn not_subscribed(&self) -> bool {
        self.queued.is_empty() && self.delivered_before.is_empty() && self.queued_before.is_empty()
    }
}

/// Counts that belong to no instance.
#[derive(Clone, Debug, Default)]
struct Extra {
    invalid: u64,
    not_subscribed: u64,
}

/// The delivery engine, running: accept events, deliver them, inspect the store.
pub struct Relay {
    engine: Arc<Engine>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    extra: Mutex<Extra>,
}

impl Relay {
    /// A builder over a configuration.
    pub fn builder(config: Config) -> RelayBuilder {
        RelayBuilder {
            config,
            registry: Registry::builtin(),
            clock: None,
            seed: None,
            queue: None,
            batch_size: None,
            grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }

    /// Relay with the defaults for this configuration (see [`RelayBuilder::build`]).
    ///
    /// # Errors
    /// See [`RelayBuilder::build`].
    pub async fn from_config(config: Config) -> Result<Relay, RelayError> {
        Relay::builder(config).build().await
    }

    /// The queue backend.
    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.engine.queue
    }

    /// Accepts one event; returns once it is durable. An event without `messageId` gets a UUID.
    ///
    /// # Errors
    /// The event is not a JSON object (nothing is stored; [`Relay::accept_all`] dead-letters such
    /// events instead), or the store failed.
    pub async fn accept(&self, event: Value) -> Result<Accepted, RelayError> {
        if !event.is_object() {
            return Err(RelayError::Store(StoreError::Io {
                op: "accept",
                reason: format!("an event must be a JSON object, got {}", kind(&event)),
            }));
        }
        let mut out = self.accept_all(vec![Ok(event)]).await?;
        out.pop()
            .flatten()
            .ok_or(RelayError::Store(StoreError::Closed))
    }

    /// Accepts many events in one durable step. `Err(reason)` items (input that is not an
    /// event, e.g. a malformed line) and non-object JSON are dead-lettered with the reason and
    /// give `None`.
    ///
    /// # Errors
    /// The store failed (nothing of this call is accepted then).
    pub async fn accept_all(
        &self,
        items: Vec<Result<Value, (String, String)>>,
    ) -> Result<Vec<Option<Accepted>>, RelayError> {
        let mut events = Vec::with_capacity(items.len());
        let mut invalid = Vec::new();
        let mut slots: Vec<bool> = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(mut event) if event.is_object() => {
                    let message_id = ensure_message_id(&mut event);
                    let text = event.to_string();
                    events.push(Prepared {
                        event,
                        message_id,
                        text,
                    });
                    slots.push(true);
                }
                Ok(v) => {
                    invalid.push((
                        v.to_string(),
                        format!("an event must be a JSON object, got {}", kind(&v)),
                    ));
                    slots.push(false);
                }
                Err(pair) => {
                    invalid.push(pair);
                    slots.push(false);
                }
            }
        }
        let mut accepted = self.accept_prepared(events, invalid).await?.into_iter();
        Ok(slots
            .into_iter()
            .map(|ok| if ok { accepted.next() } else { None })
            .collect())
    }

    /// Accepts events that have their `messageId` and JSON text, and dead-letters `invalid`
    /// input (raw text, reason), in one durable step.
    pub(crate) async fn accept_prepared(
        &self,
        events: Vec<Prepared>,
        invalid: Vec<(String, String)>,
    ) -> Result<Vec<Accepted>, RelayError> {
        let now = self.engine.now_ms();
        let mut jobs = Vec::new();
        let mut owners: Vec<(usize, usize)> = Vec::new();
        let mut out: Vec<Accepted> = Vec::with_capacity(events.len());
        let invalid: Vec<DeadLetter> = invalid
            .into_iter()
            .map(|(raw, reason)| dead_input(raw, reason, now))
            .collect();
        for Prepared {
            event,
            message_id,
            text,
        } in events
        {
            let slot = out.len();
            for (ii, inst) in self.engine.instances.iter().enumerate() {
                for (si, sub) in inst.subs.iter().enumerate() {
                    if !sub.subscription.matches(&event) {
                        continue;
                    }
                    jobs.push(NewJob {
                        key: LedgerKey {
                            instance: inst.id.clone(),
                            action: sub.action.clone(),
                            message_id: message_id.clone(),
                        },
                        sub: u32::try_from(si).unwrap_or(u32::MAX),
                        event: text.clone(),
                        accepted_ms: now,
                        due_ms: now,
                    });
                    owners.push((slot, ii));
                }
            }
            out.push(Accepted {
                message_id,
                queued: Vec::new(),
                delivered_before: Vec::new(),
                queued_before: Vec::new(),
            });
        }
        let n_invalid = invalid.len() as u64;
        if !invalid.is_empty() {
            self.engine.queue.add_dead_letters(invalid).await?;
        }
        let results = self.engine.queue.enqueue(jobs).await?;
        let mut woken = vec![false; self.engine.instances.len()];
        for ((slot, ii), result) in owners.into_iter().zip(results) {
            let (Some(acc), Some(inst)) = (out.get_mut(slot), self.engine.instances.get(ii)) else {
                continue;
            };
            match result {
                Enqueued::Queued(_) => {
                    acc.queued.push(inst.id.clone());
                    inst.count(|c| c.accepted += 1);
                    woken[ii] = true;
                }
                Enqueued::AlreadyQueued(_) => {
                    acc.queued_before.push(inst.id.clone());
                    inst.count(|c| c.duplicates += 1);
                }
                Enqueued::AlreadyDelivered(entry) => {
                    acc.delivered_before.push((inst.id.clone(), entry));
                    inst.count(|c| c.duplicates += 1);
                }
            }
        }
        for (ii, w) in woken.into_iter().enumerate() {
            if w && let Some(inst) = self.engine.instances.get(ii) {
                inst.wake();
            }
        }
        let not_subscribed = out.iter().filter(|a| a.not_subscribed()).count() as u64;
        let mut extra = self
            .extra
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        extra.invalid += n_invalid;
        extra.not_subscribed += not_subscribed;
        Ok(out)
    }

    /// The `[ingest]` table of the configuration this relay was built from.
    pub fn config_ingest(&self) -> Option<config::IngestConfig> {
        self.engine.ingest.clone()
    }

    /// Now, on relay's clock (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.engine.now_ms()
    }

    /// The rate state of a destination instance: adaptive factor and the partner's last quota
    /// headers.
    pub fn rate(&self, instance: &str) -> Option<ratelimit::RateView> {
        self.engine
            .instances
            .iter()
            .find(|i| i.id == instance)
            .map(|i| i.rate_view())
    }

    /// This relay's metrics recorder.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.engine.metrics
    }

    /// The Prometheus text of every metric family ([`metrics`]): the live ones plus the
    /// counters, queue figures and rate-limit state read now.
    pub async fn render_metrics(&self) -> String {
        let m = &self.engine.metrics;
        let stats = self
            .engine
            .queue
            .stats(self.engine.now_ms())
            .await
            .unwrap_or_default();
        let now = self.engine.now_ms();
        for inst in &self.engine.instances {
            let id = inst.id.as_str();
            let l = [("instance", id)];
            let c = inst.counters();
            m.counter("relay_accepted_total", &l).absolute(c.accepted);
            m.counter("relay_delivered_total", &l).absolute(c.delivered);
            for (reason, n) in &c.retried {
                m.counter(
                    "relay_retried_total",
                    &[("instance", id), ("reason", reason)],
                )
                .absolute(*n);
            }
            for (reason, n) in &c.dead {
                m.counter(
                    "relay_dead_lettered_total",
                    &[("instance", id), ("reason", reason)],
                )
                .absolute(*n);
            }
            m.counter("relay_rate_limit_pauses_total", &l)
                .absolute(c.rate_limit_pauses);
            m.counter("relay_token_refreshes_total", &l)
                .absolute(c.token_refreshes);
            let s = stats.get(id).cloned().unwrap_or_default();
            m.gauge("relay_queue_depth", &l).set(s.depth as f64);
            let age = s
                .oldest_accepted_ms
                .map_or(0.0, |a| (now - a).max(0) as f64 / 1000.0);
            m.gauge("relay_oldest_event_age_seconds", &l).set(age);
            let rate = inst.rate_view();
            m.gauge("relay_rate_limit_factor", &l).set(rate.factor);
            if let Some(r) = rate.remaining {
                m.gauge("relay_rate_limit_remaining", &l).set(r as f64);
            }
            m.gauge("relay_rate_limit_low", &l)
                .set(if rate.low { 1.0 } else { 0.0 });
        }
        m.render()
    }

    /// Waits until every accepted event was delivered or dead-lettered (retry delays are waited
    /// out), or is held by a halted instance; returns the summary of this process.
    ///
    /// # Errors
    /// The store failed while reading the final figures.
    pub async fn run_until_idle(&self) -> Result<Summary, RelayError> {
        loop {
            let notified = self.engine.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let idle = self.engine.instances.iter().all(|inst| {
                let (generation, idle) = *inst.idle.borrow();
                idle && generation == inst.generation.load(Ordering::SeqCst)
            });
            if idle || *self.engine.stop.borrow() {
                break;
            }
            notified.await;
        }
        self.summary().await
    }

    /// The figures of this process, plus what the store holds.
    ///
    /// # Errors
    /// The store failed.
    pub async fn summary(&self) -> Result<Summary, RelayError> {
        let stats = self.engine.queue.stats(self.engine.now_ms()).await?;
        let extra = self
            .extra
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let instances = self
            .engine
            .instances
            .iter()
            .map(|inst| InstanceSummary {
                id: inst.id.clone(),
                counters: inst.counters(),
                held: stats.get(&inst.id).map_or(0, |s| s.depth),
                halted: inst.halted(),
            })
            .collect();
        Ok(Summary {
            invalid: extra.invalid,
            not_subscribed: extra.not_subscribed,
            instances,
        })
    }

    /// This process's counters per instance.
    pub fn counters(&self) -> BTreeMap<String, Counters> {
        self.engine
            .instances
            .iter()
            .map(|i| (i.id.clone(), i.counters()))
            .collect()
    }

    /// Every dead letter, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, RelayError> {
        Ok(self.engine.queue.dead_letters().await?)
    }

    /// Puts dead letters back in the queue with a fresh budget and wakes delivery.
    ///
    /// # Errors
    /// The store failed.
    pub async fn replay(&self, which: Selection) -> Result<ReplayReport, RelayError> {
        let report = self
            .engine
            .queue
            .replay(which, self.engine.now_ms())
            .await?;
        for inst in &self.engine.instances {
            inst.wake();
        }
        Ok(report)
    }

    /// Deletes dead letters.
    ///
    /// # Errors
    /// The store failed.
    pub async fn purge(&self, which: Selection) -> Result<u64, RelayError> {
        Ok(self.engine.queue.purge(which).await?)
    }

    /// Stops taking work, lets in-flight attempts finish (bounded by the shutdown grace), saves
    /// the instances' state and stops.
    pub async fn shutdown(&self) {
        self.engine.stop.send_replace(true);
        self.engine.progress.notify_waiters();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in tasks {
            let _ = t.await;
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An event ready to be accepted: its `messageId` and its JSON text.
pub(crate) struct Prepared {
    pub(crate) event: Value,
    pub(crate) message_id: String,
    pub(crate) text: String,
}

/// RFC 3339 with milliseconds, UTC.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The event's `messageId`: a non-empty string as is, a number as its text, else a new UUID
/// (written into the event).
pub(crate) fn ensure_message_id(event: &mut Value) -> String {
    let Some(obj) = event.as_object_mut() else {
        return String::new();
    };
    match obj.get("messageId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => {
            let s = n.to_string();
            obj.insert("messageId".into(), Value::String(s.clone()));
            s
        }
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            obj.insert("messageId".into(), Value::String(id.clone()));
            id
        }
    }
}

fn dead_input(raw: String, reason: String, now: i64) -> DeadLetter {
    DeadLetter {
        id: uuid::Uuid::new_v4().to_string(),
        key: None,
        sub: None,
        event: raw,
        category: "invalid input".into(),
        reason,
        last_status: None,
        last_response: None,
        attempts: 0,
        accepted_ms: now,
        first_attempt_ms: None,
        last_attempt_ms: None,
        dead_ms: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_jetstream_worker_takes_its_share_of_the_rate_limit() {
        let text = "[queue]\nkind = \"jetstream\"\nworkers = 4\n";
        let config = Config::parse_with_env(text, "t.toml", &|_| None).unwrap();
        let limit = config::RateLimitConfig {
            per_second: 50.0,
            burst: Some(100),
        };
        let share = worker_share(&config, Some(limit.clone())).unwrap();
        assert_eq!(share.per_second * 4.0, limit.per_second);
        assert_eq!(share.burst, Some(25));
        let embedded =
            Config::parse_with_env("[store]\npath = \"x\"\n", "t.toml", &|_| None).unwrap();
        assert_eq!(worker_share(&embedded, Some(limit.clone())), Some(limit));
    }
}
