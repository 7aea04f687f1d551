//! The delivery engine: one scheduler task per destination instance leases due jobs from the
//! [`Queue`] (whatever backend), runs attempts through the runtime (bounded by the instance's
//! `max_in_flight`), and acts on each attempt's [`Outcome`]:
//!
//! | outcome | relay does |
//! |---|---|
//! | `Delivered`, `Skipped` | ledger + remove (one step) |
//! | `Retry{after}` | counts the attempt; next at max(full-jitter backoff, `after`) |
//! | `RateLimited{after}` | pauses the whole instance until `after` (or the backoff); the attempt does not count |
//! | `RefreshThenRetry` | pauses the whole instance for the propagation delay (growing on repeats, capped); counts |
//! | `Permanent` | dead letter at once (credential failures halt the instance instead) |
//! | `Partial` | each event by its own outcome: only the failed ones are retried |
//!
//! Budget: an event is dead-lettered when its counted attempts reach `max_attempts` or its next
//! attempt would fall after `accepted + max_age`. An attempt that started before the current
//! pause began does not extend or grow the pause (it failed for the same reason).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actions_core::action::{MultiStatusNode, ResultEntry};
use actions_core::context::Clock;
use actions_core::request::Capture;
use actions_core::{EventOptions, Outcome};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::batcher::Batcher;
use crate::classify;
use crate::config::RetryConfig;
use crate::instance::Instance;
use crate::queue::{
    AttemptNote, Bury, Completion, InstanceState, Job, LedgerEntry, Queue, Reschedule,
};
use crate::schedule::Backoff;

/// Shared by the schedulers and the [`Relay`](crate::Relay) handle.
pub(crate) struct Engine {
    pub(crate) queue: Arc<dyn Queue>,
    pub(crate) instances: Vec<Arc<Instance>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) backoff: Backoff,
    pub(crate) retry: RetryConfig,
    pub(crate) shutdown_grace: Duration,
    pub(crate) stop: watch::Sender<bool>,
    /// Notified whenever a scheduler publishes its idle state.
    pub(crate) progress: Notify,
    /// The metrics recorder.
    pub(crate) metrics: crate::metrics::Metrics,
    /// The `[ingest]` configuration (for `relay serve` and the demo).
    pub(crate) ingest: Option<crate::config::IngestConfig>,
}

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The next 00:00 UTC after `now_ms` (ms), when daily quotas reset.
pub(crate) fn next_utc_midnight(now_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    (now_ms.div_euclid(DAY) + 1) * DAY
}

