//! An in-process simulator of the LinkedIn APIs the LinkedIn Audiences and LinkedIn Conversions
//! destinations call: `api.linkedin.com/rest/...` and `www.linkedin.com/oauth/v2/accessToken`,
//! both served on one loopback port.
//!
//! It keeps real state (segments, members, conversion rules, campaign associations, tokens),
//! validates requests the way LinkedIn does (bearer tokens, Rest.li keys in raw paths, the
//! 90-day conversion window, per-element batch statuses), records every request, counts
//! deliveries for "exactly once" assertions, and injects faults: rate limits, token propagation
//! (`65601`), revoked/expired tokens, `invalid_grant`, seeded 5xx, scripted sequences, latency,
//! connection resets, hangs and not-yet-ready segments.
//!
//! # Usage
//! ```
//! use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = LinkedInSim::start(SimConfig::default()).await?;
//! // Point the destination's API base (`{base}/rest`) and token URL
//! // (`{base}/oauth/v2/accessToken`) at the simulator, authenticate with `sim-access-token`.
//! let base = sim.base_url();
//! assert!(base.starts_with("http://127.0.0.1:"));
//!
//! // ... run the code under test, then inspect what LinkedIn saw:
//! let state = sim.state();
//! assert!(state.requests.is_empty());
//! assert_eq!(sim.dedup_counts().event("msg-1"), 0);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//! | route | answer |
//! |---|---|
//! | `POST /oauth/v2/accessToken` (form) | 200 new token; 400 `invalid_request` / `invalid_grant`; 401 `invalid_client` |
//! | `GET /rest/me` | the [`Profile`](crate::linkedin_sim::Profile) |
//! | `GET /rest/adAccountUsers/account=urn:li:sponsoredAccount:{a}&user=urn:li:person:{p}` | the role, or 404 |
//! | `GET /rest/adAccounts?q=search` | the ad accounts |
//! | `GET /rest/adAccounts/{id}/adCampaigns?q=search&search=(status:(values:List(…)))` | campaigns filtered by status |
//! | `GET /rest/conversions?q=account&account=…&start=&count=` | the account's rules |
//! | `GET /rest/conversions/{id}?account=…` | one rule, or 404 |
//! | `POST /rest/conversions` | 201, the rule as JSON, `x-restli-id` |
//! | `POST /rest/conversions/{id}?account=…` + `X-RestLi-Method: PARTIAL_UPDATE` | 204 |
//! | `PUT /rest/campaignConversions/(campaign:…,conversion:…)` (any content type) | 204 |
//! | `PUT /rest/campaignConversions?ids=List(…)` | 200 `{"results":{key:{"status":204}},"errors":{…}}` |
//! | `GET /rest/dmpSegments?q=account&account=…&sourceSegmentId=…&sourcePlatform=…` | matching segments |
//! | `POST /rest/dmpSegments` | 201, empty, `x-linkedin-id` and `x-restli-id`; 409 on duplicate account+sourceSegmentId+type |
//! | `POST /rest/dmpSegments/{id}/users` / `companies` (BATCH_CREATE) | 200 with a status per element; 404 unknown or not ready |
//! | `POST /rest/conversionEvents` | 201 empty; with BATCH_CREATE 200 with a status per element |
//!
//! Every `/rest` route first checks `Authorization: Bearer <token>`: missing → 401
//! `Empty oauth2_access_token`; unknown → 401 `65600`; revoked or not yet propagated → 401
//! `65601`; expired → 401 `65602`. JSON answers carry `Content-Type: application/json`; a body
//! that is not JSON where JSON is expected answers 400 with LinkedIn's `{status, code, message}`.
//! Ids of conversion rules, ad accounts and campaigns are JSON strings and segment ids JSON
//! numbers, as in the recorded golden cases. `GET /__sim/state` and `GET /__sim/dedup` return
//! the snapshot and the dedup counters as JSON (for the binary; not recorded, not faulted).
//!
//! # Faults file (`linkedin-sim --faults FILE`)
//! The file is a [`SimConfig`](crate::linkedin_sim::SimConfig) in JSON; every field is optional and defaults as in
//! `SimConfig::default()`. Durations are milliseconds. Example:
//! ```json
//! {
//!   "seed": 7,
//!   "now_ms": 1793491200000,
//!   "token_propagation": {"requests": 2, "duration_ms": 0},
//!   "segment_readiness": {"requests": 0, "duration_ms": 1500},
//!   "revoked_refresh_tokens": ["old-refresh-token"],
//!   "faults": [
//!     {"route": "POST /rest/conversionEvents",
//!      "fault": {"rate_limit": {"budget": 100, "window_ms": 1000, "retry_after": "until_reset",
//!                               "rate_limit_headers": true}}},
//!     {"route": "dmp_segment_users", "after_requests": 1,
//!      "fault": {"sequence": [{"respond": {"status": 429, "body": {"text": "Too Many Requests"}}},
//!                             {"respond": {"status": 500}}, "pass", "reset"]}},
//!     {"route": "*", "fault": {"error_rate": {"rate": 0.05, "statuses": [500, 502, 503]}}},
//!     {"route": "GET /rest/me", "start_ms": 0, "end_ms": 10000, "fault": {"latency": 250}},
//!     {"route": "oauth_token", "max_requests": 1, "fault": "hang"},
//!     {"route": "POST /rest/dmpSegments/*/companies",
//!      "fault": {"respond": {"status": 401, "body": {"json": {"status": 401,
//!        "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN",
//!        "message": "The token used in the request has been revoked by the user"}}}}}
//!   ]
//! }
//! ```
//! `route` is `"*"`, a [`RouteKind`](crate::linkedin_sim::RouteKind) name, or `"METHOD /raw/path/glob"` ([`RouteSelector`](crate::linkedin_sim::RouteSelector)).
//! A rule applies to matching requests after the first `after_requests`, to at most
//! `max_requests` of them, and only between `start_ms` and `end_ms` after it was installed.
//! `fault` is one of `{"respond": CannedResponse}`, `{"latency": ms}`, `"reset"`, `"hang"`,
//! `{"sequence": [step, …]}` (steps: `"pass"`, `{"respond": …}`, `{"latency": ms}`, `"reset"`,
//! `"hang"`), `{"rate_limit": {budget, window_ms, retry_after?, rate_limit_headers?, plain_text?}}`
//! `{"error_rate": {rate, statuses?}}` or `{"sometimes": {rate, step}}` (a step for a seeded-random
//! fraction of the requests: occasional resets, hangs, latency spikes). A `CannedResponse` is `{"status": N, "body"?:
//! "linkedin" | "empty" | {"json": …} | {"text": "…"}, "headers"?: {name: value}}`.

