//! The NATS JetStream backend of the [`Queue`] trait: many relay workers share one stream.
//!
//! | what | where |
//! |---|---|
//! | jobs | stream `<stream>` (work-queue retention, file storage), subject `<stream>.jobs.<instance>`, one JSON message per job, `Nats-Msg-Id` = SHA-256 of (instance, action, messageId) |
//! | delivery | one durable pull consumer per instance (`<stream>_<instance>`), `ack_wait` (`[queue] ack_wait`, 30 s) kept alive with in-progress acks while a job is held, `max_deliver` [`MAX_DELIVER`] |
//! | retries | NAK with the computed delay; the attempt record (counted attempts, last reason) in bucket `<stream>_attempts`, keyed by stream sequence |
//! | ledger | bucket `<stream>_ledger`, key `<instance>.<sha256 of the ledger key>`, entries expire after `ledger_window` |
//! | dead letters | stream `<stream>_DLQ` (limits retention), one JSON [`DeadLetter`] per message; published before the job is TERMed |
//! | instance state | bucket `<stream>_state`, key `i.<instance>`; pauses are merged (the later end wins) and watched, so a pause reaches every worker |
//!
//! A job's id is its stream sequence. Instance ids that are not plain tokens (`[A-Za-z0-9-]`)
//! are hex-encoded (prefixed `_`) wherever they appear in subjects, consumer names and keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{
    self, AckKind, consumer, kv,
    stream::{self, Stream},
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::{
    Bury, Completion, DeadLetter, Enqueued, InstanceState, InstanceStats, Job, JobId, JobRecord,
    LedgerEntry, LedgerKey, NewJob, Queue, ReplayReport, Reschedule, Selection, StoreError,
};
use crate::config::QueueConfig;
use actions_core::oauth::{AuthTokens, RefreshCoordinator, RefreshedTokens, Secret};

/// A job is delivered at most this many times by JetStream (NAKs of pauses and 429s included);
/// a job that reaches it is dead-lettered instead of NAKed again.
pub const MAX_DELIVER: i64 = 10_000;
/// How often a scheduler looks at the stream again when it seems empty (other processes
/// publish to it).
pub const POLL: Duration = Duration::from_millis(200);

/// What a job message carries.
#[derive(Serialize, Deserialize)]
struct Wire {
    key: LedgerKey,
    sub: u32,
    event: String,
    accepted_ms: i64,
}

/// The attempt record of a job (bucket `<stream>_attempts`).
#[derive(Clone, Default, Serialize, Deserialize)]
struct Attempts {
    attempts: u32,
    first_attempt_ms: Option<i64>,
    last_attempt_ms: Option<i64>,
    last_reason: Option<String>,
    last_status: Option<u16>,
    last_response: Option<String>,
}

/// A job this process holds.
struct Held {
    msg: jetstream::Message,
    record: JobRecord,
    delivered: i64,
    has_attempts: bool,
}

/// Figures of one instance's consumer, for `relay status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsumerFigures {
    /// The instance.
    pub instance: String,
    /// The consumer's name.
    pub consumer: String,
    /// Messages not yet delivered.
    pub pending: u64,
    /// Delivered, not yet acknowledged (in flight, or NAKed and waiting for their delay).
    pub ack_pending: u64,
    /// Messages redelivered at least once.
    pub redelivered: u64,
    /// Pull requests waiting.
    pub waiting: u64,
}

/// The JetStream backend. See the module docs.
pub struct JetStreamQueue {
    js: jetstream::Context,
    name: String,
    stream: Stream,
    dlq: Stream,
    ledger: kv::Store,
    state: kv::Store,
    attempts: kv::Store,
    duplicate_window: Duration,
    ack_wait: Duration,
    consumers: tokio::sync::Mutex<HashMap<String, consumer::PullConsumer>>,
    held: Arc<Mutex<HashMap<JobId, Held>>>,
    /// Pauses of every instance (ms), kept current by a watch on the state bucket.
    pauses: Arc<Mutex<HashMap<String, i64>>>,
    now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Woken when the state bucket changes (a pause or tokens written by any worker).
    pub state_changed: Arc<Notify>,
}

impl Drop for JetStreamQueue {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn io(op: &'static str) -> impl Fn(String) -> StoreError {
    move |reason| StoreError::Io { op, reason }
}

/// The instance id as a subject token / name part.
pub fn token(instance: &str) -> String {
    if !instance.is_empty()
        && instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        instance.to_string()
    } else {
        format!("_{}", hex::encode(instance.as_bytes()))
    }
}

/// The instance id of a token made by [`token`].
fn untoken(t: &str) -> String {
    match t.strip_prefix('_') {
        Some(h) => hex::decode(h)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| t.to_string()),
        None => t.to_string(),
    }
}

/// The `Nats-Msg-Id` of a job: the SHA-256 of its ledger key (instance, action, messageId).
pub fn msg_id(key: &LedgerKey) -> String {
    hex::encode(Sha256::digest(key.encode().as_bytes()))
}

fn ledger_key(key: &LedgerKey) -> String {
    format!("{}.{}", token(&key.instance), msg_id(key))
}

