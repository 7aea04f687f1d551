//! The delivery entry points — events in, results and an [`Outcome`] out — and the test entry
//! points that run one action directly.
//!
//! | entry point | subscriptions | OAuth retry | returns |
//! |---|---|---|---|
//! | [`on_event`](DestinationRuntime::on_event) / [`on_batch`](DestinationRuntime::on_batch) | every subscription of the settings | yes | the reference's results |
//! | [`deliver_event`](DestinationRuntime::deliver_event) / [`deliver_batch`](DestinationRuntime::deliver_batch) | the same | yes | a [`Delivery`]: the results and their [`Outcome`] |
//! | [`execute_action`](DestinationRuntime::execute_action) / [`execute_batch_action`](DestinationRuntime::execute_batch_action) | none: one named action with a mapping | no | the results (the reference's `testAction` / `testBatchAction`) |
//!
//! A delivery runtime (relay) uses `deliver_*`; a host that wants the reference's exact results
//! uses `on_*`; test harnesses use `execute_*`.

use serde_json::Value;

use super::DestinationRuntime;
use super::config::EventOptions;
use super::pipeline::{Delivery as DeliveryCall, EventInput, mapping_error};
use crate::action::{MultiStatusNode, ResultEntry};
use crate::destination::Destination;
use crate::error::{Error, codes};
use crate::mapping::Mapping;
use crate::oauth::AuthTokens;
use crate::retry::Outcome;

/// The result of a delivery call and its classification.
#[derive(Debug)]
pub struct Delivery {
    /// What [`on_event`](DestinationRuntime::on_event) / [`on_batch`](DestinationRuntime::on_batch)
    /// return.
    pub result: Result<Vec<ResultEntry>, Error>,
    /// What the delivery runtime should do next ([`Outcome::Partial`] per event for batches).
    pub outcome: Outcome,
}

impl Delivery {
    pub(super) fn of(result: Result<Vec<ResultEntry>, Error>) -> Self {
        let outcome = Outcome::of_result(&result);
        Delivery { result, outcome }
    }
}

impl<D: Destination> DestinationRuntime<D> {
    /// Runs one event through every subscription in `settings` (the reference's `onEvent`).
    pub async fn on_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        self.deliver(EventInput::One(event), settings, opts).await
    }

    /// Runs a batch of events through every subscription in `settings` (the reference's
    /// `onBatch`).
    pub async fn on_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        self.deliver(EventInput::Batch(events), settings, opts)
            .await
    }

    /// [`on_event`](Self::on_event) with the attempt's [`Outcome`].
    ///
    /// ```no_run
    /// use actions_core::prelude::*;
    /// # async fn demo<D: Destination>(runtime: DestinationRuntime<D>, event: Value, settings: Value) {
    /// let delivery = runtime.deliver_event(&event, &settings, &EventOptions::default()).await;
    /// match delivery.outcome {
    ///     Outcome::Delivered | Outcome::Skipped { .. } => { /* acknowledge */ }
    ///     Outcome::Retry { after, .. } => { /* schedule again, not before `after` */ }
    ///     other => { /* pause, refresh-then-retry or dead-letter: {other:?} */ }
    /// }
    /// # }
    /// ```
    pub async fn deliver_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Delivery {
        Delivery::of(self.on_event(event, settings, opts).await)
    }

    /// [`on_batch`](Self::on_batch) with the attempt's [`Outcome`] (per event when the batch
    /// ran).
    pub async fn deliver_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Delivery {
        Delivery::of(self.on_batch(events, settings, opts).await)
    }

    async fn deliver(
        &self,
        input: EventInput<'_>,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        let compiled = self.compiled_settings(settings)?;
        let call = DeliveryCall {
            compiled: &compiled,
            input,
        };
        self.with_auth_retry(&compiled.settings, compiled.auth.clone(), &call, opts)
            .await
    }

    /// Runs one action on one event directly — no subscription check, no OAuth retry — as
    /// the reference's test harness (`testAction`). `settings` are the destination settings
    /// (validated and typed; an `oauth` member supplies tokens unless `auth` is given).
    pub async fn execute_action(
        &self,
        action: &str,
        event: &Value,
        mapping: &Value,
        settings: &Value,
        auth: Option<AuthTokens>,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        let entry = self.entry(action)?;
        let compiled = Mapping::compile(mapping).map_err(mapping_error)?;
        let typed = self.validate_settings(settings)?;
        let auth = auth.unwrap_or_else(|| AuthTokens::from_settings(settings));
        let ctx = self.call_context(&typed, auth, opts);
        self.perform_one(entry, &compiled, mapping, event, &ctx)
            .await
    }

    /// Runs one action on a batch directly (the reference's `testBatchAction`): returns the
    /// per-event results.
    pub async fn execute_batch_action(
        &self,
        action: &str,
        events: &[Value],
        mapping: &Value,
        settings: &Value,
        auth: Option<AuthTokens>,
        opts: &EventOptions,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        let entry = self.entry(action)?;
        let compiled = Mapping::compile(mapping).map_err(mapping_error)?;
        let typed = self.validate_settings(settings)?;
        let auth = auth.unwrap_or_else(|| AuthTokens::from_settings(settings));
        let ctx = self.call_context(&typed, auth, opts);
        let refs: Vec<&Value> = events.iter().collect();
        self.perform_batch(entry, &compiled, mapping, &refs, &ctx)
            .await
    }

    /// The action named `action`, or the reference's "not found" error.
    pub(super) fn entry(&self, action: &str) -> Result<&super::ActionEntry<D::Settings>, Error> {
        self.actions.get(action).ok_or_else(|| {
            Error::integration(
                format!("Action {action} not found."),
                codes::NOT_IMPLEMENTED,
                501,
            )
        })
    }
}