mod api;
mod config;
mod faults;
mod response;
mod restli;
mod routes;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{
    AdAccount, AdAccountUser, Campaign, ConversionRule, DmpSegment, Lag, OAuthClient, Profile,
    SegmentType, SimConfig,
};
pub use faults::{
    CannedBody, CannedResponse, ErrorRate, Fault, FaultRule, RateLimit, RetryAfter, RouteSelector,
    Sometimes, Step,
};
pub use routes::RouteKind;
pub use state::{
    CampaignConversion, DedupCounts, IssuedToken, MemberDeliveries, ReceivedConversion,
    RecordedRequest, RefreshRequest, RequestOutcome, SegmentMembers, SimState,
};

use server::Shared;
use state::{Inner, TokenEntry, TokenStatus};

/// Errors of starting or configuring the simulator.
#[derive(Debug)]
pub enum SimError {
    /// The listening socket could not be opened.
    Io(std::io::Error),
    /// The configuration is invalid (bad JSON, unknown route selector, ...).
    Config(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Io(e) => write!(f, "linkedin simulator: {e}"),
            SimError::Config(m) => write!(f, "linkedin simulator configuration: {m}"),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimError::Io(e) => Some(e),
            SimError::Config(_) => None,
        }
    }
}

impl SimConfig {
    /// Reads a configuration from JSON (the `--faults FILE` format); missing fields default.
    ///
    /// ```
    /// use actions_testkit::linkedin_sim::SimConfig;
    ///
    /// let config = SimConfig::from_json(r#"{"seed": 3, "faults": [{"route": "me", "fault": "reset"}]}"#)?;
    /// assert_eq!(config.seed, 3);
    /// assert_eq!(config.faults.len(), 1);
    /// assert!(SimConfig::from_json(r#"{"faults": [{"route": "nope", "fault": "reset"}]}"#).is_err());
    /// # Ok::<(), actions_testkit::linkedin_sim::SimError>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, SimError> {
        serde_json::from_str(json).map_err(|e| SimError::Config(e.to_string()))
    }
}