fn attempts_key(seq: u64) -> String {
    format!("j{seq}")
}

fn state_key(instance: &str) -> String {
    format!("i.{}", token(instance))
}

impl JetStreamQueue {
    /// Connects to the servers of `config` (comma-separated URLs), creates the stream, the
    /// dead-letter stream and the buckets when missing, and starts the keep-alive of held jobs
    /// and the watch of the state bucket. `ledger_window` is how long the ledger remembers;
    /// `max_age` bounds how long attempt records are kept.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the streams.
    pub async fn connect(
        config: &QueueConfig,
        ledger_window: Duration,
        max_age: Duration,
        now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Result<Self, StoreError> {
        let open = |reason: String| StoreError::Open {
            path: format!("{} (stream {})", config.url, config.stream),
            reason,
        };
        let urls: Vec<&str> = config
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .connect(urls)
            .await
            .map_err(|e| open(e.to_string()))?;
        let js = jetstream::new(client);
        let name = config.stream.clone();
        let stream = js
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{name}.jobs.>")],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                duplicate_window: config.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| open(format!("stream {name}: {e}")))?;
        let dlq_name = format!("{name}_DLQ");
        let dlq = js
            .get_or_create_stream(stream::Config {
                name: dlq_name.clone(),
                subjects: vec![format!("{dlq_name}.>")],
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| open(format!("stream {dlq_name}: {e}")))?;
        let bucket = |suffix: &str, max_age: Duration| kv::Config {
            bucket: format!("{name}_{suffix}"),
            history: 1,
            max_age,
            storage: stream::StorageType::File,
            num_replicas: config.replicas,
            ..Default::default()
        };
        let mut stores = Vec::new();
        for (suffix, age) in [
            ("ledger", ledger_window),
            ("state", Duration::ZERO),
            (
                "attempts",
                max_age.max(Duration::from_secs(3600)).saturating_mul(2),
            ),
        ] {
            let b = format!("{name}_{suffix}");
            let store = match js.get_key_value(&b).await {
                Ok(s) => s,
                Err(_) => js
                    .create_key_value(bucket(suffix, age))
                    .await
                    .map_err(|e| open(format!("bucket {b}: {e}")))?,
            };
            stores.push(store);
        }
        let attempts = stores.pop().ok_or_else(|| open("no bucket".into()))?;
        let state = stores.pop().ok_or_else(|| open("no bucket".into()))?;
        let ledger = stores.pop().ok_or_else(|| open("no bucket".into()))?;
        let held: Arc<Mutex<HashMap<JobId, Held>>> = Arc::default();
        let pauses: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
        let state_changed = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(keep_alive(
            Arc::downgrade(&held),
            config.ack_wait,
        )));
        let mut watch = state
            .watch_all()
            .await
            .map_err(|e| open(format!("watching the state bucket: {e}")))?;
        {
            let pauses = pauses.clone();
            let changed = state_changed.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(Ok(entry)) = watch.next().await {
                    let Some(t) = entry.key.strip_prefix("i.") else {
                        continue;
                    };
                    let until = serde_json::from_slice::<InstanceState>(&entry.value)
                        .ok()
                        .and_then(|s| s.paused_until_ms)
                        .unwrap_or(0);
                    lock(&pauses).insert(untoken(t), until);
                    changed.notify_waiters();
                }
            }));
        }
        Ok(JetStreamQueue {
            js,
            name,
            stream,
            dlq,
            ledger,
            state,
            attempts,
            duplicate_window: config.duplicate_window,
            ack_wait: config.ack_wait,
            consumers: tokio::sync::Mutex::new(HashMap::new()),
            held,
            pauses,
            now_ms,
            tasks,
            state_changed,
        })
    }

    fn subject(&self, instance: &str) -> String {
        format!("{}.jobs.{}", self.name, token(instance))
    }

    fn consumer_name(&self, instance: &str) -> String {
        format!("{}_{}", self.name, token(instance))
    }

    async fn consumer(&self, instance: &str) -> Result<consumer::PullConsumer, StoreError> {
        let mut map = self.consumers.lock().await;
        if let Some(c) = map.get(instance) {
            return Ok(c.clone());
        }
        let name = self.consumer_name(instance);
        let c = self
            .stream
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: self.subject(instance),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    max_deliver: MAX_DELIVER,
                    max_ack_pending: 100_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| io("create consumer")(format!("{name}: {e}")))?;
        map.insert(instance.to_string(), c.clone());
        Ok(c)
    }

    async fn publish_job(
        &self,
        job: &NewJob,
        id: String,
    ) -> Result<jetstream::context::PublishAckFuture, StoreError> {
        let wire = Wire {
            key: job.key.clone(),
            sub: job.sub,
            event: job.event.clone(),
            accepted_ms: job.accepted_ms,
        };
        let body = serde_json::to_vec(&wire).map_err(|e| io("enqueue")(e.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        self.js
            .publish_with_headers(self.subject(&job.key.instance), headers, Bytes::from(body))
            .await
            .map_err(|e| io("enqueue")(e.to_string()))
    }

    async fn ledger_get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, StoreError> {
        let v = self
            .ledger
            .get(ledger_key(key))
            .await
            .map_err(|e| io("read ledger")(e.to_string()))?;
        Ok(v.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    async fn publish_dead(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        let body = serde_json::to_vec(letter).map_err(|e| io("dead-letter")(e.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", letter.id.as_str());
        let subject = format!("{}_DLQ.{}", self.name, token(letter.instance()));
        self.js
            .publish_with_headers(subject, headers, Bytes::from(body))
            .await
            .map_err(|e| io("dead-letter")(e.to_string()))?
            .await
            .map_err(|e| io("dead-letter")(e.to_string()))?;
        Ok(())
    }

    /// Every dead letter with its stream sequence, oldest first.
    async fn dead_with_seq(&self) -> Result<Vec<(u64, DeadLetter)>, StoreError> {
        let mut out = Vec::new();
        let mut seq = 1;
        let filter = format!("{}_DLQ.>", self.name);
        loop {
            match self
                .dlq
                .get_first_raw_message_by_subject(&filter, seq)
                .await
            {
                Ok(m) => {
                    if let Ok(d) = serde_json::from_slice::<DeadLetter>(&m.payload) {
                        out.push((m.sequence, d));
                    }
                    seq = m.sequence + 1;
                }
                Err(e) => {
                    if e.kind() == stream::RawMessageErrorKind::NoMessageFound {
                        return Ok(out);
                    }
                    return Err(io("read dead letters")(e.to_string()));
                }
            }
        }
    }

    fn select(
        all: Vec<(u64, DeadLetter)>,
        which: &Selection,
    ) -> (Vec<(u64, DeadLetter)>, Vec<String>) {
        match which {
            Selection::All => (all, Vec::new()),
            Selection::Ids(ids) => {
                let mut found = Vec::new();
                let mut missing = Vec::new();
                for id in ids {
                    match all.iter().find(|(_, d)| &d.id == id) {
                        Some(x) => found.push(x.clone()),
                        None => missing.push(id.clone()),
                    }
                }
                (found, missing)
            }
        }
    }

    /// The consumer figures of every instance with a consumer on the stream.
    ///
    /// # Errors
    /// The server failed.
    pub async fn consumer_figures(&self) -> Result<Vec<ConsumerFigures>, StoreError> {
        let mut names = self.stream.consumer_names();
        let mut out = Vec::new();
        let prefix = format!("{}_", self.name);
        while let Some(n) = names.next().await {
            let n = n.map_err(|e| io("consumer info")(e.to_string()))?;
            let Some(t) = n.strip_prefix(&prefix) else {
                continue;
            };
            let info = self
                .stream
                .consumer_info(&n)
                .await
                .map_err(|e| io("consumer info")(e.to_string()))?;
            out.push(ConsumerFigures {
                instance: untoken(t),
                consumer: n.clone(),
                pending: info.num_pending,
                ack_pending: info.num_ack_pending as u64,
                redelivered: info.num_redelivered as u64,
                waiting: info.num_waiting as u64,
            });
        }
        Ok(out)
    }

    /// Messages in the work stream, and in the dead-letter stream.
    ///
    /// # Errors
    /// The server failed.
    pub async fn stream_figures(&self) -> Result<(u64, u64), StoreError> {
        let a = self
            .stream
            .get_info()
            .await
            .map_err(|e| io("stream info")(e.to_string()))?;
        let b = self
            .dlq
            .get_info()
            .await
            .map_err(|e| io("stream info")(e.to_string()))?;
        Ok((a.state.messages, b.state.messages))
    }

    /// The state bucket, for coordination of workers (token refresh leases).
    pub fn state_bucket(&self) -> &kv::Store {
        &self.state
    }

    fn paused_until(&self, instance: &str) -> i64 {
        lock(&self.pauses).get(instance).copied().unwrap_or(0)
    }

    fn take(&self, ids: &[JobId]) -> Vec<(JobId, Held)> {
        let mut held = lock(&self.held);
        ids.iter()
            .filter_map(|id| held.remove(id).map(|h| (*id, h)))
            .collect()
    }

    fn dead_letter(&self, h: &Held, b: &Bury, now: i64) -> DeadLetter {
        let r = &h.record;
        let attempts = r.attempts + u32::from(b.note.counted);
        DeadLetter {
            id: uuid::Uuid::new_v4().to_string(),
            key: Some(r.key.clone()),
            sub: Some(r.sub),
            event: r.event.clone(),
            category: b.category.clone(),
            reason: b.note.reason.clone(),
            last_status: b.note.status,
            last_response: b.note.response.clone(),
            attempts,
            accepted_ms: r.accepted_ms,
            first_attempt_ms: r.first_attempt_ms.or(Some(b.note.at_ms)),
            last_attempt_ms: Some(b.note.at_ms),
            dead_ms: now,
        }
    }
}

/// Deletes the stream of `config`, its dead-letter stream and its buckets (the demo and tests
/// clean up with it).
///
/// # Errors
/// The server cannot be reached.
pub async fn delete_streams(config: &QueueConfig) -> Result<(), StoreError> {
    let urls: Vec<&str> = config
        .url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let client = async_nats::connect(urls)
        .await
        .map_err(|e| io("connect")(e.to_string()))?;
    let js = jetstream::new(client);
    let name = &config.stream;
    for s in [name.clone(), format!("{name}_DLQ")] {
        let _ = js.delete_stream(&s).await;
    }
    for b in ["ledger", "state", "attempts"] {
        let _ = js.delete_key_value(format!("{name}_{b}")).await;
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// In-progress acks for every held job, every third of `ack_wait`.
async fn keep_alive(held: Weak<Mutex<HashMap<JobId, Held>>>, ack_wait: Duration) {
    let mut tick = tokio::time::interval(ack_wait / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(held) = held.upgrade() else { return };
        let acks: Vec<jetstream::message::Acker> = lock(&held)
            .values()
            .map(|h| {
                jetstream::message::Acker::new(h.msg.context.clone(), h.msg.message.reply.clone())
            })
            .collect();
        drop(held);
        for a in acks {
            let _ = a.ack_with(AckKind::Progress).await;
        }
    }
}

#[async_trait]
impl Queue for JetStreamQueue {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, StoreError> {
        // Delivered before (the ledger outlives the duplicate window)?
        let mut delivered = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(256) {
            let found =
                futures::future::join_all(chunk.iter().map(|j| self.ledger_get(&j.key))).await;
            for f in found {
                delivered.push(f?);
            }
        }
        // Publish everything else, then wait for the acks.
        let mut pending = Vec::with_capacity(jobs.len());
        for (job, before) in jobs.iter().zip(&delivered) {
            if before.is_none() {
                pending.push(Some(self.publish_job(job, msg_id(&job.key)).await?));
            } else {
                pending.push(None);
            }
        }
        let mut out = Vec::with_capacity(jobs.len());
        for (p, before) in pending.into_iter().zip(delivered) {
            match (p, before) {
                (_, Some(entry)) => out.push(Enqueued::AlreadyDelivered(entry)),
                (Some(ack), None) => {
                    let ack = ack.await.map_err(|e| io("enqueue")(e.to_string()))?;
                    out.push(if ack.duplicate {
                        Enqueued::AlreadyQueued(ack.sequence)
                    } else {
                        Enqueued::Queued(ack.sequence)
                    });
                }
                (None, None) => return Err(io("enqueue")("nothing published".into())),
            }
        }
        Ok(out)
    }

    async fn lease(&self, instance: &str, now_ms: i64, max: usize) -> Result<Vec<Job>, StoreError> {
        if max == 0 || self.paused_until(instance) > now_ms {
            return Ok(Vec::new());
        }
        let c = self.consumer(instance).await?;
        let mut batch = c
            .fetch()
            .max_messages(max)
            .messages()
            .await
            .map_err(|e| io("lease")(e.to_string()))?;
        let mut msgs = Vec::new();
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => msgs.push(m),
                Err(e) => {
                    tracing::warn!(instance, error = %e, "pulling from the stream failed");
                    break;
                }
            }
        }
        let mut jobs = Vec::with_capacity(msgs.len());
        for msg in msgs {
            let (seq, delivered) = match msg.info() {
                Ok(i) => (i.stream_sequence, i.delivered),
                Err(e) => {
                    tracing::warn!(instance, error = %e, "a message without JetStream metadata");
                    continue;
                }
            };
            let wire: Wire = match serde_json::from_slice(&msg.payload) {
                Ok(w) => w,
                Err(e) => {
                    let letter = DeadLetter {
                        id: uuid::Uuid::new_v4().to_string(),
                        key: None,
                        sub: None,
                        event: String::from_utf8_lossy(&msg.payload).into_owned(),
                        category: "corrupt job".into(),
                        reason: format!("the queued message is not a relay job: {e}"),
                        last_status: None,
                        last_response: None,
                        attempts: 0,
                        accepted_ms: now_ms,
                        first_attempt_ms: None,
                        last_attempt_ms: None,
                        dead_ms: now_ms,
                    };
                    self.publish_dead(&letter).await?;
                    let _ = msg.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            // A repeat (a redelivery, or a copy published after the duplicate window) of a
            // delivered job is acknowledged without an attempt.
            let maybe_repeat = delivered > 1
                || now_ms.saturating_sub(wire.accepted_ms)
                    > i64::try_from(self.duplicate_window.as_millis()).unwrap_or(i64::MAX);
            if maybe_repeat && self.ledger_get(&wire.key).await?.is_some() {
                let _ = msg.ack().await;
                continue;
            }
            let mut att = Attempts::default();
            let mut has_attempts = false;
            if delivered > 1
                && let Some(b) = self
                    .attempts
                    .get(attempts_key(seq))
                    .await
                    .map_err(|e| io("read attempts")(e.to_string()))?
                && let Ok(a) = serde_json::from_slice::<Attempts>(&b)
            {
                att = a;
                has_attempts = true;
            }
            let record = JobRecord {
                key: wire.key,
                sub: wire.sub,
                event: wire.event,
                accepted_ms: wire.accepted_ms,
                due_ms: now_ms,
                attempts: att.attempts,
                first_attempt_ms: att.first_attempt_ms,
                last_attempt_ms: att.last_attempt_ms,
                last_reason: att.last_reason,
                last_status: att.last_status,
                last_response: att.last_response,
            };
            jobs.push(Job {
                id: seq,
                record: record.clone(),
            });
            lock(&self.held).insert(
                seq,
                Held {
                    msg,
                    record,
                    delivered,
                    has_attempts,
                },
            );
        }
        Ok(jobs)
    }

    async fn next_due(&self, instance: &str) -> Result<Option<i64>, StoreError> {
        let now = (self.now_ms)();
        let mut c = self.consumer(instance).await?;
        let info = c
            .info()
            .await
            .map_err(|e| io("consumer info")(e.to_string()))?;
        let mine = {
            let held = lock(&self.held);
            held.values()
                .filter(|h| h.record.key.instance == instance)
                .count() as u64
        };
        let waiting = info.num_pending + (info.num_ack_pending as u64).saturating_sub(mine);
        if waiting == 0 {
            return Ok(None);
        }
        let poll = now.saturating_add(i64::try_from(POLL.as_millis()).unwrap_or(200));
        Ok(Some(poll.max(self.paused_until(instance))))
    }

    async fn complete(&self, done: Vec<Completion>) -> Result<(), StoreError> {
        let ids: Vec<JobId> = done.iter().map(|c| c.id).collect();
        let held = self.take(&ids);
        let entries: HashMap<JobId, &LedgerEntry> = done.iter().map(|c| (c.id, &c.entry)).collect();
        let entries = &entries;
        let writes = held.iter().map(|(id, h)| async move {
            let Some(entry) = entries.get(id) else {
                return Ok(());
            };
            let body = serde_json::to_vec(entry).map_err(|e| io("complete")(e.to_string()))?;
            self.ledger
                .put(ledger_key(&h.record.key), Bytes::from(body))
                .await
                .map_err(|e| io("write ledger")(e.to_string()))?;
            h.msg.ack().await.map_err(|e| io("ack")(e.to_string()))?;
            if h.has_attempts || h.record.attempts > 0 {
                let _ = self.attempts.purge(attempts_key(*id)).await;
            }
            Ok::<(), StoreError>(())
        });
        for r in futures::future::join_all(writes).await {
            r?;
        }
        Ok(())
    }

    async fn reschedule(&self, jobs: Vec<Reschedule>) -> Result<(), StoreError> {
        let now = (self.now_ms)();
        let ids: Vec<JobId> = jobs.iter().map(|r| r.id).collect();
        let mut held = self.take(&ids);
        let mut exhausted = Vec::new();
        let by_id: HashMap<JobId, &Reschedule> = jobs.iter().map(|r| (r.id, r)).collect();
        let mut work = Vec::new();
        for (id, h) in held.drain(..) {
            let Some(r) = by_id.get(&id) else { continue };
            if h.delivered >= MAX_DELIVER {
                let note = r.note.clone().unwrap_or(super::AttemptNote {
                    at_ms: now,
                    counted: false,
                    reason: "paused".into(),
                    status: None,
                    response: None,
                });
                exhausted.push((
                    h,
                    Bury {
                        id,
                        category: "deliveries exhausted".into(),
                        note: super::AttemptNote {
                            reason: format!(
                                "JetStream delivered it {MAX_DELIVER} times (max_deliver); the last: {}",
                                note.reason
                            ),
                            ..note
                        },
                    },
                ));
                continue;
            }
            work.push((id, h, (*r).clone()));
        }
        let naks = work.into_iter().map(|(id, h, r)| async move {
            if let Some(note) = &r.note {
                let rec = &h.record;
                let att = Attempts {
                    attempts: rec.attempts + u32::from(note.counted),
                    first_attempt_ms: rec.first_attempt_ms.or(Some(note.at_ms)),
                    last_attempt_ms: Some(note.at_ms),
                    last_reason: Some(note.reason.clone()),
                    last_status: note.status,
                    last_response: note.response.clone(),
                };
                let body = serde_json::to_vec(&att).map_err(|e| io("reschedule")(e.to_string()))?;
                self.attempts
                    .put(attempts_key(id), Bytes::from(body))
                    .await
                    .map_err(|e| io("write attempts")(e.to_string()))?;
            }
            let delay = Duration::from_millis(u64::try_from(r.due_ms - now).unwrap_or(0));
            let kind = if delay.is_zero() {
                AckKind::Nak(None)
            } else {
                AckKind::Nak(Some(delay))
            };
            h.msg
                .ack_with(kind)
                .await
                .map_err(|e| io("nak")(e.to_string()))
        });
        for r in futures::future::join_all(naks).await {
            r?;
        }
        for (h, b) in exhausted {
            let letter = self.dead_letter(&h, &b, now);
            self.publish_dead(&letter).await?;
            let _ = h.msg.ack_with(AckKind::Term).await;
        }
        Ok(())
    }

    async fn release(&self, ids: Vec<JobId>) -> Result<(), StoreError> {
        for (_, h) in self.take(&ids) {
            h.msg
                .ack_with(AckKind::Nak(None))
                .await
                .map_err(|e| io("nak")(e.to_string()))?;
        }
        Ok(())
    }

    async fn bury(&self, jobs: Vec<Bury>) -> Result<Vec<String>, StoreError> {
        let now = (self.now_ms)();
        let ids: Vec<JobId> = jobs.iter().map(|b| b.id).collect();
        let held = self.take(&ids);
        let by_id: HashMap<JobId, &Bury> = jobs.iter().map(|b| (b.id, b)).collect();
        let mut out = Vec::new();
        for (id, h) in held {
            let Some(b) = by_id.get(&id) else { continue };
            let letter = self.dead_letter(&h, b, now);
            // The dead letter first: a crash in between leaves the job to be tried again,
            // never lost.
            self.publish_dead(&letter).await?;
            h.msg
                .ack_with(AckKind::Term)
                .await
                .map_err(|e| io("term")(e.to_string()))?;
            if h.has_attempts || h.record.attempts > 0 {
                let _ = self.attempts.purge(attempts_key(id)).await;
            }
            out.push(letter.id);
        }
        Ok(out)
    }

    async fn add_dead_letters(&self, letters: Vec<DeadLetter>) -> Result<(), StoreError> {
        for l in &letters {
            self.publish_dead(l).await?;
        }
        Ok(())
    }

    async fn ledger(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, StoreError> {
        self.ledger_get(key).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self
            .dead_with_seq()
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self
            .dead_with_seq()
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .find(|d| d.id == id))
    }

    async fn replay(&self, which: Selection, now_ms: i64) -> Result<ReplayReport, StoreError> {
        let (found, missing) = Self::select(self.dead_with_seq().await?, &which);
        let mut report = ReplayReport::default();
        for id in missing {
            report.kept.push((id, "no such dead letter".into()));
        }
        for (seq, d) in found {
            let (Some(key), Some(sub)) = (d.key.clone(), d.sub) else {
                report.kept.push((
                    d.id,
                    "not an event of a destination (malformed input): fix and send it again".into(),
                ));
                continue;
            };
            if self.ledger_get(&key).await?.is_some() {
                self.dlq
                    .delete_message(seq)
                    .await
                    .map_err(|e| io("replay")(e.to_string()))?;
                report
                    .resolved
                    .push((d.id, "the event was delivered meanwhile".into()));
                continue;
            }
            let job = NewJob {
                key: key.clone(),
                sub,
                event: d.event.clone(),
                accepted_ms: now_ms,
                due_ms: now_ms,
            };
            // A replay is a new message: its id names the dead letter, so the duplicate window
            // of the original does not drop it.
            let ack = self
                .publish_job(&job, format!("{}:{}", msg_id(&key), d.id))
                .await?
                .await
                .map_err(|e| io("replay")(e.to_string()))?;
            self.dlq
                .delete_message(seq)
                .await
                .map_err(|e| io("replay")(e.to_string()))?;
            report.requeued.push((d.id, ack.sequence));
        }
        Ok(report)
    }

    async fn purge(&self, which: Selection) -> Result<u64, StoreError> {
        let (found, _) = Self::select(self.dead_with_seq().await?, &which);
        let mut n = 0;
        for (seq, _) in found {
            if self
                .dlq
                .delete_message(seq)
                .await
                .map_err(|e| io("purge")(e.to_string()))?
            {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn instance_state(&self, instance: &str) -> Result<Option<InstanceState>, StoreError> {
        let v = self
            .state
            .get(state_key(instance))
            .await
            .map_err(|e| io("read state")(e.to_string()))?;
        let mut state: Option<InstanceState> = v.and_then(|b| serde_json::from_slice(&b).ok());
        // The newest tokens any worker refreshed into.
        if let Ok(Some(b)) = self.state.get(tokens_key(instance)).await
            && let Ok(t) = serde_json::from_slice::<SharedTokens>(&b)
        {
            let s = state.get_or_insert_with(|| InstanceState {
                config_fingerprint: t.fingerprint.clone(),
                ..InstanceState::default()
            });
            if s.config_fingerprint == t.fingerprint {
                let mut oauth = serde_json::Map::new();
                oauth.insert("access_token".into(), t.access_token.into());
                if let Some(r) = t.refresh_token {
                    oauth.insert("refresh_token".into(), r.into());
                }
                s.oauth = Some(serde_json::Value::Object(oauth));
            }
        }
        Ok(state)
    }

    async fn put_instance_state(
        &self,
        instance: &str,
        state: InstanceState,
    ) -> Result<(), StoreError> {
        // Compare-and-set on the revision: workers write the same key; the later pause wins and
        // tokens are only replaced by this worker's when it holds newer ones (it refreshed).
        let key = state_key(instance);
        for _ in 0..16 {
            let entry = self
                .state
                .entry(key.clone())
                .await
                .map_err(|e| io("read state")(e.to_string()))?;
            let current: Option<InstanceState> = entry
                .as_ref()
                .filter(|e| e.operation == kv::Operation::Put)
                .and_then(|e| serde_json::from_slice(&e.value).ok());
            let merged = merge_state(current, state.clone());
            let body = Bytes::from(
                serde_json::to_vec(&merged).map_err(|e| io("write state")(e.to_string()))?,
            );
            let r = match entry {
                Some(e) => self.state.update(&key, body, e.revision).await.map(|_| ()),
                None => self
                    .state
                    .create(&key, body)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        kv::UpdateError::new(if e.kind() == kv::CreateErrorKind::AlreadyExists {
                            kv::UpdateErrorKind::WrongLastRevision
                        } else {
                            kv::UpdateErrorKind::Other
                        })
                    }),
            };
            match r {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(io("write state")(e.to_string())),
            }
        }
        Err(io("write state")("too many concurrent writers".into()))
    }

    async fn stats(&self, _now_ms: i64) -> Result<BTreeMap<String, InstanceStats>, StoreError> {
        let mut out: BTreeMap<String, InstanceStats> = BTreeMap::new();
        let prefix = format!("{}.jobs.", self.name);
        let mut info = self
            .stream
            .info_with_subjects(format!("{prefix}>"))
            .await
            .map_err(|e| io("stats")(e.to_string()))?;
        while let Some(item) = info.next().await {
            let (subject, n) = item.map_err(|e| io("stats")(e.to_string()))?;
            let Some(t) = subject.strip_prefix(&prefix) else {
                continue;
            };
            let s = out.entry(untoken(t)).or_default();
            s.depth += n as u64;
            if let Ok(m) = self
                .stream
                .get_first_raw_message_by_subject(&subject, 1)
                .await
                && let Ok(w) = serde_json::from_slice::<Wire>(&m.payload)
            {
                s.oldest_accepted_ms = Some(
                    s.oldest_accepted_ms
                        .map_or(w.accepted_ms, |o| o.min(w.accepted_ms)),
                );
            }
        }
        for f in self.consumer_figures().await? {
            let s = out.entry(f.instance.clone()).or_default();
            s.due = f.pending;
            s.scheduled = f.ack_pending;
        }
        for (_, d) in self.dead_with_seq().await? {
            *out.entry(d.instance().to_string())
                .or_default()
                .dead_letters
                .entry(d.category.clone())
                .or_default() += 1;
        }
        let ledger_prefix = format!("$KV.{}_ledger.", self.name);
        let ledger_stream = self
            .js
            .get_stream(format!("KV_{}_ledger", self.name))
            .await
            .map_err(|e| io("stats")(e.to_string()))?;
        let mut li = ledger_stream
            .info_with_subjects(format!("{ledger_prefix}>"))
            .await
            .map_err(|e| io("stats")(e.to_string()))?;
        while let Some(item) = li.next().await {
            let (subject, n) = item.map_err(|e| io("stats")(e.to_string()))?;
            if let Some(rest) = subject.strip_prefix(&ledger_prefix)
                && let Some((t, _)) = rest.split_once('.')
            {
                out.entry(untoken(t)).or_default().ledger += n as u64;
            }
        }
        Ok(out)
    }

    async fn held_jobs(&self, _instance: &str) -> Result<Vec<Job>, StoreError> {
        // Jobs are spread over workers: per-user order holds among the jobs one worker leases.
        Ok(Vec::new())
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| io("depth")(e.to_string()))?;
        Ok(info.state.messages)
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(POLL)
    }

    fn refresh_coordinator(
        &self,
        instance: &str,
        fingerprint: &str,
        cooldown: Duration,
    ) -> Option<Arc<dyn RefreshCoordinator>> {
        Some(Arc::new(SharedRefresh {
            state: self.state.clone(),
            tokens_key: tokens_key(instance),
            lease_key: format!("r.{}", token(instance)),
            fingerprint: fingerprint.to_string(),
            cooldown,
            owner: uuid::Uuid::new_v4().to_string(),
            now_ms: self.now_ms.clone(),
        }))
    }
}

/// The newest tokens of an instance (key `t.<instance>` of the state bucket). Holds secrets.
#[derive(Serialize, Deserialize)]
struct SharedTokens {
    fingerprint: String,
    access_token: String,
    refresh_token: Option<String>,
    refreshed_ms: i64,
}

/// The refresh lease (key `r.<instance>`): who holds it and until when.
#[derive(Serialize, Deserialize)]
struct Lease {
    owner: String,
    until_ms: i64,
}

fn tokens_key(instance: &str) -> String {
    format!("t.{}", token(instance))
}

/// How long a refresh lease holds when its holder dies.
const LEASE: Duration = Duration::from_secs(20);

/// One refresh across every worker: adopt tokens another worker refreshed into; else take the
/// lease (create, or compare-and-set over an expired one), refresh, publish the tokens, release.
struct SharedRefresh {
    state: kv::Store,
    tokens_key: String,
    lease_key: String,
    fingerprint: String,
    cooldown: Duration,
    owner: String,
    now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl SharedRefresh {
    /// Tokens to adopt instead of refreshing `stale`: newer than them, or refreshed within the
    /// cooldown.
    async fn adoptable(&self, stale: &AuthTokens) -> Option<RefreshedTokens> {
        let bytes = self.state.get(&self.tokens_key).await.ok()??;
        let t: SharedTokens = serde_json::from_slice(&bytes).ok()?;
        if t.fingerprint != self.fingerprint {
            return None;
        }
        let recent = (self.now_ms)().saturating_sub(t.refreshed_ms)
            < i64::try_from(self.cooldown.as_millis()).unwrap_or(i64::MAX);
        (stale.access_token() != Some(t.access_token.as_str()) || recent).then(|| RefreshedTokens {
            access_token: Secret::new(t.access_token),
            refresh_token: t.refresh_token.map(Secret::new),
        })
    }

    /// Takes the lease; `None` when another worker holds it.
    async fn try_lease(&self) -> Option<u64> {
        let now = (self.now_ms)();
        let lease = serde_json::to_vec(&Lease {
            owner: self.owner.clone(),
            until_ms: now.saturating_add(i64::try_from(LEASE.as_millis()).unwrap_or(0)),
        })
        .ok()?;
        match self
            .state
            .create(&self.lease_key, lease.clone().into())
            .await
        {
            Ok(rev) => Some(rev),
            Err(_) => {
                let entry = self.state.entry(&self.lease_key).await.ok()??;
                let expired = entry.operation != kv::Operation::Put
                    || serde_json::from_slice::<Lease>(&entry.value)
                        .map_or(true, |l| l.until_ms < now);
                if !expired {
                    return None;
                }
                self.state
                    .update(&self.lease_key, lease.into(), entry.revision)
                    .await
                    .ok()
            }
        }
    }
}

#[async_trait]
impl RefreshCoordinator for SharedRefresh {
    async fn refresh(
        &self,
        stale: &AuthTokens,
        refresh: futures::future::BoxFuture<'_, Result<RefreshedTokens, actions_core::Error>>,
    ) -> Result<RefreshedTokens, actions_core::Error> {
        let give_up = tokio::time::Instant::now() + LEASE;
        let revision = loop {
            if let Some(t) = self.adoptable(stale).await {
                return Ok(t);
            }
            if let Some(rev) = self.try_lease().await {
                break Some(rev);
            }
            if tokio::time::Instant::now() >= give_up {
                // The bucket does not answer or a holder hangs: refresh alone rather than never.
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Another worker may have finished between the look and the lease.
        if revision.is_some()
            && let Some(t) = self.adoptable(stale).await
        {
            let _ = self
                .state
                .delete_expect_revision(&self.lease_key, revision)
                .await;
            return Ok(t);
        }
        let result = refresh.await;
        if let Ok(t) = &result {
            let shared = SharedTokens {
                fingerprint: self.fingerprint.clone(),
                access_token: t.access_token.expose().to_string(),
                refresh_token: t
                    .refresh_token
                    .as_ref()
                    .or(stale.refresh_token.as_ref())
                    .map(|s| s.expose().to_string()),
                refreshed_ms: (self.now_ms)(),
            };
            if let Ok(body) = serde_json::to_vec(&shared)
                && let Err(e) = self.state.put(&self.tokens_key, body.into()).await
            {
                tracing::error!(error = %e, "sharing the refreshed tokens failed");
            }
        }
        if revision.is_some() {
            let _ = self
                .state
                .delete_expect_revision(&self.lease_key, revision)
                .await;
        }
        result
    }
}

/// A worker's state over the stored one: the later pause wins (with its reason); the halt and
/// tokens are this worker's.
fn merge_state(current: Option<InstanceState>, mine: InstanceState) -> InstanceState {
    let Some(cur) = current else { return mine };
    let mut out = mine;
    if cur.paused_until_ms.unwrap_or(0) > out.paused_until_ms.unwrap_or(0) {
        out.paused_until_ms = cur.paused_until_ms;
        out.pause_reason = cur.pause_reason;
    }
    if out.oauth.is_none() && cur.config_fingerprint == out.config_fingerprint {
        out.oauth = cur.oauth;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_stay_subject_safe() {
        for id in ["li-conv", "a.b", "x y", "_x", "", "ünï"] {
            let t = token(id);
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{t}"
            );
            assert_eq!(untoken(&t), id);
        }
    }

    #[test]
    fn the_later_pause_wins_when_states_merge() {
        let stored = InstanceState {
            paused_until_ms: Some(2000),
            pause_reason: Some("429".into()),
            ..InstanceState::default()
        };
        let mine = InstanceState {
            paused_until_ms: Some(1000),
            ..InstanceState::default()
        };
        let m = merge_state(Some(stored.clone()), mine);
        assert_eq!(m.paused_until_ms, Some(2000));
        assert_eq!(m.pause_reason.as_deref(), Some("429"));
        let later = InstanceState {
            paused_until_ms: Some(3000),
            ..InstanceState::default()
        };
        assert_eq!(merge_state(Some(stored), later).paused_until_ms, Some(3000));
    }
}
