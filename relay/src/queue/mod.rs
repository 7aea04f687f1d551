//! The queue: one [`Queue`] trait, whatever holds the events. The delivery engine only talks to
//! this trait; the embedded store ([`EmbeddedQueue`], redb) is the first backend.
//!
//! The trait is written in the terms a distributed log also offers (NATS JetStream: publish with
//! a dedup id, pull, ack, NAK with a delay, TERM, key-value buckets):
//!
//! | operation | embedded store | JetStream |
//! |---|---|---|
//! | [`enqueue`](Queue::enqueue) (durable, batch, dedup by ledger key) | one grouped write transaction | publish with `Nats-Msg-Id`, wait for the acks |
//! | [`lease`](Queue::lease) due work of an instance | due-time index, in-memory lease set | pull from the instance's consumer |
//! | [`complete`](Queue::complete): ledger + remove in one step | one transaction | KV put, then ack |
//! | [`reschedule`](Queue::reschedule) with a due time and attempt accounting | rewrite the record | NAK with delay (attempts in a header/KV) |
//! | [`release`](Queue::release) (shutdown: back unchanged) | forget the lease | NAK without delay |
//! | [`bury`](Queue::bury) (dead-letter) | move to the dead-letter table | publish to the DLQ stream, TERM |
//! | dead letters: list / show / replay / purge | dead-letter table | DLQ stream |
//! | [`instance_state`](Queue::instance_state) (tokens, pauses) | state table | KV bucket |
//! | [`stats`](Queue::stats), [`depth`](Queue::depth), [`held_jobs`](Queue::held_jobs) | scan / table length | stream + consumer info |
//! | [`poll_interval`](Queue::poll_interval): new work from elsewhere | `None` (all enqueues are local) | look again every 200 ms |
//! | [`refresh_coordinator`](Queue::refresh_coordinator): one token refresh across workers | `None` | lease in the state bucket (expiry + compare-and-set on the revision) |
//!
//! [`JetStreamQueue`] is the second backend; its module docs list its streams and buckets.

mod embedded;
pub mod jetstream;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use embedded::EmbeddedQueue;
pub use jetstream::JetStreamQueue;

/// The file name of the embedded store inside the store directory.
pub fn embedded_file_name() -> &'static str {
    embedded::FILE_NAME
}

/// A job's id, unique within its store.
pub type JobId = u64;

/// What the idempotency ledger is keyed by: destination instance, action, messageId.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerKey {
    /// The destination instance id.
    pub instance: String,
    /// The action key.
    pub action: String,
    /// The event's `messageId`.
    pub message_id: String,
}

impl LedgerKey {
    /// The key as one string (unit separators between the parts).
    pub fn encode(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.instance, self.action, self.message_id
        )
    }
}

/// A job to enqueue: one event for one subscription of one destination instance.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// Ledger key (instance, action, messageId).
    pub key: LedgerKey,
    /// The subscription's index in the instance's configuration.
    pub sub: u32,
    /// The event, as JSON text.
    pub event: String,
    /// When it was accepted (ms since the epoch): the start of its age budget.
    pub accepted_ms: i64,
    /// When it is first due.
    pub due_ms: i64,
}

/// What became of a [`NewJob`].
#[derive(Clone, Debug, PartialEq)]
pub enum Enqueued {
    /// Stored as this job.
    Queued(JobId),
    /// The same key is already waiting (or in flight) as this job: nothing stored.
    AlreadyQueued(JobId),
    /// The same key was delivered: nothing stored; the first result.
    AlreadyDelivered(LedgerEntry),
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Ledger key.
    pub key: LedgerKey,
    /// Subscription index.
    pub sub: u32,
    /// The event (JSON text).
    pub event: String,
    /// Accepted at (ms).
    pub accepted_ms: i64,
    /// Due at (ms).
    pub due_ms: i64,
    /// Attempts that counted.
    pub attempts: u32,
    /// The first attempt (ms), if any.
    pub first_attempt_ms: Option<i64>,
    /// The last attempt (ms), if any.
    pub last_attempt_ms: Option<i64>,
    /// Why the last attempt did not deliver.
    pub last_reason: Option<String>,
    /// The last status, when known.
    pub last_status: Option<u16>,
    /// The last response body (secrets redacted, shortened).
    pub last_response: Option<String>,
}

/// A leased job.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its record.
    pub record: JobRecord,
}

