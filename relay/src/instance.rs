//! One destination instance at run time: its runtime, its subscriptions with their settings
//! objects (built once, rebuilt only when the OAuth tokens change), its pause and halt state,
//! and its counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use actions_core::oauth::RefreshedTokens;
use actions_core::subscriptions::Subscription;
use actions_core::{AnyRuntime, EventOptions};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use crate::queue::InstanceState;

/// A subscription compiled once.
pub(crate) struct Sub {
    /// The action key.
    pub(crate) action: String,
    /// The parsed `subscribe` query (checked at acceptance).
    pub(crate) subscription: Subscription,
    /// Whether the action gets batches (batch-capable and batching not turned off).
    pub(crate) batch: bool,
    /// Most events in one batch: the configured size, never above the action's maximum.
    pub(crate) max_batch: usize,
    /// The mapping of the action's batch keys (events with other values go in other batches).
    pub(crate) batch_keys: Option<actions_core::mapping::Mapping>,
    /// Whether events of one user must go out in acceptance order (audience actions).
    pub(crate) ordered: bool,
}

/// What relay counted for one instance during this process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Jobs accepted into the store.
    pub accepted: u64,
    /// Events not queued because the same (instance, action, messageId) was already delivered or
    /// queued, plus queued jobs found delivered at delivery time.
    pub duplicates: u64,
    /// Delivered.
    pub delivered: u64,
    /// Nothing to send (the destination skipped it).
    pub skipped: u64,
    /// Attempts that will be retried, by reason.
    pub retried: BTreeMap<String, u64>,
    /// Dead-lettered, by reason.
    pub dead: BTreeMap<String, u64>,
    /// OAuth token refreshes.
    pub token_refreshes: u64,
    /// Pauses of the whole instance after a 429.
    pub rate_limit_pauses: u64,
    /// Pauses of the whole instance after a token-propagation answer.
    pub propagation_pauses: u64,
    /// Times the partner's remaining quota fell below 10% of `X-RateLimit-Limit`.
    pub quota_warnings: u64,
}

/// The pause of an instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pause {
    /// Paused until (ms).
    pub(crate) until_ms: i64,
    /// When it started (ms): attempts that started before belong to it.
    pub(crate) started_ms: i64,
    /// Consecutive rate-limit pauses (reset on a delivery).
    pub(crate) rate_streak: u32,
    /// Consecutive propagation pauses (reset on a delivery).
    pub(crate) propagation_streak: u32,
    /// Consecutive failed token refreshes that named no OAuth rejection (reset on a delivery).
    pub(crate) refresh_streak: u32,
    /// Why.
    pub(crate) reason: String,
    /// Whether the last pause was a rate limit (else token propagation).
    pub(crate) rate_limit: bool,
}

/// The tokens and settings objects of an instance; the token-refresh callback updates them.
pub(crate) struct Settings {
    /// The destination settings with the current `oauth`.
    base: Mutex<Value>,
    /// One settings object per subscription (`settings + subscription`), shared by attempts.
    per_sub: RwLock<Arc<Vec<Arc<Value>>>>,
    members: Vec<Value>,
    /// The persisted state (tokens, halt, pause), latest value for the persister.
    pub(crate) state: watch::Sender<InstanceState>,
    pub(crate) refreshes: AtomicU64,
}

impl Settings {
    pub(crate) fn new(base: Value, members: Vec<Value>, state: InstanceState) -> Self {
        let per_sub = build_per_sub(&base, &members);
        let (tx, _) = watch::channel(state);
        Settings {
            base: Mutex::new(base),
            per_sub: RwLock::new(Arc::new(per_sub)),
            members,
            state: tx,
            refreshes: AtomicU64::new(0),
        }
    }

    /// The settings object of subscription `i`.
    pub(crate) fn for_sub(&self, i: usize) -> Option<Arc<Value>> {
        let all = self
            .per_sub
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        all.get(i).cloned()
    }

