//! OAuth tokens and the single-flight token refresh.
//!
//! Tokens live in the runtime settings under `oauth` (`access_token`, `refresh_token`,
//! `clientId`, `clientSecret`, `refresh_token_url`), as in the reference. They are held in
//! [`Secret`]s whose `Debug` and `Display` never show the value.
//!
//! [`TokenRefresher`] makes refreshes single-flight: when many events fail with the same stale
//! access token at once, exactly one refresh request goes out and every caller uses its result.
//!
//! ```
//! use actions_core::oauth::{AuthTokens, Secret};
//! let settings = serde_json::json!({"oauth": {"access_token": "at-123", "refresh_token": "rt"}});
//! let auth = AuthTokens::from_settings(&settings);
//! assert_eq!(auth.access_token.as_ref().map(Secret::expose), Some("at-123"));
//! assert!(!format!("{auth:?}").contains("at-123"));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::error::Error;

/// A secret string (token, client secret, key): `Debug`/`Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for building a request. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads an optional string setting as a secret, an empty string counting as not set (as
    /// the reference treats a falsy secret). For settings structs:
    ///
    /// ```
    /// use actions_core::oauth::Secret;
    /// #[derive(serde::Deserialize)]
    /// struct Settings {
    ///     #[serde(default, deserialize_with = "Secret::deserialize_non_empty")]
    ///     shared_secret: Option<Secret>,
    /// }
    /// let set: Settings = serde_json::from_str(r#"{"shared_secret": "s3cr3t"}"#).unwrap();
    /// assert_eq!(set.shared_secret.as_ref().map(Secret::expose), Some("s3cr3t"));
    /// let empty: Settings = serde_json::from_str(r#"{"shared_secret": ""}"#).unwrap();
    /// assert!(empty.shared_secret.is_none());
    /// let absent: Settings = serde_json::from_str("{}").unwrap();
    /// assert!(absent.shared_secret.is_none());
    /// ```
    ///
    /// # Errors
    /// The value is neither a string nor null (the deserializer's type error).
    pub fn deserialize_non_empty<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret>, D::Error> {
        let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
        Ok(value.filter(|s| !s.is_empty()).map(Secret))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Serialises as `"<redacted>"`, so that a secret inside a serialised structure (a log record,
/// a status report, an error body) never shows. A store that must keep the value writes
/// [`Secret::expose`] explicitly.
///
/// ```
/// use actions_core::oauth::Secret;
/// let s = Secret::new("tok-123");
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#""<redacted>""#);
/// ```
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// The auth data of a run: the reference's `AuthTokens` plus the OAuth client credentials
/// (`OAuth2ClientCredentials`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthTokens {
    /// `oauth.access_token`.
    pub access_token: Option<Secret>,
    /// `oauth.refresh_token`.
    pub refresh_token: Option<Secret>,
    /// `oauth.refresh_token_url`.
    pub refresh_token_url: Option<String>,
    /// `oauth.clientId`.
    pub client_id: Option<String>,
    /// `oauth.clientSecret`.
    pub client_secret: Option<Secret>,
}

fn non_empty_str(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl AuthTokens {
    /// Reads `settings.oauth` (all empty when absent).
    pub fn from_settings(settings: &Value) -> Self {
        match settings.get("oauth") {
            Some(o) => AuthTokens::from_oauth(o),
            None => AuthTokens::default(),
        }
    }

    /// Reads an `oauth` object.
    pub fn from_oauth(o: &Value) -> Self {
        AuthTokens {
            access_token: non_empty_str(o.get("access_token")).map(Secret),
            refresh_token: non_empty_str(o.get("refresh_token")).map(Secret),
            refresh_token_url: non_empty_str(o.get("refresh_token_url")),
            client_id: non_empty_str(o.get("clientId")),
            client_secret: non_empty_str(o.get("clientSecret")).map(Secret),
        }
    }

    /// The access token's value, if any.
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_ref().map(Secret::expose)
    }

    /// Applies refreshed tokens (the refresh token only when a new one was returned).
    pub fn apply(&mut self, refreshed: &RefreshedTokens) {
        self.access_token = Some(refreshed.access_token.clone());
        if let Some(rt) = &refreshed.refresh_token {
            self.refresh_token = Some(rt.clone());
        }
    }

    /// These tokens as an `oauth` settings object (what a host persists).
    pub fn to_oauth_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        if let Some(t) = &self.access_token {
            o.insert("access_token".into(), Value::String(t.expose().to_string()));
        }
        if let Some(t) = &self.refresh_token {
            o.insert(
                "refresh_token".into(),
                Value::String(t.expose().to_string()),
            );
        }
        if let Some(u) = &self.refresh_token_url {
            o.insert("refresh_token_url".into(), Value::String(u.clone()));
        }
        if let Some(c) = &self.client_id {
            o.insert("clientId".into(), Value::String(c.clone()));
        }
        if let Some(c) = &self.client_secret {
            o.insert("clientSecret".into(), Value::String(c.expose().to_string()));
        }
        Value::Object(o)
    }
}