/// What the partner answered for a delivered event (what a repeat returns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// `delivered` or `skipped`.
    pub outcome: String,
    /// The status, when known.
    pub status: Option<u16>,
    /// The partner's answer (shortened), when there is one.
    pub response: Option<Value>,
    /// The id the partner created, when it said.
    pub created_id: Option<String>,
    /// When (ms).
    pub at_ms: i64,
    /// Attempts it took.
    pub attempts: u32,
}

/// A delivered (or skipped) job: write the ledger entry and remove the job, in one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The job.
    pub id: JobId,
    /// Its ledger entry.
    pub entry: LedgerEntry,
}

/// What an attempt that did not deliver left behind.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptNote {
    /// When the attempt started (ms).
    pub at_ms: i64,
    /// Whether it counts against `max_attempts` (a 429 does not).
    pub counted: bool,
    /// Why it did not deliver.
    pub reason: String,
    /// The status, when known.
    pub status: Option<u16>,
    /// The response body (redacted, shortened), when there was one.
    pub response: Option<String>,
}

/// Put a leased job back with a new due time.
#[derive(Clone, Debug, PartialEq)]
pub struct Reschedule {
    /// The job.
    pub id: JobId,
    /// When it is due again (ms).
    pub due_ms: i64,
    /// The attempt that failed; `None` when the job was not attempted (an instance pause
    /// caught it before it was sent).
    pub note: Option<AttemptNote>,
}

/// Dead-letter a leased job.
#[derive(Clone, Debug, PartialEq)]
pub struct Bury {
    /// The job.
    pub id: JobId,
    /// The short reason used to group dead letters (`permanent 400`, `attempts exhausted`, …).
    pub category: String,
    /// The last attempt.
    pub note: AttemptNote,
}

/// A dead letter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its id (a UUID).
    pub id: String,
    /// The ledger key; `None` for input that never became a job (a malformed line).
    pub key: Option<LedgerKey>,
    /// The subscription index, when it was a job.
    pub sub: Option<u32>,
    /// The event as JSON text (or the raw input line).
    pub event: String,
    /// The short reason (grouping).
    pub category: String,
    /// The full reason.
    pub reason: String,
    /// The last status, when known.
    pub last_status: Option<u16>,
    /// The last response body (secrets redacted, shortened).
    pub last_response: Option<String>,
    /// Attempts that counted.
    pub attempts: u32,
    /// Accepted at (ms).
    pub accepted_ms: i64,
    /// The first attempt (ms).
    pub first_attempt_ms: Option<i64>,
    /// The last attempt (ms).
    pub last_attempt_ms: Option<i64>,
    /// When it was dead-lettered (ms).
    pub dead_ms: i64,
}

impl DeadLetter {
    /// The destination instance, or `""` for input that never reached one.
    pub fn instance(&self) -> &str {
        self.key.as_ref().map_or("", |k| k.instance.as_str())
    }
}

/// Which dead letters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every one.
    All,
    /// These ids.
    Ids(Vec<String>),
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayReport {
    /// Dead letters put back in the queue (with a fresh budget), as jobs.
    pub requeued: Vec<(String, JobId)>,
    /// Dead letters removed because their event is already delivered or queued.
    pub resolved: Vec<(String, String)>,
    /// Dead letters left in place, with why.
    pub kept: Vec<(String, String)>,
}

/// What relay keeps per destination instance besides its jobs: the OAuth tokens and why it is
/// paused. Holds secrets (the tokens): never print it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// A fingerprint of the configured `oauth` these tokens descend from: when the configuration
    /// brings other credentials, the stored ones are dropped.
    pub config_fingerprint: String,
    /// The newest tokens (`oauth` object), when refreshed since.
    pub oauth: Option<Value>,
    /// Why the instance is halted (a refresh token rejected for good), until its credentials
    /// change.
    pub halted: Option<String>,
    /// Paused until (ms), by a rate limit or a token-propagation answer.
    pub paused_until_ms: Option<i64>,
    /// Why it is paused.
    pub pause_reason: Option<String>,
}

impl std::fmt::Debug for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceState")
            .field("oauth", &self.oauth.as_ref().map(|_| "<redacted>"))
            .field("halted", &self.halted)
            .field("paused_until_ms", &self.paused_until_ms)
            .field("pause_reason", &self.pause_reason)
            .finish()
    }
}

