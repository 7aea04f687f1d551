//! The embedded backend: one redb file, one writer thread doing group commits.
//!
//! Every change (enqueue, complete, reschedule, bury, dead letters, state) is a command sent to
//! the writer thread; it takes every command waiting (up to [`MAX_GROUP`]) into **one** write
//! transaction committed with `Durability::Immediate`, then answers them all. Many concurrent
//! accepts thus share one fsync, and "deliver → ledger → remove" is one transaction.
//!
//! Leases live in memory (a set of job ids). A lease reads the due-time index in a read
//! transaction under the same lock the writer takes, after its commit, to forget finished leases,
//! so a job is never seen both not leased and still in an older snapshot.
//!
//! Tables: `jobs` (id → record), `due` ((instance, due ms, id)), `pending` (ledger key → id),
//! `ledger` (key → entry), `ledger_age` ((ms, key)), `dead` (id → dead letter), `state`
//! (instance → state, tokens included), `meta` (counters).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use redb::{
    ConcurrencyMode, Database, Durability, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction,
};
use tokio::sync::{mpsc, oneshot};

use super::{
    Bury, Completion, DeadLetter, Enqueued, InstanceState, InstanceStats, Job, JobId, JobRecord,
    LedgerEntry, LedgerKey, NewJob, Queue, ReplayReport, Reschedule, Selection, StoreError,
};

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const DUE: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("due");
const PENDING: TableDefinition<&str, u64> = TableDefinition::new("pending");
const LEDGER: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger");
const LEDGER_AGE: TableDefinition<(u64, &str), ()> = TableDefinition::new("ledger_age");
const DEAD: TableDefinition<&str, &[u8]> = TableDefinition::new("dead");
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Most commands in one write transaction.
pub const MAX_GROUP: usize = 4096;
/// The store file inside the store directory.
pub const FILE_NAME: &str = "relay.redb";

fn io(op: &'static str) -> impl Fn(redb::Error) -> StoreError {
    move |e| StoreError::Io {
        op,
        reason: e.to_string(),
    }
}

fn ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Io {
        op: "encode",
        reason: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Io {
        op: "decode",
        reason: e.to_string(),
    })
}

enum Op {
    Enqueue(Vec<NewJob>),
    Complete(Vec<Completion>),
    Reschedule(Vec<Reschedule>),
    Bury(Vec<Bury>),
    AddDead(Vec<DeadLetter>),
    Replay(Selection, i64),
    Purge(Selection),
    PutState(String, InstanceState),
}

enum Reply {
    Enqueued(Vec<Enqueued>),
    Unit,
    Buried(Vec<String>),
    Replayed(ReplayReport),
    Purged(u64),
}

struct Cmd {
    op: Op,
    reply: oneshot::Sender<Result<Reply, String>>,
}

enum Handle {
    Write(Arc<Database>),
    Read(ReadOnlyDatabase),
}

/// The embedded store (redb). Cheap to share behind an `Arc`; the writer thread stops when the
/// last handle is dropped.
pub struct EmbeddedQueue {
    handle: Handle,
    path: PathBuf,
    tx: Option<mpsc::UnboundedSender<Cmd>>,
    writer: Option<std::thread::JoinHandle<()>>,
    commits: Arc<std::sync::atomic::AtomicU64>,
    /// Leased job ids; also the lock that orders lease reads after writer commits.
    leased: Arc<Mutex<HashSet<JobId>>>,
}

impl std::fmt::Debug for EmbeddedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedQueue")
            .field("path", &self.path)
            .finish()
    }
}

