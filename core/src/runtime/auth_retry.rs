//! The OAuth retry policy every authorized entry point goes through (the reference's C.7 with
//! the token-propagation fix), and the token refresh itself.
//!
//! - A 401 (thrown, or an entry of a multistatus) from an OAuth destination refreshes the tokens
//!   once (single-flight) and runs the call once more; the second answer is the result.
//! - A token-propagation answer ([`ErrorClass::TokenPropagationRetry`]) during delivery refreshes
//!   the tokens — unless the credential was refreshed within
//!   [`RuntimeConfig::propagation_refresh_cooldown`](super::RuntimeConfig) — and ends the call
//!   with `RetryableError` 503 naming the cause, without a second call: the delivery runtime
//!   retries later ([`Outcome::RefreshThenRetry`](crate::retry::Outcome::RefreshThenRetry)).
//! - A failed refresh is the error that surfaces.

use std::future::Future;

use super::DestinationRuntime;
use super::config::EventOptions;
use crate::action::{ResultEntry, Services};
use crate::destination::{AuthContext, Destination};
use crate::error::{Error, ErrorClass, codes};
use crate::oauth::{AuthTokens, RefreshedTokens};
use crate::request::RequestClient;

/// The total number of tries of an authorized call (the first and the one after a refresh).
const MAX_TRIES: usize = 2;

/// What one try of a call runs with: the typed settings, the tokens, the services and a request
/// client carrying the destination's request options for those tokens.
pub(super) struct CallContext<'a, S> {
    pub(super) settings: &'a S,
    pub(super) auth: AuthTokens,
    pub(super) services: Services,
    pub(super) client: RequestClient,
}

/// A call that runs under the OAuth retry policy.
pub(super) trait AuthorizedCall<D: Destination>: Sync {
    /// What the call returns.
    type Output: Send;
    /// Whether a token-propagation answer refreshes and becomes a retryable 503 (delivery), or
    /// surfaces as it is (operations outside actions, as in the reference).
    const HANDLES_PROPAGATION: bool;

    /// Runs one try.
    fn run(
        &self,
        runtime: &DestinationRuntime<D>,
        ctx: &CallContext<'_, D::Settings>,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send;

    /// Whether a successful output still reports a 401 (a multistatus entry) that asks for a
    /// refresh.
    fn asks_for_refresh(_output: &Self::Output) -> bool {
        false
    }
}

/// Whether any multistatus entry of a result is a 401.
pub(super) fn has_401_entry(results: &[ResultEntry]) -> bool {
    results
        .iter()
        .filter_map(|r| r.multistatus.as_ref())
        .flatten()
        .any(|n| n.status() == 401)
}

impl<D: Destination> DestinationRuntime<D> {
    /// The context of one try with `auth`, outside any retry (hooks, dynamic fields, test
    /// authentication and the test entry points use it directly).
    pub(super) fn call_context<'a>(
        &self,
        settings: &'a D::Settings,
        auth: AuthTokens,
        opts: &EventOptions,
    ) -> CallContext<'a, D::Settings> {
        CallContext {
            settings,
            client: self.client(Some(settings), &auth, &opts.features, opts.capture.as_ref()),
            auth,
            services: self.services(opts),
        }
    }

    /// Runs `call` under the OAuth retry policy (see the module docs).
    pub(super) async fn with_auth_retry<C: AuthorizedCall<D>>(
        &self,
        settings: &D::Settings,
        auth: AuthTokens,
        call: &C,
        opts: &EventOptions,
    ) -> Result<C::Output, Error> {
        let oauth = self.definition.scheme.is_oauth();
        let mut auth = auth;
        let mut tries = 1;
        loop {
            let ctx = self.call_context(settings, auth.clone(), opts);
            let result = call.run(self, &ctx).await;
            let refresh = match &result {
                Ok(output) => oauth && tries < MAX_TRIES && C::asks_for_refresh(output),
                Err(e)
                    if C::HANDLES_PROPAGATION && e.class() == ErrorClass::TokenPropagationRetry =>
                {
                    let cooldown = self.config.propagation_refresh_cooldown;
                    if oauth && !self.refresher.refreshed_within(&auth, cooldown) {
                        self.refresh_tokens(settings, &auth, &ctx.services, opts)
                            .await?;
                    }
                    return Err(Error::retryable(e.message(), 503)
                        .with_cause(ErrorClass::TokenPropagationRetry));
                }
                Err(e) => oauth && tries < MAX_TRIES && e.status() == Some(401),
            };
            if !refresh {
                return result;
            }
            auth = self
                .refresh_tokens(settings, &auth, &ctx.services, opts)
                .await?;
            tries += 1;
        }
    }

    /// Refreshes the tokens that failed (single-flight), calls `on_token_refresh` when this call
    /// performed the refresh, and returns the new tokens. A failed refresh is the error.
    pub(super) async fn refresh(
        &self,
        settings: &D::Settings,
        stale: &AuthTokens,
        services: &Services,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        let (result, performed) = self
            .refresher
            .refresh(stale, || async {
                let once = self.refresh_once(settings, stale, services, opts);
                match &self.config.refresh_coordinator {
                    Some(c) => c.refresh(stale, Box::pin(once)).await,
                    None => once.await,
                }
            })
            .await;
        let tokens = result?;
        if performed && let Some(cb) = &opts.on_token_refresh {
            cb(&tokens);
        }
        Ok(tokens)
    }

    /// [`refresh`](Self::refresh), returning the stale tokens updated with the new ones.
    async fn refresh_tokens(
        &self,
        settings: &D::Settings,
        stale: &AuthTokens,
        services: &Services,
        opts: &EventOptions,
    ) -> Result<AuthTokens, Error> {
        let tokens = self.refresh(settings, stale, services, opts).await?;
        let mut auth = stale.clone();
        auth.apply(&tokens);
        Ok(auth)
    }

    /// One refresh request through the destination's `refresh_access_token`.
    async fn refresh_once(
        &self,
        settings: &D::Settings,
        stale: &AuthTokens,
        services: &Services,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        if !self.definition.scheme.is_oauth() {
            return Err(Error::integration(
                "refreshAccessToken is only valid with oauth2 authentication scheme",
                codes::NOT_IMPLEMENTED,
                501,
            ));
        }
        // The refresh request carries the destination's headers but no access token.
        let no_token = AuthTokens::default();
        let client = self.client(
            Some(settings),
            &no_token,
            &opts.features,
            opts.capture.as_ref(),
        );
        let refreshed = self
            .destination
            .refresh_access_token(
                &client,
                AuthContext {
                    settings,
                    auth: stale,
                    services,
                },
            )
            .await?;
        refreshed.ok_or_else(|| {
            Error::invalid_authentication_with_code(
                "Failed to refresh access token",
                codes::OAUTH_REFRESH_FAILED,
            )
        })
    }
}