/// Queue figures of one destination instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstanceStats {
    /// Jobs held (due, scheduled or in flight).
    pub depth: u64,
    /// Due now.
    pub due: u64,
    /// Scheduled later.
    pub scheduled: u64,
    /// Acceptance time of the oldest job (ms).
    pub oldest_accepted_ms: Option<i64>,
    /// Dead letters by category.
    pub dead_letters: BTreeMap<String, u64>,
    /// Delivered events the ledger remembers.
    pub ledger: u64,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be opened.
    #[error("cannot open the store {path}: {reason}")]
    Open {
        /// The store file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A read or write failed.
    #[error("store {op} failed: {reason}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// The store was opened read-only.
    #[error("the store is open read-only (another relay process holds it)")]
    ReadOnly,
    /// The store's writer has stopped.
    #[error("the store is closed")]
    Closed,
}

/// Where events wait for delivery: durable, deduplicated by ledger key, leased to the delivery
/// engine. See the module docs for how each operation maps to the backends.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Stores jobs durably (returns once they are), skipping keys already queued or delivered.
    /// Results are in input order.
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, StoreError>;

    /// Leases up to `max` jobs of `instance` that are due at `now_ms` (earliest first). A
    /// leased job is not leased again until it is completed, rescheduled, released or buried —
    /// or the process ends (then it is due again: at-least-once).
    async fn lease(&self, instance: &str, now_ms: i64, max: usize) -> Result<Vec<Job>, StoreError>;

    /// When the earliest job of `instance` that is not leased is due.
    async fn next_due(&self, instance: &str) -> Result<Option<i64>, StoreError>;

    /// Delivered (or skipped): writes the ledger entries and removes the jobs, in one step.
    async fn complete(&self, done: Vec<Completion>) -> Result<(), StoreError>;

    /// Puts leased jobs back with new due times, recording their attempts.
    async fn reschedule(&self, jobs: Vec<Reschedule>) -> Result<(), StoreError>;

    /// Gives leased jobs back unchanged (shutdown).
    async fn release(&self, ids: Vec<JobId>) -> Result<(), StoreError>;

    /// Dead-letters leased jobs; returns the dead letters' ids.
    async fn bury(&self, jobs: Vec<Bury>) -> Result<Vec<String>, StoreError>;

    /// Stores dead letters for input that never became a job (malformed lines).
    async fn add_dead_letters(&self, letters: Vec<DeadLetter>) -> Result<(), StoreError>;

    /// The ledger entry of a key.
    async fn ledger(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, StoreError>;

    /// Every dead letter, oldest first.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;

    /// One dead letter.
    async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError>;

    /// Puts dead letters back in the queue with a fresh budget (attempts 0, age from `now_ms`).
    async fn replay(&self, which: Selection, now_ms: i64) -> Result<ReplayReport, StoreError>;

    /// Deletes dead letters; returns how many.
    async fn purge(&self, which: Selection) -> Result<u64, StoreError>;

    /// An instance's stored state.
    async fn instance_state(&self, instance: &str) -> Result<Option<InstanceState>, StoreError>;

    /// Stores an instance's state.
    async fn put_instance_state(
        &self,
        instance: &str,
        state: InstanceState,
    ) -> Result<(), StoreError>;

    /// Queue figures per instance (every instance the store knows of).
    async fn stats(&self, now_ms: i64) -> Result<BTreeMap<String, InstanceStats>, StoreError>;

    /// Every job of `instance` the queue holds (due, scheduled or leased), in job id
    /// (acceptance) order: what per-user ordering reads once when delivery starts.
    async fn held_jobs(&self, instance: &str) -> Result<Vec<Job>, StoreError>;

    /// Jobs held, over every instance (due, scheduled or in flight): what the ingest's
    /// back-pressure compares with `max_queue_depth`. Cheap: called on every ingest request.
    async fn depth(&self) -> Result<u64, StoreError>;

    /// How often a scheduler looks for work again although the queue seemed empty: `Some` for a
    /// queue other processes publish to (JetStream: new events and pauses from other workers
    /// arrive without this process being told), `None` when every enqueue goes through this
    /// process (the embedded store wakes the scheduler itself).
    fn poll_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// What coordinates the OAuth token refreshes of `instance` with other processes sharing
    /// this queue (its configured credentials fingerprinted by `fingerprint`; a refresh within
    /// `cooldown` of the last one is not repeated): `None` when this process is the only one.
    fn refresh_coordinator(
        &self,
        _instance: &str,
        _fingerprint: &str,
        _cooldown: std::time::Duration,
    ) -> Option<std::sync::Arc<dyn actions_core::oauth::RefreshCoordinator>> {
        None
    }
}