fn system_time(ms: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn until(now_ms: i64, at_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
}

/// Most jobs a scheduler holds between lease and attempt.
const MAX_HELD: usize = 50_000;

/// One job's fate after an attempt.
enum Fate {
    Done(Completion),
    Again(Reschedule),
    Dead(Bury),
    /// The instance halted: the job goes back untouched.
    Hold(u64),
}

impl Engine {
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// The scheduler of one instance; returns when the engine stops (after in-flight attempts
    /// finished or the grace period ran out). Leased jobs go through the [`Batcher`]: batches
    /// form per subscription and batch keys and leave on size, bytes or linger; ordered jobs
    /// wait for earlier jobs of their user.
    pub(crate) async fn run_instance(self: Arc<Self>, inst: Arc<Instance>) {
        let slots = Arc::new(Semaphore::new(inst.max_in_flight));
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut stop = self.stop.subscribe();
        let mut batcher = Batcher::default();
        // Most jobs held between lease and attempt.
        let max_batch = inst
            .subs
            .iter()
            .filter(|s| s.batch)
            .map(|s| s.max_batch)
            .max()
            .unwrap_or(1);
        // Enough for a couple of full batches besides one per slot: every lease reads past the
        // jobs already held, so holding more costs more than it batches.
        let cap = max_batch
            .saturating_mul(2)
            .saturating_add(inst.max_in_flight)
            .min(MAX_HELD);
        self.load_order(&inst).await;
        'run: loop {
            while tasks.try_join_next().is_some() {}
            if *stop.borrow() {
                break;
            }
            let generation = inst.generation.load(Ordering::SeqCst);
            if inst.halted().is_some() {
                self.publish(&inst, generation, tasks.is_empty());
                tokio::select! {
                    _ = stop.changed() => {}
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    _ = inst.notify.notified() => {}
                }
                continue;
            }
            let now = self.now_ms();
            let paused_until = inst.pause().until_ms;
            if paused_until > now {
                self.publish(&inst, generation, false);
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(until(now, paused_until)) => {}
                }
                continue;
            }
            // Lease what fits: while batches form, more than the free slots.
            let free = slots.available_permits();
            let room = if max_batch > 1 {
                cap.saturating_sub(batcher.held())
            } else {
                free.saturating_sub(batcher.held())
            };
            if room > 0 {
                match self.queue.lease(&inst.id, now, room).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let sub = self.sub_of(&inst, &job);
                            batcher.add(&inst, sub, job, now);
                        }
                    }
                    Err(e) => {
                        tracing::error!(instance = %inst.id, error = %e, "lease failed");
                        tokio::select! {
                            _ = stop.changed() => {}
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        continue;
                    }
                }
            }
            batcher.unblock(&inst, now);
            let mut ready = batcher.take_ready(&inst, now, false).into_iter();
            while let Some((sub, jobs)) = ready.next() {
                // A slot per attempt before it starts: at most `max_in_flight` attempts are
                // sent at once.
                let permit = tokio::select! {
                    p = slots.clone().acquire_owned() => p.ok(),
                    _ = stop.changed() => None,
                };
                let Some(permit) = permit else {
                    // Stopping: what did not start goes back unchanged.
                    let ids = std::iter::once((sub, jobs))
                        .chain(ready.by_ref())
                        .flat_map(|(_, jobs)| jobs.into_iter().map(|j| j.id))
                        .collect();
                    self.write(&inst, self.queue.release(ids).await);
                    break 'run;
                };
                let (engine, inst) = (self.clone(), inst.clone());
                tasks.spawn(async move {
                    engine.attempt(&inst, sub, jobs).await;
                    drop(permit);
                });
            }
            let next = if room > 0 {
                match self.queue.next_due(&inst.id).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(instance = %inst.id, error = %e, "reading the queue failed");
                        Some(now + 1000)
                    }
                }
            } else {
                None
            };
            self.publish(
                &inst,
                generation,
                next.is_none() && tasks.is_empty() && batcher.is_empty(),
            );
            let now = self.now_ms();
            let wake = match (next, batcher.next_deadline(&inst)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // A queue other processes publish to is looked at again even when it seemed empty.
            let wait = wake
                .map(|at| until(now, at))
                .or_else(|| self.queue.poll_interval());
            tokio::select! {
                _ = stop.changed() => {}
                _ = inst.notify.notified() => {}
                _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        // Stop: held jobs go back unchanged; in-flight attempts may finish, bounded.
        let held = batcher.drain_ids();
        if !held.is_empty() {
            self.write(&inst, self.queue.release(held).await);
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.shutdown_grace, drain)
            .await
            .is_err()
        {
            tracing::warn!(instance = %inst.id, "in-flight attempts did not finish in time; they will be retried after a restart");
            tasks.abort_all();
        }
        let state = inst.settings.state.borrow().clone();
        if let Err(e) = self.queue.put_instance_state(&inst.id, state).await {
            tracing::error!(instance = %inst.id, error = %e, "saving the instance state failed");
        }
        self.publish(&inst, inst.generation.load(Ordering::SeqCst), true);
    }

    /// Before the first lease: the unfinished jobs of ordered actions from the store (jobs
    /// waiting for a retry from before a restart keep their place in their user's order).
    async fn load_order(&self, inst: &Instance) {
        if !inst.subs.iter().any(|s| s.ordered) {
            return;
        }
        match self.queue.held_jobs(&inst.id).await {
            Ok(jobs) => {
                let mut order = inst.order();
                for job in jobs {
                    let Some(sub) = inst.subs.get(self.sub_of(inst, &job)) else {
                        continue;
                    };
                    if sub.ordered
                        && let Some(user) = crate::batcher::user_key(&job.record.event)
                    {
                        order.track(&sub.action, &user, job.id);
                    }
                }
            }
            Err(e) => {
                tracing::error!(instance = %inst.id, error = %e, "reading the queue failed; per-user order starts from what is leased");
            }
        }
    }

    fn publish(&self, inst: &Instance, generation: u64, idle: bool) {
        let changed = inst.idle.send_if_modified(|v| {
            let new = (generation, idle);
            let changed = *v != new;
            *v = new;
            changed
        });
        if changed {
            self.progress.notify_waiters();
        }
    }

    /// The subscription a job belongs to: its index when the action there is still the job's,
    /// else the first subscription of the same action; `usize::MAX` when none is configured.
    fn sub_of(&self, inst: &Instance, job: &Job) -> usize {
        let i = job.record.sub as usize;
        if inst
            .subs
            .get(i)
            .is_some_and(|s| s.action == job.record.key.action)
        {
            return i;
        }
        inst.subs
            .iter()
            .position(|s| s.action == job.record.key.action)
            .unwrap_or(usize::MAX)
    }

    /// One attempt for `jobs` (one event, or a batch of one subscription).
    async fn attempt(&self, inst: &Instance, sub: usize, jobs: Vec<Job>) {
        let ids: Vec<u64> = jobs.iter().map(|j| j.id).collect();
        // The configured rate (times the adaptive factor): one request per cell.
        let mut stop = self.stop.subscribe();
        while !self.stopping() {
            let Some(wait) = inst.rate.check() else { break };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
        if self.stopping() {
            let _ = self.queue.release(ids).await;
            return;
        }
        let now = self.now_ms();
        let paused_until = inst.pause().until_ms;
        if paused_until > now || inst.halted().is_some() {
            // A pause began while this attempt waited for a slot: wait it out, no attempt used.
            let due = paused_until.max(now);
            let list = ids
                .iter()
                .map(|&id| Reschedule {
                    id,
                    due_ms: due,
                    note: None,
                })
                .collect();
            self.write(inst, self.queue.reschedule(list).await);
            return;
        }
        let (Some(settings), Some(_)) = (inst.settings.for_sub(sub), inst.subs.get(sub)) else {
            let fates = jobs
                .iter()
                .map(|j| {
                    self.bury(
                        inst,
                        j,
                        now,
                        "subscription removed".into(),
                        AttemptNote {
                            at_ms: now,
                            counted: false,
                            reason: format!(
                                "no subscription of action {:?} is configured for {:?} any more",
                                j.record.key.action, inst.id
                            ),
                            status: None,
                            response: None,
                        },
                    )
                })
                .collect();
            self.settle(inst, fates).await;
            return;
        };
        let mut events = Vec::with_capacity(jobs.len());
        let mut fates = Vec::new();
        let mut live = Vec::with_capacity(jobs.len());
        for job in jobs {
            match serde_json::from_str::<Value>(&job.record.event) {
                Ok(v) => {
                    events.push(v);
                    live.push(job);
                }
                Err(e) => {
                    let note = AttemptNote {
                        at_ms: now,
                        counted: false,
                        reason: format!("the stored event is not JSON: {e}"),
                        status: None,
                        response: None,
                    };
                    fates.push(self.bury(inst, &job, now, "corrupt event".into(), note));
                }
            }
        }
        if live.is_empty() {
            self.settle(inst, fates).await;
            return;
        }
        let capture = Capture::new();
        let opts = EventOptions {
            capture: Some(capture.clone()),
            ..inst.options.clone()
        };
        let opts = &opts;
        let clock = tokio::time::Instant::now();
        let action = inst.subs.get(sub).map_or("", |s| s.action.as_str());
        if let [event] = events.as_slice() {
            let result = inst.runtime.on_event(event, &settings, opts).await;
            let outcome = classify::outcome(&result);
            self.after_request(inst, action, now, clock, &result, &outcome, &capture);
            let details = match &result {
                Err(e) => classify::error_details(e),
                Ok(_) => (None, None),
            };
            let answer = match &result {
                Ok(entries) => classify::delivered_answer(entries),
                Err(_) => (None, None),
            };
            if let Some(job) = live.first() {
                let o = match outcome {
                    Outcome::Partial(mut v) if v.len() == 1 => v.remove(0),
                    o => o,
                };
                fates.push(self.decide(inst, job, now, &o, details, answer));
            }
        } else {
            let result = inst.runtime.on_batch(&events, &settings, opts).await;
            let outcome = classify::outcome(&result);
            self.after_request(inst, action, now, clock, &result, &outcome, &capture);
            let nodes = multistatus(&result);
            match outcome {
                Outcome::Partial(per_item) => {
                    for (k, job) in live.iter().enumerate() {
                        let o = per_item.get(k).cloned().unwrap_or(Outcome::Retry {
                            after: None,
                            status: None,
                            reason: "the batch answer has no result for this event".into(),
                        });
                        let node = nodes.and_then(|n| n.get(k));
                        let details = node.map(classify::node_details).unwrap_or((None, None));
                        let body = match node {
                            Some(MultiStatusNode::Success { body: Some(b), .. }) => Some(b),
                            _ => None,
                        };
                        let answer = (body.cloned(), body.and_then(classify::created_id));
                        fates.push(self.decide(inst, job, now, &o, details, answer));
                    }
                }
                whole => {
                    let details = match &result {
                        Err(e) => classify::error_details(e),
                        Ok(_) => (None, None),
                    };
                    for job in &live {
                        fates.push(self.decide(
                            inst,
                            job,
                            now,
                            &whole,
                            details.clone(),
                            (None, None),
                        ));
                    }
                }
            }
        }
        self.settle(inst, fates).await;
    }

    /// After one request (an event or a batch): the latency histogram, the partner's quota
    /// headers (the 10% warning; a pause until `X-RateLimit-Reset` when `X-RateLimit-Remaining`
    /// is 0, instead of sending into the wall), and the adaptive factor's recovery.
    #[allow(clippy::too_many_arguments)]
    fn after_request(
        &self,
        inst: &Instance,
        action: &str,
        started: i64,
        clock: tokio::time::Instant,
        result: &Result<Vec<ResultEntry>, actions_core::Error>,
        outcome: &Outcome,
        capture: &Capture,
    ) {
        self.metrics
            .histogram(
                "relay_request_duration_seconds",
                &[("instance", inst.id.as_str()), ("action", action)],
            )
            .record(clock.elapsed().as_secs_f64());
        let now = self.now_ms();
        let exchanges = capture.take();
        let quota = classify::quota(result, &exchanges, system_time(now));
        if quota.is_present() {
            if inst.rate.observe(quota.limit, quota.remaining) {
                inst.count(|c| c.quota_warnings += 1);
                tracing::warn!(
                    instance = %inst.id,
                    remaining = quota.remaining,
                    limit = quota.limit,
                    "the partner's rate-limit quota is below 10% (X-RateLimit-Remaining)"
                );
            }
            let limited = match outcome {
                Outcome::RateLimited { .. } => true,
                Outcome::Partial(v) => v.iter().any(|o| matches!(o, Outcome::RateLimited { .. })),
                _ => false,
            };
            if quota.is_exhausted() && !limited {
                let wait = quota.reset.unwrap_or(self.retry.initial_backoff);
                self.pause_for(
                    inst,
                    started,
                    now,
                    "X-RateLimit-Remaining is 0: waiting for X-RateLimit-Reset",
                    true,
                    |_| wait,
                );
            }
        }
        if outcome.is_done() {
            inst.rate.recover();
        }
    }

    /// What to do with one job after an attempt that started at `started`.
    fn decide(
        &self,
        inst: &Instance,
        job: &Job,
        started: i64,
        outcome: &Outcome,
        (status, response): (Option<u16>, Option<String>),
        (answer, created_id): (Option<Value>, Option<String>),
    ) -> Fate {
        let now = self.now_ms();
        let rec = &job.record;
        let attempts = rec.attempts + 1;
        let note = |reason: &str, counted: bool| AttemptNote {
            at_ms: started,
            counted,
            reason: match status {
                Some(s) if !reason.contains(&s.to_string()) => format!("status {s}: {reason}"),
                _ => reason.to_string(),
            },
            status,
            response: response.clone(),
        };
        let deadline = rec.accepted_ms.saturating_add(millis(self.retry.max_age));
        // Reschedule `due`, or bury when the budget (attempts, age) is spent.
        let again = |due: i64, counted: bool, reason: &str| {
            if counted && attempts >= self.retry.max_attempts {
                return self.bury(
                    inst,
                    job,
                    now,
                    "attempts exhausted".into(),
                    note(
                        &format!("{} attempts failed; the last: {reason}", attempts),
                        counted,
                    ),
                );
            }
            if due > deadline {
                return self.bury(
                    inst,
                    job,
                    now,
                    "max age exceeded".into(),
                    note(
                        &format!(
                            "older than max_age ({}) by its next attempt; the last: {reason}",
                            humantime::format_duration(self.retry.max_age)
                        ),
                        counted,
                    ),
                );
            }
            inst.count(|c| {
                *c.retried
                    .entry(classify::retry_category(outcome))
                    .or_default() += 1
            });
            Fate::Again(Reschedule {
                id: job.id,
                due_ms: due,
                note: Some(note(reason, counted)),
            })
        };
        match outcome {
            Outcome::Delivered | Outcome::Skipped { .. } => {
                let delivered = matches!(outcome, Outcome::Delivered);
                inst.count(|c| {
                    if delivered {
                        c.delivered += 1;
                    } else {
                        c.skipped += 1;
                    }
                });
                if delivered {
                    let mut p = inst.pause();
                    p.rate_streak = 0;
                    p.propagation_streak = 0;
                    p.refresh_streak = 0;
                }
                Fate::Done(Completion {
                    id: job.id,
                    entry: LedgerEntry {
                        outcome: if delivered { "delivered" } else { "skipped" }.into(),
                        status,
                        response: answer.or_else(|| match outcome {
                            Outcome::Skipped { reason } => Some(Value::String(reason.clone())),
                            _ => None,
                        }),
                        created_id,
                        at_ms: now,
                        attempts,
                    },
                })
            }
            Outcome::Retry { after, reason, .. } => {
                let delay = self.backoff.delay(attempts).max(after.unwrap_or_default());
                again(now.saturating_add(millis(delay)), true, reason)
            }
            Outcome::RateLimited { after, reason } => {
                let mut quota_until = None;
                let (due, began) = self.pause_for(inst, started, now, reason, true, |p| {
                    let before = p.rate_streak;
                    p.rate_streak += 1;
                    match after {
                        Some(a) => *a,
                        None => {
                            // No hint: back off, at most until the next 00:00 UTC; a 429 that
                            // persists after a pause of max_backoff is a daily quota.
                            let midnight = next_utc_midnight(now);
                            let to_midnight = until(now, midnight);
                            let ceiling = self.backoff.ceiling(p.rate_streak);
                            if before >= 1 && self.backoff.ceiling(before) >= self.retry.max_backoff
                                || ceiling >= to_midnight
                            {
                                quota_until = Some(midnight);
                                to_midnight
                            } else {
                                ceiling
                            }
                        }
                    }
                });
                if began {
                    inst.rate.slow_down();
                    if let Some(at) = quota_until {
                        let why = format!(
                            "quota exhausted until {} (429 without a wait hint after a pause of max_backoff)",
                            crate::rfc3339(at)
                        );
                        tracing::warn!(instance = %inst.id, reason = %why, "destination paused");
                        inst.pause().reason = why.clone();
                        inst.settings.state.send_modify(|s| {
                            s.pause_reason = Some(why);
                        });
                    }
                }
                again(due, false, reason)
            }
            Outcome::RefreshThenRetry { reason } => {
                let (due, _) = self.pause_for(inst, started, now, reason, false, |p| {
                    p.propagation_streak += 1;
                    let exp = p.propagation_streak.saturating_sub(1).min(16);
                    self.retry
                        .propagation_delay
                        .saturating_mul(1 << exp)
                        .min(self.retry.propagation_delay_max)
                });
                again(due, true, reason)
            }
            Outcome::Permanent {
                status: st,
                code,
                reason,
            } => {
                // A refresh that failed without the token endpoint rejecting the credentials
                // (a 5xx, a reset, a timeout at LinkedIn's token endpoint) may pass: pause the
                // instance with backoff, not counted against the events' budgets, and halt only
                // after REFRESH_FAILURES_BEFORE_HALT in a row.
                if classify::is_transient_refresh_failure(code.as_deref())
                    && inst.pause().refresh_streak < classify::REFRESH_FAILURES_BEFORE_HALT
                {
                    let (due, _) = self.pause_for(inst, started, now, reason, false, |p| {
                        p.refresh_streak += 1;
                        self.backoff.ceiling(p.refresh_streak)
                    });
                    return again(due, false, reason);
                }
                if classify::is_credential_failure(code.as_deref()) {
                    self.halt(inst, reason);
                    return Fate::Hold(job.id);
                }
                let category = classify::permanent_category(*st, code.as_deref());
                self.bury(inst, job, now, category, note(reason, true))
            }
            Outcome::Partial(_) => again(
                now.saturating_add(millis(self.backoff.delay(attempts))),
                true,
                "a nested batch result",
            ),
        }
    }

    /// Pauses the instance — unless the attempt started before the current pause of the same
    /// kind began: then it failed for that pause's reason and only waits for its end. `next`
    /// grows the kind's streak and returns the delay. Returns when the job is due again, and
    /// whether a new pause began.
    fn pause_for(
        &self,
        inst: &Instance,
        started: i64,
        now: i64,
        reason: &str,
        rate_limit: bool,
        next: impl FnOnce(&mut crate::instance::Pause) -> Duration,
    ) -> (i64, bool) {
        let mut p = inst.pause();
        if started <= p.started_ms && p.rate_limit == rate_limit {
            return (p.until_ms.max(now), false);
        }
        let delay = next(&mut p);
        p.started_ms = now;
        p.rate_limit = rate_limit;
        p.until_ms = p.until_ms.max(now.saturating_add(millis(delay)));
        p.reason = reason.to_string();
        let until_ms = p.until_ms;
        drop(p);
        inst.count(|c| {
            if rate_limit {
                c.rate_limit_pauses += 1;
            } else {
                c.propagation_pauses += 1;
            }
        });
        tracing::info!(
            instance = %inst.id,
            pause = %humantime::format_duration(delay),
            reason,
            "destination paused"
        );
        inst.settings.state.send_modify(|s| {
            s.paused_until_ms = Some(until_ms);
            s.pause_reason = Some(reason.to_string());
        });
        (until_ms, true)
    }

    fn halt(&self, inst: &Instance, reason: &str) {
        let mut h = inst
            .halted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if h.is_none() {
            tracing::error!(instance = %inst.id, reason, "destination halted: its credentials were rejected; fix them in the configuration");
            *h = Some(reason.to_string());
            inst.settings
                .state
                .send_modify(|s| s.halted = Some(reason.to_string()));
        }
    }

    fn bury(
        &self,
        inst: &Instance,
        job: &Job,
        _now: i64,
        category: String,
        note: AttemptNote,
    ) -> Fate {
        tracing::info!(instance = %inst.id, message_id = %job.record.key.message_id, category = %category, reason = %note.reason, "dead-lettered");
        inst.count(|c| *c.dead.entry(category.clone()).or_default() += 1);
        Fate::Dead(Bury {
            id: job.id,
            category,
            note,
        })
    }

    async fn settle(&self, inst: &Instance, fates: Vec<Fate>) {
        let (mut done, mut again, mut dead, mut hold) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for f in fates {
            match f {
                Fate::Done(c) => done.push(c),
                Fate::Again(r) => again.push(r),
                Fate::Dead(b) => dead.push(b),
                Fate::Hold(id) => hold.push(id),
            }
        }
        let finished: Vec<u64> = done
            .iter()
            .map(|c| c.id)
            .chain(dead.iter().map(|b| b.id))
            .collect();
        let (a, b, c, d) = tokio::join!(
            self.queue.complete(done),
            self.queue.reschedule(again),
            self.queue.bury(dead),
            self.queue.release(hold),
        );
        self.write(inst, a);
        self.write(inst, b);
        self.write(inst, c.map(|_| ()));
        self.write(inst, d);
        // Later jobs of the same users may go now (the scheduler wakes when this attempt ends).
        if !finished.is_empty() {
            let mut order = inst.order();
            for id in finished {
                order.finish(id);
            }
        }
    }

    fn write(&self, inst: &Instance, r: Result<(), crate::queue::StoreError>) {
        if let Err(e) = r {
            tracing::error!(instance = %inst.id, error = %e, "store write failed; the jobs stay leased until a restart");
        }
    }

    /// Keeps the instances' stored state current (tokens, pauses, halts).
    pub(crate) async fn persist_state(self: Arc<Self>, inst: Arc<Instance>) {
        let mut rx = inst.settings.state.subscribe();
        let mut stop = self.stop.subscribe();
        loop {
            tokio::select! {
                r = rx.changed() => {
                    if r.is_err() { return; }
                    let state: InstanceState = rx.borrow_and_update().clone();
                    if let Err(e) = self.queue.put_instance_state(&inst.id, state).await {
                        tracing::error!(instance = %inst.id, error = %e, "saving the instance state failed");
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }
}

fn multistatus(
    result: &Result<Vec<ResultEntry>, actions_core::Error>,
) -> Option<&[MultiStatusNode]> {
    result
        .as_ref()
        .ok()?
        .iter()
        .find_map(|e| e.multistatus.as_deref())
}
