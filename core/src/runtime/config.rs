//! What a runtime is built with ([`RuntimeConfig`]) and what each call may add
//! ([`EventOptions`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::context::{Clock, Env, Features, MemoryState, ProcessEnv, StateContext, SystemClock};
use crate::oauth::RefreshedTokens;
use crate::request::{Capture, HttpClient, OriginOverrides};

/// Called with new tokens after a refresh so the host can persist them.
pub type TokenRefreshCallback = Arc<dyn Fn(&RefreshedTokens) + Send + Sync>;

/// Per-call options (the reference's `OnEventOptions`).
#[derive(Clone, Default)]
pub struct EventOptions {
    /// Feature flags.
    pub features: Features,
    /// Called after a token refresh.
    pub on_token_refresh: Option<TokenRefreshCallback>,
    /// Records every HTTP exchange of the call.
    pub capture: Option<Capture>,
    /// Replaces the runtime's state cache for this call.
    pub state: Option<Arc<dyn StateContext>>,
}

impl fmt::Debug for EventOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventOptions")
            .field("features", &self.features)
            .field("on_token_refresh", &self.on_token_refresh.is_some())
            .field("capture", &self.capture.is_some())
            .finish()
    }
}

/// Runtime configuration: injectable clock, environment, state store, HTTP client, origin
/// overrides, and the OAuth pipeline's refresh cooldown.
///
/// ```
/// use std::time::Duration;
/// use actions_core::RuntimeConfig;
/// // A delivery runtime that pauses 5 s after a "token not propagated yet" answer lets the
/// // runtime refresh at most once per credential in that time.
/// let config = RuntimeConfig {
///     propagation_refresh_cooldown: Duration::from_secs(5),
///     ..RuntimeConfig::default()
/// };
/// assert_eq!(config.propagation_refresh_cooldown, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct RuntimeConfig {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Environment variables.
    pub env: Arc<dyn Env>,
    /// The request/state cache shared by all calls.
    pub state: Arc<dyn StateContext>,
    /// Origin overrides (off unless set).
    pub origins: OriginOverrides,
    /// The HTTP client (a new pooled one when `None`).
    pub http: Option<HttpClient>,
    /// After a token-propagation answer (a fresh token not accepted everywhere yet, e.g.
    /// LinkedIn's 65601) the OAuth pipeline refreshes the credential only if no refresh of it
    /// finished within this time; otherwise it ends the call with the same retryable error
    /// without refreshing. A fresh token that has not propagated answers 65601 itself, so
    /// refreshing on every such answer under concurrency keeps resetting the wait. Zero (the
    /// default) refreshes on every such answer, as the reference does.
    pub propagation_refresh_cooldown: Duration,
    /// Coordinates token refreshes with other processes sharing the credentials (`None`: this
    /// process refreshes on its own).
    pub refresh_coordinator: Option<Arc<dyn crate::oauth::RefreshCoordinator>>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        RuntimeConfig {
            state: Arc::new(MemoryState::with_clock(clock.clone())),
            clock,
            env: Arc::new(ProcessEnv),
            origins: OriginOverrides::default(),
            http: None,
            propagation_refresh_cooldown: Duration::ZERO,
            refresh_coordinator: None,
        }
    }
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("origins", &self.origins)
            .field(
                "propagation_refresh_cooldown",
                &self.propagation_refresh_cooldown,
            )
            .field("refresh_coordinator", &self.refresh_coordinator.is_some())
            .finish_non_exhaustive()
    }
}