/// A running simulator. Dropping it stops the server too; [`LinkedInSim::shutdown`] also waits
/// until every connection is closed.
#[derive(Debug)]
pub struct LinkedInSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl LinkedInSim {
    /// Starts a simulator on an ephemeral loopback port (`127.0.0.1:0`).
    ///
    /// ```
    /// use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actions_testkit::linkedin_sim::SimError> {
    /// let sim = LinkedInSim::start(SimConfig { seed: 9, ..SimConfig::default() }).await?;
    /// assert_ne!(sim.addr().port(), 0);
    /// sim.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a simulator listening on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> Result<Self, SimError> {
        let listener = TcpListener::bind(addr).await.map_err(SimError::Io)?;
        let addr = listener.local_addr().map_err(SimError::Io)?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            Inner::new(config, Instant::now()),
            stopped.clone(),
        ));
        let task = tokio::spawn(server::accept_loop(listener, shared.clone(), stopped));
        Ok(Self {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` — the base of both `api.linkedin.com` and `www.linkedin.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the simulator's state and request log.
    pub fn state(&self) -> SimState {
        self.shared.lock().snapshot()
    }

    /// How many times each conversion `eventId` and each segment member was accepted.
    pub fn dedup_counts(&self) -> DedupCounts {
        self.shared.lock().dedup.clone()
    }

    /// Replaces all fault rules (their counters and time windows start now).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.lock().faults.replace(rules, Instant::now());
    }

    /// Appends a fault rule (its counters and time window start now).
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule, Instant::now());
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.set_faults(Vec::new());
    }

    /// The installed fault rules.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.lock().faults.rules()
    }

    /// Sets the propagation lag of access tokens issued from now on.
    pub fn set_token_propagation(&self, lag: Lag) {
        self.shared.lock().config.token_propagation = lag;
    }

    /// Sets the readiness lag of DMP segments created from now on.
    pub fn set_segment_readiness(&self, lag: Lag) {
        self.shared.lock().config.segment_readiness = lag;
    }

    /// Mints a new access token as the token endpoint would (subject to the propagation lag),
    /// without a request.
    pub fn issue_access_token(&self) -> String {
        self.shared.lock().issue_access_token(Instant::now())
    }

    /// Makes `token` a valid access token (already propagated).
    pub fn add_access_token(&self, token: &str) {
        self.set_token(token, TokenStatus::Active);
    }

    /// Makes `token` answer 401 / `65601` from now on.
    pub fn revoke_access_token(&self, token: &str) {
        self.set_token(token, TokenStatus::Revoked);
    }

    /// Makes `token` answer 401 / `65602` from now on.
    pub fn expire_access_token(&self, token: &str) {
        self.set_token(token, TokenStatus::Expired);
    }

    fn set_token(&self, token: &str, status: TokenStatus) {
        self.shared.lock().access_tokens.insert(
            token.to_owned(),
            TokenEntry::new(status, Instant::now(), Lag::NONE),
        );
    }

    /// Makes the token endpoint accept `refresh_token` from now on (as when the user authorises
    /// the app again), also after [`revoke_refresh_token`](Self::revoke_refresh_token).
    pub fn add_refresh_token(&self, refresh_token: &str) {
        let mut inner = self.shared.lock();
        inner.revoked_refresh_tokens.remove(refresh_token);
        if !inner
            .config
            .refresh_tokens
            .iter()
            .any(|t| t == refresh_token)
        {
            inner.config.refresh_tokens.push(refresh_token.to_owned());
        }
    }

    /// Requests being handled right now (received, not yet answered, reset or hanging): `0`
    /// means everything a client sent before has had its effect.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// How many requests ended each way since the start: by status (`"200"`, `"429"`, …),
    /// `"reset"` (a connection reset) and `"hung"` (a hang). Counts every request, also those
    /// no longer kept in [`SimState::requests`].
    pub fn outcome_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.lock().outcomes.clone()
    }

    /// The access tokens the token endpoint issued for `refresh_token`, oldest first.
    pub fn tokens_issued_for(&self, refresh_token: &str) -> Vec<String> {
        self.shared
            .lock()
            .tokens_issued
            .iter()
            .filter(|t| t.refresh_token == refresh_token)
            .map(|t| t.access_token.clone())
            .collect()
    }

    /// Makes the token endpoint answer `invalid_grant` for `refresh_token` from now on.
    pub fn revoke_refresh_token(&self, refresh_token: &str) {
        self.shared
            .lock()
            .revoked_refresh_tokens
            .insert(refresh_token.to_owned());
    }

    /// Sets (or, with `None`, unpins) "now" for the 90-day conversion check.
    pub fn set_now_ms(&self, now_ms: Option<i64>) {
        self.shared.lock().config.now_ms = now_ms;
    }

    /// Stops accepting, closes every connection (hanging requests included) and waits for the
    /// server task to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LinkedInSim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