/// The result of `refresh_access_token`: a new access token, and a new refresh token when the
/// provider rotated it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshedTokens {
    /// The new access token.
    pub access_token: Secret,
    /// The new refresh token, if returned.
    pub refresh_token: Option<Secret>,
}

impl RefreshedTokens {
    /// Only an access token.
    pub fn access(token: impl Into<String>) -> Self {
        RefreshedTokens {
            access_token: Secret::new(token),
            refresh_token: None,
        }
    }
}

/// Coordinates refreshes of the same credentials across processes that share them (several
/// delivery workers with one rotating refresh token): the refresh request runs at most once,
/// the others get its tokens. Set on [`RuntimeConfig`](crate::RuntimeConfig); without it each
/// process refreshes on its own (single-flight within the process).
#[async_trait::async_trait]
pub trait RefreshCoordinator: Send + Sync {
    /// Fresh tokens for `stale`: those another process already refreshed them into, or the
    /// result of `refresh` (the refresh request), run while holding the shared lease.
    async fn refresh(
        &self,
        stale: &AuthTokens,
        refresh: futures::future::BoxFuture<'_, Result<RefreshedTokens, Error>>,
    ) -> Result<RefreshedTokens, Error>;
}

/// Refresh times are remembered this long once the memory holds many credentials.
const REFRESH_MEMORY: Duration = Duration::from_secs(3600);
/// The number of remembered credentials past which old refresh times are forgotten.
const REFRESH_MEMORY_LIMIT: usize = 4096;

type Slot = Arc<OnceCell<Result<RefreshedTokens, Error>>>;

/// Single-flight token refresh: concurrent refreshes for the same stale access token share one
/// refresh request and its result. A finished result is kept for a short while (`reuse_for`) so
/// late callers that still hold the stale token reuse it instead of refreshing again.
///
/// It also remembers when each credential (refresh token) was last refreshed successfully, so a
/// caller can skip a refresh that would only reset a propagation wait
/// ([`refreshed_within`](Self::refreshed_within)).
pub struct TokenRefresher {
    slots: Mutex<HashMap<String, (Slot, Instant)>>,
    reuse_for: Duration,
    /// Credential key → when its last successful refresh finished (tokio's clock, so paused
    /// test time applies).
    refreshed_at: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl fmt::Debug for TokenRefresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRefresher")
            .field("reuse_for", &self.reuse_for)
            .finish()
    }
}

impl Default for TokenRefresher {
    fn default() -> Self {
        TokenRefresher::new(Duration::from_secs(30))
    }
}

impl TokenRefresher {
    /// A refresher that keeps results for `reuse_for`.
    pub fn new(reuse_for: Duration) -> Self {
        TokenRefresher {
            slots: Mutex::new(HashMap::new()),
            reuse_for,
            refreshed_at: Mutex::new(HashMap::new()),
        }
    }

    /// The credential a refresh renews: the refresh token (empty when there is none).
    fn credential(tokens: &AuthTokens) -> &str {
        tokens
            .refresh_token
            .as_ref()
            .map(Secret::expose)
            .unwrap_or("")
    }

