//! How leased jobs become attempts: batches that form per (subscription, batch-key values) and
//! go out on size, bytes or linger; single events otherwise; and, for audience actions, the
//! per-user order.
//!
//! **Batches.** A batch-capable subscription's jobs join the forming batch of their group: the
//! subscription (so the instance, action and mapping) plus the values of the action's batch keys
//! (its `batch_keys` field, e.g. the webhook's url, method and headers) evaluated on the event.
//! A batch goes out when it holds `size` events (never above the action's own maximum, e.g.
//! LinkedIn's 5,000), when the next event would take it over `bytes`, or `linger` after its
//! first event joined. Each event keeps its own ledger entry and dead letter.
//!
//! **Order.** Jobs of an ordered action (audience membership) with the same user (`userId`,
//! else `anonymousId`) go out in acceptance (job id) order: a job waits, leased, while an
//! earlier job of its user and action is unfinished — in flight, or waiting for a retry — so a
//! later "exited" never overtakes an earlier "entered". Other actions never wait for it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::Value;

use actions_core::mapping::Mapping;
use destination_registry::ActionInfo;
use serde_json::Map;

use crate::instance::Instance;
use crate::queue::{Job, JobId};

/// The action's own batch maximum: its `batch_size` field's maximum, else its default (e.g.
/// LinkedIn's 5,000); `None` when it states none (0 counts as none).
pub(crate) fn action_maximum(action: &ActionInfo) -> Option<usize> {
    let field = action.fields.get("batch_size")?;
    let n = field
        .maximum
        .as_ref()
        .and_then(serde_json::Number::as_f64)
        .or_else(|| field.default.as_ref().and_then(Value::as_f64))?;
    (n >= 1.0).then_some(n as usize)
}

/// The compiled mapping of the action's batch keys: the subscription's `batch_keys`, else the
/// field's default, each key mapped as the subscription maps it. `None` without batch keys.
///
/// # Errors
/// The batch keys' mapping does not compile (the message says why).
pub(crate) fn batch_keys_mapping(
    action: &ActionInfo,
    mapping: &Map<String, Value>,
) -> Result<Option<Mapping>, String> {
    let names = |v: Option<&Value>| -> Option<Vec<String>> {
        v?.as_array().map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
    };
    let keys = names(mapping.get("batch_keys"))
        .or_else(|| names(action.fields.get("batch_keys")?.default.as_ref()))
        .unwrap_or_default();
    let mut sub = Map::new();
    for k in keys {
        if let Some(v) = mapping.get(&k) {
            sub.insert(k, v.clone());
        }
    }
    if sub.is_empty() {
        return Ok(None);
    }
    Mapping::compile(&Value::Object(sub))
        .map(Some)
        .map_err(|e| format!("the batch keys' mapping is invalid: {}", e.message()))
}

/// Whether an action manages audience membership (its default subscription is about
/// `Audience Entered` / `Audience Exited`): its events of one user keep their order.
pub(crate) fn is_audience_action(action: &ActionInfo) -> bool {
    action
        .definition
        .default_subscription
        .as_deref()
        .is_some_and(|s| s.contains("Audience Entered") || s.contains("Audience Exited"))
}

/// The unfinished jobs of ordered actions, per (action, user): what later jobs wait for.
#[derive(Debug, Default)]
pub(crate) struct Order {
    by_user: HashMap<(String, String), BTreeSet<JobId>>,
    of_job: HashMap<JobId, (String, String)>,
}

impl Order {
    /// Records an unfinished job (idempotent).
    pub(crate) fn track(&mut self, action: &str, user: &str, id: JobId) {
        let key = (action.to_string(), user.to_string());
        self.by_user.entry(key.clone()).or_default().insert(id);
        self.of_job.insert(id, key);
    }

    /// Whether an earlier job of the same action and user is unfinished.
    pub(crate) fn blocked(&self, id: JobId) -> bool {
        self.of_job
            .get(&id)
            .and_then(|k| self.by_user.get(k))
            .and_then(|set| set.first())
            .is_some_and(|first| *first < id)
    }

    /// The job was delivered or dead-lettered; returns whether it was tracked.
    pub(crate) fn finish(&mut self, id: JobId) -> bool {
        let Some(key) = self.of_job.remove(&id) else {
            return false;
        };
        if let Some(set) = self.by_user.get_mut(&key) {
            set.remove(&id);
            if set.is_empty() {
                self.by_user.remove(&key);
            }
        }
        true
    }
}

#[derive(Deserialize)]
struct Who {
    #[serde(rename = "userId", default)]
    user_id: Option<Value>,
    #[serde(rename = "anonymousId", default)]
    anonymous_id: Option<Value>,
}