/// Creates the store file readable and writable by its owner only (mode 0600: it holds OAuth
/// tokens and events), or narrows an existing file to that mode. redb then opens it (an empty
/// file is initialised as a new database).
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl EmbeddedQueue {
    /// Opens (creating if missing) the store in directory `dir`, for reading and writing.
    /// Delivered-ledger entries older than `ledger_window` (by `now_ms()`) are pruned as the store
    /// writes.
    ///
    /// # Errors
    /// The directory cannot be created, or the file cannot be opened (e.g. another relay process
    /// has it open for writing).
    pub fn open(
        dir: &Path,
        ledger_window: Duration,
        now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        restrict_to_owner(&path).map_err(|e| open_err(e.to_string()))?;
        let db = Database::builder()
            .set_concurrency_mode(ConcurrencyMode::SingleWriter)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    open_err("another relay process is using it".into())
                }
                e => open_err(e.to_string()),
            })?;
        let db = Arc::new(db);
        // Create every table so readers find them.
        {
            let txn = db.begin_write().map_err(|e| open_err(e.to_string()))?;
            Tables::open(&txn).map_err(|e| open_err(e.to_string()))?;
            txn.commit().map_err(|e| open_err(e.to_string()))?;
        }
        let leased = Arc::new(Mutex::new(HashSet::new()));
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            commits: commits.clone(),
            db: db.clone(),
            leased: leased.clone(),
            window_ms: u64::try_from(ledger_window.as_millis()).unwrap_or(u64::MAX),
            now_ms,
        };
        let writer = std::thread::Builder::new()
            .name("relay-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| open_err(e.to_string()))?;
        Ok(EmbeddedQueue {
            handle: Handle::Write(db),
            path,
            tx: Some(tx),
            writer: Some(writer),
            commits,
            leased,
        })
    }

    /// Opens an existing store read-only (works while another relay process writes it).
    ///
    /// # Errors
    /// There is no store in `dir`, or it cannot be opened.
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                reason: "there is no store there yet".into(),
            });
        }
        let db = redb::Builder::new()
            .set_concurrency_mode(ConcurrencyMode::SingleWriter)
            .open_read_only(&path)
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(EmbeddedQueue {
            handle: Handle::Read(db),
            path,
            tx: None,
            writer: None,
            commits: Arc::default(),
            leased: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Write transactions committed since the store was opened (each holds every command that
    /// was waiting: group commits).
    pub fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        let r = match &self.handle {
            Handle::Write(db) => db.begin_read(),
            Handle::Read(db) => db.begin_read(),
        };
        r.map_err(|e| io("read")(e.into()))
    }

    async fn send(&self, op: Op) -> Result<Reply, StoreError> {
        let tx = self.tx.as_ref().ok_or(StoreError::ReadOnly)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Cmd { op, reply }).map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Closed)?
            .map_err(|reason| StoreError::Io {
                op: "write",
                reason,
            })
    }

    fn lock_leased(&self) -> std::sync::MutexGuard<'_, HashSet<JobId>> {
        self.leased
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for EmbeddedQueue {
    /// Stops the writer after it finished what was sent, so the file is closed (and can be
    /// opened again) once the queue is dropped.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The tables, open in one write transaction.
struct Tables<'t> {
    jobs: Table<'t, u64, &'static [u8]>,
    due: Table<'t, (&'static str, u64, u64), ()>,
    pending: Table<'t, &'static str, u64>,
    ledger: Table<'t, &'static str, &'static [u8]>,
    ledger_age: Table<'t, (u64, &'static str), ()>,
    dead: Table<'t, &'static str, &'static [u8]>,
    state: Table<'t, &'static str, &'static [u8]>,
    meta: Table<'t, &'static str, u64>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Tables {
            jobs: txn.open_table(JOBS)?,
            due: txn.open_table(DUE)?,
            pending: txn.open_table(PENDING)?,
            ledger: txn.open_table(LEDGER)?,
            ledger_age: txn.open_table(LEDGER_AGE)?,
            dead: txn.open_table(DEAD)?,
            state: txn.open_table(STATE)?,
            meta: txn.open_table(META)?,
        })
    }

    fn next_id(&mut self) -> Result<u64, redb::Error> {
        let id = self.meta.get("next_job")?.map_or(1, |g| g.value());
        self.meta.insert("next_job", id + 1)?;
        Ok(id)
    }

    fn job(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        let bytes = self
            .jobs
            .get(id)
            .map_err(|e| io("read job")(e.into()))?
            .map(|g| g.value().to_vec());
        bytes.map(|b| decode(&b)).transpose()
    }

    fn insert_job(&mut self, id: JobId, rec: &JobRecord) -> Result<(), StoreError> {
        let bytes = encode(rec)?;
        let w = io("write job");
        self.jobs
            .insert(id, bytes.as_slice())
            .map_err(|e| w(e.into()))?;
        self.due
            .insert((rec.key.instance.as_str(), ms(rec.due_ms), id), ())
            .map_err(|e| w(e.into()))?;
        Ok(())
    }

    /// Removes a job with its indexes; returns its record.
    fn remove_job(&mut self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        let Some(rec) = self.job(id)? else {
            return Ok(None);
        };
        let w = io("remove job");
        self.jobs.remove(id).map_err(|e| w(e.into()))?;
        self.due
            .remove((rec.key.instance.as_str(), ms(rec.due_ms), id))
            .map_err(|e| w(e.into()))?;
        self.pending
            .remove(rec.key.encode().as_str())
            .map_err(|e| w(e.into()))?;
        Ok(Some(rec))
    }

    fn ledger_entry(&self, key: &str) -> Result<Option<LedgerEntry>, StoreError> {
        let bytes = self
            .ledger
            .get(key)
            .map_err(|e| io("read ledger")(e.into()))?
            .map(|g| g.value().to_vec());
        bytes.map(|b| decode(&b)).transpose()
    }

    fn enqueue(&mut self, job: NewJob) -> Result<Enqueued, StoreError> {
        let key = job.key.encode();
        if let Some(entry) = self.ledger_entry(&key)? {
            return Ok(Enqueued::AlreadyDelivered(entry));
        }
        let w = io("enqueue");
        if let Some(id) = self.pending.get(key.as_str()).map_err(|e| w(e.into()))? {
            return Ok(Enqueued::AlreadyQueued(id.value()));
        }
        let id = self.next_id().map_err(&w)?;
        let rec = JobRecord {
            key: job.key,
            sub: job.sub,
            event: job.event,
            accepted_ms: job.accepted_ms,
            due_ms: job.due_ms,
            attempts: 0,
            first_attempt_ms: None,
            last_attempt_ms: None,
            last_reason: None,
            last_status: None,
            last_response: None,
        };
        self.insert_job(id, &rec)?;
        self.pending
            .insert(key.as_str(), id)
            .map_err(|e| w(e.into()))?;
        Ok(Enqueued::Queued(id))
    }

    fn complete(&mut self, c: Completion) -> Result<(), StoreError> {
        let Some(rec) = self.remove_job(c.id)? else {
            return Ok(());
        };
        let key = rec.key.encode();
        let bytes = encode(&c.entry)?;
        let w = io("write ledger");
        self.ledger
            .insert(key.as_str(), bytes.as_slice())
            .map_err(|e| w(e.into()))?;
        self.ledger_age
            .insert((ms(c.entry.at_ms), key.as_str()), ())
            .map_err(|e| w(e.into()))?;
        Ok(())
    }

    fn reschedule(&mut self, r: Reschedule) -> Result<(), StoreError> {
        let Some(mut rec) = self.job(r.id)? else {
            return Ok(());
        };
        self.due
            .remove((rec.key.instance.as_str(), ms(rec.due_ms), r.id))
            .map_err(|e| io("reschedule")(e.into()))?;
        rec.due_ms = r.due_ms;
        if let Some(note) = r.note {
            apply_note(&mut rec, note);
        }
        self.insert_job(r.id, &rec)
    }

    fn bury(&mut self, b: Bury, now: i64) -> Result<Option<String>, StoreError> {
        let Some(mut rec) = self.remove_job(b.id)? else {
            return Ok(None);
        };
        let reason = b.note.reason.clone();
        apply_note(&mut rec, b.note);
        let letter = DeadLetter {
            id: uuid::Uuid::new_v4().to_string(),
            key: Some(rec.key),
            sub: Some(rec.sub),
            event: rec.event,
            category: b.category,
            reason,
            last_status: rec.last_status,
            last_response: rec.last_response,
            attempts: rec.attempts,
            accepted_ms: rec.accepted_ms,
            first_attempt_ms: rec.first_attempt_ms,
            last_attempt_ms: rec.last_attempt_ms,
            dead_ms: now,
        };
        self.add_dead(&letter)?;
        Ok(Some(letter.id))
    }

    fn add_dead(&mut self, letter: &DeadLetter) -> Result<(), StoreError> {
        let bytes = encode(letter)?;
        self.dead
            .insert(letter.id.as_str(), bytes.as_slice())
            .map_err(|e| io("write dead letter")(e.into()))?;
        Ok(())
    }

    fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let bytes = self
            .dead
            .get(id)
            .map_err(|e| io("read dead letter")(e.into()))?
            .map(|g| g.value().to_vec());
        bytes.map(|b| decode(&b)).transpose()
    }

    fn selected(&self, which: &Selection) -> Result<Vec<String>, StoreError> {
        match which {
            Selection::Ids(ids) => Ok(ids.clone()),
            Selection::All => {
                let mut out = Vec::new();
                for item in self.dead.iter().map_err(|e| io("list")(e.into()))? {
                    let (k, _) = item.map_err(|e| io("list")(e.into()))?;
                    out.push(k.value().to_string());
                }
                Ok(out)
            }
        }
    }

    fn replay(&mut self, which: &Selection, now: i64) -> Result<ReplayReport, StoreError> {
        let mut report = ReplayReport::default();
        for id in self.selected(which)? {
            let Some(letter) = self.dead_letter(&id)? else {
                report.kept.push((id, "no such dead letter".into()));
                continue;
            };
            let (Some(key), Some(sub)) = (letter.key.clone(), letter.sub) else {
                report.kept.push((
                    id,
                    "not an event of a destination (malformed input): fix and send it again".into(),
                ));
                continue;
            };
            let outcome = self.enqueue(NewJob {
                key,
                sub,
                event: letter.event,
                accepted_ms: now,
                due_ms: now,
            })?;
            self.dead
                .remove(id.as_str())
                .map_err(|e| io("replay")(e.into()))?;
            match outcome {
                Enqueued::Queued(job) => report.requeued.push((id, job)),
                Enqueued::AlreadyQueued(job) => report
                    .resolved
                    .push((id, format!("the event is already queued as job {job}"))),
                Enqueued::AlreadyDelivered(_) => report
                    .resolved
                    .push((id, "the event was delivered meanwhile".into())),
            }
        }
        Ok(report)
    }

    fn purge(&mut self, which: &Selection) -> Result<u64, StoreError> {
        let mut n = 0;
        for id in self.selected(which)? {
            if self
                .dead
                .remove(id.as_str())
                .map_err(|e| io("purge")(e.into()))?
                .is_some()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn prune_ledger(&mut self, cutoff: u64) -> Result<(), StoreError> {
        let w = io("prune ledger");
        let mut old: Vec<(u64, String)> = Vec::new();
        for item in self
            .ledger_age
            .range((0u64, "")..(cutoff, ""))
            .map_err(|e| w(e.into()))?
        {
            let (k, _) = item.map_err(|e| w(e.into()))?;
            let (at, key) = k.value();
            old.push((at, key.to_string()));
            if old.len() >= 10_000 {
                break;
            }
        }
        for (at, key) in old {
            self.ledger_age
                .remove((at, key.as_str()))
                .map_err(|e| w(e.into()))?;
            self.ledger.remove(key.as_str()).map_err(|e| w(e.into()))?;
        }
        Ok(())
    }
}

fn apply_note(rec: &mut JobRecord, note: super::AttemptNote) {
    if note.counted {
        rec.attempts += 1;
    }
    rec.first_attempt_ms.get_or_insert(note.at_ms);
    rec.last_attempt_ms = Some(note.at_ms);
    rec.last_reason = Some(note.reason);
    rec.last_status = note.status;
    rec.last_response = note.response;
}

struct Writer {
    commits: Arc<std::sync::atomic::AtomicU64>,
    db: Arc<Database>,
    leased: Arc<Mutex<HashSet<JobId>>>,
    window_ms: u64,
    now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl Writer {
    fn run(self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            let (ops, replies): (Vec<Op>, Vec<_>) =
                batch.into_iter().map(|c| (c.op, c.reply)).unzip();
            let finished: Vec<JobId> = ops
                .iter()
                .flat_map(|op| -> Vec<JobId> {
                    match op {
                        Op::Complete(v) => v.iter().map(|c| c.id).collect(),
                        Op::Reschedule(v) => v.iter().map(|r| r.id).collect(),
                        Op::Bury(v) => v.iter().map(|b| b.id).collect(),
                        _ => Vec::new(),
                    }
                })
                .collect();
            match self.apply(ops) {
                Ok(results) => {
                    {
                        let mut leased = self
                            .leased
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        for id in &finished {
                            leased.remove(id);
                        }
                    }
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(Ok(result));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "store write failed");
                    for reply in replies {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }

    fn apply(&self, ops: Vec<Op>) -> Result<Vec<Reply>, StoreError> {
        let w = io("write");
        let mut txn = self.db.begin_write().map_err(|e| w(e.into()))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| w(e.into()))?;
        let now = (self.now_ms)();
        let mut replies = Vec::with_capacity(ops.len());
        {
            let mut t = Tables::open(&txn).map_err(&w)?;
            for op in ops {
                replies.push(match op {
                    Op::Enqueue(jobs) => Reply::Enqueued(
                        jobs.into_iter()
                            .map(|j| t.enqueue(j))
                            .collect::<Result<_, _>>()?,
                    ),
                    Op::Complete(done) => {
                        for c in done {
                            t.complete(c)?;
                        }
                        Reply::Unit
                    }
                    Op::Reschedule(list) => {
                        for r in list {
                            t.reschedule(r)?;
                        }
                        Reply::Unit
                    }
                    Op::Bury(list) => {
                        let mut ids = Vec::with_capacity(list.len());
                        for b in list {
                            ids.extend(t.bury(b, now)?);
                        }
                        Reply::Buried(ids)
                    }
                    Op::AddDead(letters) => {
                        for l in &letters {
                            t.add_dead(l)?;
                        }
                        Reply::Unit
                    }
                    Op::Replay(which, at) => Reply::Replayed(t.replay(&which, at)?),
                    Op::Purge(which) => Reply::Purged(t.purge(&which)?),
                    Op::PutState(instance, state) => {
                        let bytes = encode(&state)?;
                        t.state
                            .insert(instance.as_str(), bytes.as_slice())
                            .map_err(|e| w(e.into()))?;
                        Reply::Unit
                    }
                });
            }
            t.prune_ledger(ms(now).saturating_sub(self.window_ms))?;
        }
        txn.commit().map_err(|e| w(e.into()))?;
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(replies)
    }
}

fn unexpected() -> StoreError {
    StoreError::Io {
        op: "write",
        reason: "unexpected reply from the store writer".into(),
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        match self.send(Op::Enqueue(jobs)).await? {
            Reply::Enqueued(v) => Ok(v),
            _ => Err(unexpected()),
        }
    }

    async fn lease(&self, instance: &str, now_ms: i64, max: usize) -> Result<Vec<Job>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let r = io("lease");
        let mut leased = self.lock_leased();
        let txn = self.begin_read()?;
        let due = txn.open_table(DUE).map_err(|e| r(e.into()))?;
        let jobs = txn.open_table(JOBS).map_err(|e| r(e.into()))?;
        let mut out = Vec::new();
        for item in due
            .range((instance, 0u64, 0u64)..=(instance, ms(now_ms), u64::MAX))
            .map_err(|e| r(e.into()))?
        {
            let (k, _) = item.map_err(|e| r(e.into()))?;
            let (_, _, id) = k.value();
            if leased.contains(&id) {
                continue;
            }
            let Some(bytes) = jobs.get(id).map_err(|e| r(e.into()))? else {
                continue;
            };
            let record: JobRecord = decode(bytes.value())?;
            out.push(Job { id, record });
            if out.len() >= max {
                break;
            }
        }
        for j in &out {
            leased.insert(j.id);
        }
        Ok(out)
    }

    async fn next_due(&self, instance: &str) -> Result<Option<i64>, StoreError> {
        let r = io("next due");
        let leased = self.lock_leased();
        let txn = self.begin_read()?;
        let due = txn.open_table(DUE).map_err(|e| r(e.into()))?;
        for item in due
            .range((instance, 0u64, 0u64)..=(instance, u64::MAX, u64::MAX))
            .map_err(|e| r(e.into()))?
        {
            let (k, _) = item.map_err(|e| r(e.into()))?;
            let (_, at, id) = k.value();
            if !leased.contains(&id) {
                return Ok(Some(i64::try_from(at).unwrap_or(i64::MAX)));
            }
        }
        Ok(None)
    }

    async fn complete(&self, done: Vec<Completion>) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        self.send(Op::Complete(done)).await.map(|_| ())
    }

    async fn reschedule(&self, jobs: Vec<Reschedule>) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.send(Op::Reschedule(jobs)).await.map(|_| ())
    }

    async fn release(&self, ids: Vec<JobId>) -> Result<(), StoreError> {
        let mut leased = self.lock_leased();
        for id in ids {
            leased.remove(&id);
        }
        Ok(())
    }

    async fn bury(&self, jobs: Vec<Bury>) -> Result<Vec<String>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        match self.send(Op::Bury(jobs)).await? {
            Reply::Buried(ids) => Ok(ids),
            _ => Err(unexpected()),
        }
    }

    async fn add_dead_letters(&self, letters: Vec<DeadLetter>) -> Result<(), StoreError> {
        if letters.is_empty() {
            return Ok(());
        }
        self.send(Op::AddDead(letters)).await.map(|_| ())
    }

    async fn ledger(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, StoreError> {
        let r = io("read ledger");
        let txn = self.begin_read()?;
        let t = txn.open_table(LEDGER).map_err(|e| r(e.into()))?;
        let got = t.get(key.encode().as_str()).map_err(|e| r(e.into()))?;
        got.map(|g| decode(g.value())).transpose()
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let r = io("list dead letters");
        let txn = self.begin_read()?;
        let t = txn.open_table(DEAD).map_err(|e| r(e.into()))?;
        let mut out: Vec<DeadLetter> = Vec::new();
        for item in t.iter().map_err(|e| r(e.into()))? {
            let (_, v) = item.map_err(|e| r(e.into()))?;
            out.push(decode(v.value())?);
        }
        out.sort_by(|a, b| (a.dead_ms, &a.id).cmp(&(b.dead_ms, &b.id)));
        Ok(out)
    }

    async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let r = io("read dead letter");
        let txn = self.begin_read()?;
        let t = txn.open_table(DEAD).map_err(|e| r(e.into()))?;
        let got = t.get(id).map_err(|e| r(e.into()))?;
        got.map(|g| decode(g.value())).transpose()
    }

    async fn replay(&self, which: Selection, now_ms: i64) -> Result<ReplayReport, StoreError> {
        match self.send(Op::Replay(which, now_ms)).await? {
            Reply::Replayed(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    async fn purge(&self, which: Selection) -> Result<u64, StoreError> {
        match self.send(Op::Purge(which)).await? {
            Reply::Purged(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }

    async fn instance_state(&self, instance: &str) -> Result<Option<InstanceState>, StoreError> {
        let r = io("read state");
        let txn = self.begin_read()?;
        let t = txn.open_table(STATE).map_err(|e| r(e.into()))?;
        let got = t.get(instance).map_err(|e| r(e.into()))?;
        got.map(|g| decode(g.value())).transpose()
    }

    async fn put_instance_state(
        &self,
        instance: &str,
        state: InstanceState,
    ) -> Result<(), StoreError> {
        self.send(Op::PutState(instance.to_string(), state))
            .await
            .map(|_| ())
    }

    async fn held_jobs(&self, instance: &str) -> Result<Vec<Job>, StoreError> {
        let r = io("held jobs");
        let txn = self.begin_read()?;
        let due = txn.open_table(DUE).map_err(|e| r(e.into()))?;
        let jobs = txn.open_table(JOBS).map_err(|e| r(e.into()))?;
        let mut out = Vec::new();
        for item in due
            .range((instance, 0u64, 0u64)..=(instance, u64::MAX, u64::MAX))
            .map_err(|e| r(e.into()))?
        {
            let (k, _) = item.map_err(|e| r(e.into()))?;
            let (_, _, id) = k.value();
            if let Some(bytes) = jobs.get(id).map_err(|e| r(e.into()))? {
                out.push(Job {
                    id,
                    record: decode(bytes.value())?,
                });
            }
        }
        out.sort_by_key(|j| j.id);
        Ok(out)
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        let r = io("depth");
        let txn = self.begin_read()?;
        let jobs = txn.open_table(JOBS).map_err(|e| r(e.into()))?;
        jobs.len().map_err(|e| r(e.into()))
    }

    async fn stats(&self, now_ms: i64) -> Result<BTreeMap<String, InstanceStats>, StoreError> {
        let r = io("stats");
        let txn = self.begin_read()?;
        let mut out: BTreeMap<String, InstanceStats> = BTreeMap::new();
        let jobs = txn.open_table(JOBS).map_err(|e| r(e.into()))?;
        for item in jobs.iter().map_err(|e| r(e.into()))? {
            let (_, v) = item.map_err(|e| r(e.into()))?;
            let rec: JobRecord = decode(v.value())?;
            let s = out.entry(rec.key.instance.clone()).or_default();
            s.depth += 1;
            if rec.due_ms <= now_ms {
                s.due += 1;
            } else {
                s.scheduled += 1;
            }
            s.oldest_accepted_ms = Some(
                s.oldest_accepted_ms
                    .map_or(rec.accepted_ms, |o| o.min(rec.accepted_ms)),
            );
        }
        let dead = txn.open_table(DEAD).map_err(|e| r(e.into()))?;
        for item in dead.iter().map_err(|e| r(e.into()))? {
            let (_, v) = item.map_err(|e| r(e.into()))?;
            let letter: DeadLetter = decode(v.value())?;
            *out.entry(letter.instance().to_string())
                .or_default()
                .dead_letters
                .entry(letter.category.clone())
                .or_default() += 1;
        }
        let ledger = txn.open_table(LEDGER).map_err(|e| r(e.into()))?;
        for item in ledger.iter().map_err(|e| r(e.into()))? {
            let (k, _) = item.map_err(|e| r(e.into()))?;
            let instance = k.value().split('\u{1f}').next().unwrap_or("").to_string();
            out.entry(instance).or_default().ledger += 1;
        }
        let state = txn.open_table(STATE).map_err(|e| r(e.into()))?;
        for item in state.iter().map_err(|e| r(e.into()))? {
            let (k, _) = item.map_err(|e| r(e.into()))?;
            out.entry(k.value().to_string()).or_default();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{AttemptNote, LedgerEntry};

    fn job(id: &str) -> NewJob {
        NewJob {
            key: LedgerKey {
                instance: "i".into(),
                action: "a".into(),
                message_id: id.into(),
            },
            sub: 0,
            event: format!("{{\"messageId\":\"{id}\"}}"),
            accepted_ms: 1000,
            due_ms: 1000,
        }
    }

    fn open(dir: &Path) -> Arc<EmbeddedQueue> {
        Arc::new(EmbeddedQueue::open(dir, Duration::from_secs(60), Arc::new(|| 5000)).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_accepts_share_commits_and_are_durable_on_return() {
        let dir = tempfile::tempdir().unwrap();
        let q = open(dir.path());
        let before = q.commits();
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let q = q.clone();
                tokio::spawn(async move { q.enqueue(vec![job(&format!("m{i}"))]).await })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await.unwrap().unwrap()[0], Enqueued::Queued(_)));
        }
        let commits = q.commits() - before;
        assert!(
            commits < 400,
            "{commits} commits for 400 accepts: not grouped"
        );
        drop(q);
        // Everything is there after reopening.
        let q = open(dir.path());
        let leased = q.lease("i", 2000, 1000).await.unwrap();
        assert_eq!(leased.len(), 400);
    }

    #[tokio::test]
    async fn leases_are_exclusive_and_the_ledger_dedups() {
        let dir = tempfile::tempdir().unwrap();
        let q = open(dir.path());
        let r = q.enqueue(vec![job("a"), job("b"), job("a")]).await.unwrap();
        assert!(matches!(r[2], Enqueued::AlreadyQueued(_)));
        assert_eq!(q.lease("i", 999, 10).await.unwrap().len(), 0, "not due yet");
        let first = q.lease("i", 1000, 1).await.unwrap();
        let second = q.lease("i", 1000, 10).await.unwrap();
        assert_eq!((first.len(), second.len()), (1, 1));
        assert_ne!(first[0].id, second[0].id);
        assert_eq!(q.next_due("i").await.unwrap(), None);
        let entry = LedgerEntry {
            outcome: "delivered".into(),
            status: Some(201),
            response: None,
            created_id: Some("x".into()),
            at_ms: 5000,
            attempts: 1,
        };
        q.complete(vec![Completion {
            id: first[0].id,
            entry: entry.clone(),
        }])
        .await
        .unwrap();
        q.reschedule(vec![Reschedule {
            id: second[0].id,
            due_ms: 9000,
            note: Some(AttemptNote {
                at_ms: 5000,
                counted: true,
                reason: "busy".into(),
                status: Some(503),
                response: None,
            }),
        }])
        .await
        .unwrap();
        assert_eq!(q.next_due("i").await.unwrap(), Some(9000));
        let delivered = &first[0].record.key;
        assert_eq!(q.ledger(delivered).await.unwrap(), Some(entry));
        let again = q.enqueue(vec![job(&delivered.message_id)]).await.unwrap();
        assert!(matches!(again[0], Enqueued::AlreadyDelivered(_)));
        let later = q.lease("i", 9000, 10).await.unwrap();
        assert_eq!(later[0].record.attempts, 1);
        assert_eq!(later[0].record.last_status, Some(503));
    }

    #[tokio::test]
    async fn the_ledger_forgets_after_its_window() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(std::sync::atomic::AtomicI64::new(5000));
        let clock = now.clone();
        let q = EmbeddedQueue::open(
            dir.path(),
            Duration::from_secs(1),
            Arc::new(move || clock.load(std::sync::atomic::Ordering::SeqCst)),
        )
        .unwrap();
        q.enqueue(vec![job("w")]).await.unwrap();
        let leased = q.lease("i", 5000, 1).await.unwrap();
        let entry = LedgerEntry {
            outcome: "delivered".into(),
            status: None,
            response: None,
            created_id: None,
            at_ms: 5000,
            attempts: 1,
        };
        q.complete(vec![Completion {
            id: leased[0].id,
            entry,
        }])
        .await
        .unwrap();
        now.store(5900, std::sync::atomic::Ordering::SeqCst);
        let r = q.enqueue(vec![job("w")]).await.unwrap();
        assert!(
            matches!(r[0], Enqueued::AlreadyDelivered(_)),
            "inside the window"
        );
        now.store(6500, std::sync::atomic::Ordering::SeqCst);
        q.enqueue(vec![job("other")]).await.unwrap(); // a commit prunes
        let r = q.enqueue(vec![job("w")]).await.unwrap();
        assert!(
            matches!(r[0], Enqueued::Queued(_)),
            "forgotten after the window"
        );
    }
}