    /// Whether the credential of `tokens` (its refresh token) was refreshed successfully within
    /// `window` — also when the refresh rotated the refresh token and `tokens` holds the new one.
    ///
    /// ```
    /// # tokio_test_block(async {
    /// use std::time::Duration;
    /// use actions_core::oauth::{AuthTokens, RefreshedTokens, TokenRefresher};
    /// let refresher = TokenRefresher::default();
    /// let stale = AuthTokens { refresh_token: Some("rt".into()), ..AuthTokens::default() };
    /// assert!(!refresher.refreshed_within(&stale, Duration::from_secs(5)));
    /// let (tokens, performed) = refresher
    ///     .refresh(&stale, || async { Ok(RefreshedTokens::access("new")) })
    ///     .await;
    /// assert!(performed && tokens.is_ok());
    /// assert!(refresher.refreshed_within(&stale, Duration::from_secs(5)));
    /// # });
    /// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
    /// #     tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    /// # }
    /// ```
    pub fn refreshed_within(&self, tokens: &AuthTokens, window: Duration) -> bool {
        if window.is_zero() {
            return false;
        }
        let Ok(map) = self.refreshed_at.lock() else {
            return false;
        };
        map.get(TokenRefresher::credential(tokens))
            .is_some_and(|at| at.elapsed() < window)
    }

    fn record_refresh(&self, stale: &AuthTokens, fresh: &RefreshedTokens) {
        let Ok(mut map) = self.refreshed_at.lock() else {
            return;
        };
        let now = tokio::time::Instant::now();
        if map.len() >= REFRESH_MEMORY_LIMIT {
            map.retain(|_, at| now.duration_since(*at) < REFRESH_MEMORY);
        }
        map.insert(TokenRefresher::credential(stale).to_string(), now);
        if let Some(rotated) = &fresh.refresh_token {
            map.insert(rotated.expose().to_string(), now);
        }
    }

    fn key(stale: &AuthTokens) -> String {
        // The key holds secrets only in memory (never printed). Distinguish "no token".
        format!(
            "{}\u{0}{}",
            stale.access_token().unwrap_or(""),
            stale
                .refresh_token
                .as_ref()
                .map(Secret::expose)
                .unwrap_or("")
        )
    }

    /// Refreshes the tokens that failed (`stale`) with `refresh`, unless a refresh for the same
    /// stale tokens is in flight or just finished, in which case its result is returned.
    /// Returns the tokens and whether *this* call performed the refresh.
    pub async fn refresh<F, Fut>(
        &self,
        stale: &AuthTokens,
        refresh: F,
    ) -> (Result<RefreshedTokens, Error>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<RefreshedTokens, Error>>,
    {
        let key = TokenRefresher::key(stale);
        let slot = {
            let Ok(mut slots) = self.slots.lock() else {
                return (refresh().await, true);
            };
            let now = Instant::now();
            slots.retain(|_, (cell, at)| {
                cell.get().is_none() || now.duration_since(*at) < self.reuse_for
            });
            slots
                .entry(key)
                .or_insert_with(|| (Arc::new(OnceCell::new()), now))
                .0
                .clone()
        };
        let mut performed = false;
        let result = slot
            .get_or_init(|| {
                performed = true;
                refresh()
            })
            .await
            .clone();
        if performed && let Ok(tokens) = &result {
            self.record_refresh(stale, tokens);
        }
        (result, performed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn fifty_concurrent_refreshes_make_one_request() {
        let refresher = Arc::new(TokenRefresher::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let stale = AuthTokens {
            access_token: Some("old".into()),
            refresh_token: Some("rt".into()),
            ..AuthTokens::default()
        };
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let refresher = refresher.clone();
            let calls = calls.clone();
            let stale = stale.clone();
            tasks.push(tokio::spawn(async move {
                refresher
                    .refresh(&stale, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(RefreshedTokens::access("new"))
                    })
                    .await
                    .0
            }));
        }
        for t in tasks {
            let tokens = t.await.unwrap().unwrap();
            assert_eq!(tokens.access_token.expose(), "new");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn secrets_do_not_print() {
        let auth = AuthTokens::from_settings(&serde_json::json!({"oauth": {
            "access_token": "AT-SECRET", "refresh_token": "RT-SECRET",
            "clientId": "cid", "clientSecret": "CS-SECRET"}}));
        let dbg = format!("{auth:?}");
        for s in ["AT-SECRET", "RT-SECRET", "CS-SECRET"] {
            assert!(!dbg.contains(s), "{dbg}");
        }
        assert_eq!(auth.client_id.as_deref(), Some("cid"));
    }
}