    /// Applies refreshed tokens: the live settings' `oauth` member and the persisted state.
    pub(crate) fn apply_tokens(&self, tokens: &RefreshedTokens) {
        let mut base = self
            .base
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let oauth = base.as_object_mut().map(|o| {
            o.entry("oauth")
                .or_insert_with(|| Value::Object(Map::new()))
        });
        let Some(Value::Object(oauth)) = oauth else {
            return;
        };
        oauth.insert(
            "access_token".into(),
            Value::String(tokens.access_token.expose().to_string()),
        );
        if let Some(rt) = &tokens.refresh_token {
            oauth.insert(
                "refresh_token".into(),
                Value::String(rt.expose().to_string()),
            );
        }
        let stored = token_members(oauth);
        let per_sub = build_per_sub(&base, &self.members);
        *self
            .per_sub
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(per_sub);
        drop(base);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.state.send_modify(|s| s.oauth = Some(stored));
    }
}

/// The members of `oauth` relay persists: the tokens.
fn token_members(oauth: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for k in ["access_token", "refresh_token"] {
        if let Some(v) = oauth.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn build_per_sub(base: &Value, members: &[Value]) -> Vec<Arc<Value>> {
    members
        .iter()
        .map(|m| {
            let mut s = base.clone();
            if let Some(o) = s.as_object_mut() {
                o.insert("subscription".into(), m.clone());
            }
            Arc::new(s)
        })
        .collect()
}

/// A fingerprint of the configured `oauth` member (stored tokens descend from it).
pub(crate) fn oauth_fingerprint(settings: &Value) -> String {
    let oauth = settings.get("oauth").cloned().unwrap_or(Value::Null);
    hex::encode(Sha256::digest(oauth.to_string().as_bytes()))
}

/// Puts stored tokens over the configured ones.
pub(crate) fn overlay_tokens(settings: &mut Value, stored: &Value) {
    let (Some(Value::Object(oauth)), Some(stored)) = (
        settings.as_object_mut().and_then(|o| o.get_mut("oauth")),
        stored.as_object(),
    ) else {
        return;
    };
    for (k, v) in stored {
        oauth.insert(k.clone(), v.clone());
    }
}

/// One destination instance.
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) runtime: Arc<dyn AnyRuntime>,
    pub(crate) subs: Vec<Sub>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) options: EventOptions,
    pub(crate) max_in_flight: usize,
    /// The request rate: configured limit × adaptive factor, and the partner's quota headers.
    pub(crate) rate: crate::ratelimit::Rate,
    /// How batch-capable subscriptions are batched.
    pub(crate) batch: crate::config::BatchConfig,
    pub(crate) pause: Mutex<Pause>,
    /// Unfinished jobs of ordered actions, per user.
    pub(crate) order: Mutex<crate::batcher::Order>,
    pub(crate) halted: Mutex<Option<String>>,
    pub(crate) counters: Mutex<Counters>,
    /// New work: wakes the scheduler.
    pub(crate) notify: Notify,
    /// Bumped after every durable enqueue, so "idle" is only believed for the newest work.
    pub(crate) generation: AtomicU64,
    /// (generation seen, idle) as last published by the scheduler.
    pub(crate) idle: watch::Sender<(u64, bool)>,
}

impl Instance {
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    pub(crate) fn counters(&self) -> Counters {
        let mut c = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        c.token_refreshes = self.settings.refreshes.load(Ordering::Relaxed);
        c
    }

    pub(crate) fn order(&self) -> std::sync::MutexGuard<'_, crate::batcher::Order> {
        self.order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn rate_view(&self) -> crate::ratelimit::RateView {
        self.rate.view()
    }

    pub(crate) fn pause(&self) -> std::sync::MutexGuard<'_, Pause> {
        self.pause
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn halted(&self) -> Option<String> {
        self.halted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Wakes the scheduler after new work became durable.
    pub(crate) fn wake(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
    }
}