fn id_text(v: Option<Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The user an event belongs to: `userId`, else `anonymousId` (`u:` / `a:` prefixed).
pub(crate) fn user_key(event_text: &str) -> Option<String> {
    let who: Who = serde_json::from_str(event_text).ok()?;
    if let Some(u) = id_text(who.user_id) {
        return Some(format!("u:{u}"));
    }
    id_text(who.anonymous_id).map(|a| format!("a:{a}"))
}

struct Group {
    sub: usize,
    key: String,
    jobs: Vec<Job>,
    bytes: usize,
    since_ms: i64,
}

/// The jobs a scheduler holds between lease and attempt.
#[derive(Default)]
pub(crate) struct Batcher {
    groups: Vec<Group>,
    /// Ordered jobs waiting for an earlier job of their user: (sub, batch key, job).
    waiting: BTreeMap<JobId, (usize, String, Job)>,
    ready: Vec<(usize, Vec<Job>)>,
    held: usize,
}

impl Batcher {
    /// Jobs held (forming, waiting or ready).
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Takes a leased job of subscription `sub` (`usize::MAX` or out of range: no longer
    /// configured; it goes out alone and the attempt dead-letters it).
    pub(crate) fn add(&mut self, inst: &Instance, sub: usize, job: Job, now_ms: i64) {
        self.held += 1;
        let Some(spec) = inst.subs.get(sub) else {
            self.ready.push((sub, vec![job]));
            return;
        };
        let parsed = if spec.batch_keys.is_some() && spec.batch {
            serde_json::from_str::<Value>(&job.record.event).ok()
        } else {
            None
        };
        let key = match (&spec.batch_keys, &parsed) {
            (Some(m), Some(v)) if spec.batch => match m.evaluate(v) {
                Ok(Some(k)) => k.to_string(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        if spec.ordered
            && let Some(user) = user_key(&job.record.event)
        {
            let mut order = inst.order();
            order.track(&spec.action, &user, job.id);
            if order.blocked(job.id) {
                self.waiting.insert(job.id, (sub, key, job));
                return;
            }
        }
        self.place(inst, sub, key, job, now_ms);
    }

    fn place(&mut self, inst: &Instance, sub: usize, key: String, job: Job, now_ms: i64) {
        let Some(spec) = inst.subs.get(sub).filter(|s| s.batch) else {
            self.ready.push((sub, vec![job]));
            return;
        };
        let len = job.record.event.len();
        let at = match self
            .groups
            .iter()
            .position(|g| g.sub == sub && g.key == key)
        {
            Some(i) if self.groups[i].bytes + len > inst.batch.bytes => {
                let full = self.groups.swap_remove(i);
                self.ready.push((full.sub, full.jobs));
                None
            }
            other => other,
        };
        let i = match at {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    sub,
                    key,
                    jobs: Vec::new(),
                    bytes: 0,
                    since_ms: now_ms,
                });
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[i];
        g.jobs.push(job);
        g.bytes += len;
        if g.jobs.len() >= spec.max_batch || g.bytes >= inst.batch.bytes {
            let full = self.groups.swap_remove(i);
            self.ready.push((full.sub, full.jobs));
        }
    }

    /// Moves waiting jobs whose earlier jobs finished into their batches.
    pub(crate) fn unblock(&mut self, inst: &Instance, now_ms: i64) {
        if self.waiting.is_empty() {
            return;
        }
        let free: Vec<JobId> = {
            let order = inst.order();
            self.waiting
                .keys()
                .copied()
                .filter(|id| !order.blocked(*id))
                .collect()
        };
        for id in free {
            if let Some((sub, key, job)) = self.waiting.remove(&id) {
                self.place(inst, sub, key, job, now_ms);
            }
        }
    }

    /// The attempts to start now: full batches, batches that lingered long enough, and single
    /// events; `flush` takes every forming batch.
    pub(crate) fn take_ready(
        &mut self,
        inst: &Instance,
        now_ms: i64,
        flush: bool,
    ) -> Vec<(usize, Vec<Job>)> {
        let linger = crate::engine::millis(inst.batch.linger);
        let mut i = 0;
        while i < self.groups.len() {
            if flush || now_ms >= self.groups[i].since_ms.saturating_add(linger) {
                let g = self.groups.swap_remove(i);
                self.ready.push((g.sub, g.jobs));
            } else {
                i += 1;
            }
        }
        let out = std::mem::take(&mut self.ready);
        self.held -= out.iter().map(|(_, j)| j.len()).sum::<usize>();
        out
    }

    /// When the earliest forming batch has lingered long enough (ms).
    pub(crate) fn next_deadline(&self, inst: &Instance) -> Option<i64> {
        let linger = crate::engine::millis(inst.batch.linger);
        self.groups
            .iter()
            .map(|g| g.since_ms.saturating_add(linger))
            .min()
    }

    /// Every held job's id (to release them at shutdown); the batcher is empty after.
    pub(crate) fn drain_ids(&mut self) -> Vec<JobId> {
        let mut ids: Vec<JobId> = self
            .groups
            .drain(..)
            .flat_map(|g| g.jobs.into_iter().map(|j| j.id))
            .collect();
        ids.extend(std::mem::take(&mut self.waiting).into_keys());
        ids.extend(
            self.ready
                .drain(..)
                .flat_map(|(_, jobs)| jobs.into_iter().map(|j| j.id)),
        );
        self.held = 0;
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_blocks_later_jobs_of_the_same_user_and_action_only() {
        let mut o = Order::default();
        o.track("updateAudience", "u:1", 5);
        o.track("updateAudience", "u:1", 9);
        o.track("updateAudience", "u:2", 7);
        o.track("other", "u:1", 8);
        assert!(!o.blocked(5));
        assert!(o.blocked(9));
        assert!(!o.blocked(7));
        assert!(!o.blocked(8));
        assert!(o.finish(5));
        assert!(!o.blocked(9));
        assert!(!o.finish(5));
    }

    #[test]
    fn the_user_is_the_user_id_else_the_anonymous_id() {
        assert_eq!(
            user_key(r#"{"userId": "u1", "anonymousId": "a1"}"#).as_deref(),
            Some("u:u1")
        );
        assert_eq!(
            user_key(r#"{"userId": "", "anonymousId": "a1"}"#).as_deref(),
            Some("a:a1")
        );
        assert_eq!(user_key(r#"{"userId": 42}"#).as_deref(), Some("u:42"));
        assert_eq!(user_key(r#"{"event": "x"}"#), None);
    }
}
