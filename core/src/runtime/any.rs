//! [`AnyRuntime`]: a runtime with its destination type erased, for registries, the command
//! line and the delivery runtime.

use serde_json::Value;

use super::DestinationRuntime;
use super::config::EventOptions;
use super::delivery::Delivery;
use crate::action::{
    ActionDefinition, ActionHookDefinition, DynamicFieldResponse, HookResult, MultiStatusNode,
    ResultEntry,
};
use crate::destination::{Destination, DestinationDefinition};
use crate::error::Error;
use crate::fields::Fields;
use crate::oauth::RefreshedTokens;

/// A runtime with its destination type erased (JSON in, JSON out), for registries, the
/// command line and the delivery runtime. Implemented by every [`DestinationRuntime`].
#[async_trait::async_trait]
pub trait AnyRuntime: Send + Sync {
    /// The destination's definition.
    fn definition(&self) -> &DestinationDefinition;
    /// The settings fields.
    fn settings_fields(&self) -> &Fields;
    /// Every action's definition and fields.
    fn action_list(&self) -> Vec<(ActionDefinition, Fields)>;
    /// An action's hooks.
    fn hooks_of(&self, action: &str) -> Vec<ActionHookDefinition>;
    /// See [`DestinationRuntime::default_subscription_settings`].
    fn default_subscription_settings(&self, action: &str) -> Option<Value>;
    /// See [`DestinationRuntime::on_event`].
    async fn on_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error>;
    /// See [`DestinationRuntime::on_batch`].
    async fn on_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error>;
    /// See [`DestinationRuntime::deliver_event`].
    async fn deliver_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Delivery {
        Delivery::of(self.on_event(event, settings, opts).await)
    }
    /// See [`DestinationRuntime::deliver_batch`].
    async fn deliver_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Delivery {
        Delivery::of(self.on_batch(events, settings, opts).await)
    }
    /// See [`DestinationRuntime::execute_action`].
    async fn execute_action(
        &self,
        action: &str,
        event: &Value,
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error>;
    /// See [`DestinationRuntime::execute_batch_action`].
    async fn execute_batch_action(
        &self,
        action: &str,
        events: &[Value],
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<MultiStatusNode>, Error>;
    /// See [`DestinationRuntime::execute_hook`].
    async fn execute_hook(
        &self,
        action: &str,
        hook: &str,
        settings: &Value,
        inputs: &Value,
        outputs: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<HookResult, Error>;
    /// See [`DestinationRuntime::execute_dynamic_field`].
    async fn execute_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error>;
    /// See [`DestinationRuntime::execute_hook_dynamic_field`].
    async fn execute_hook_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        hook_inputs: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error>;
    /// See [`DestinationRuntime::test_authentication`].
    async fn test_authentication(&self, settings: &Value, opts: &EventOptions)
    -> Result<(), Error>;
    /// See [`DestinationRuntime::refresh_access_token`].
    async fn refresh_access_token(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error>;
}

#[async_trait::async_trait]
impl<D: Destination> AnyRuntime for DestinationRuntime<D> {
    fn definition(&self) -> &DestinationDefinition {
        DestinationRuntime::definition(self)
    }
    fn settings_fields(&self) -> &Fields {
        DestinationRuntime::settings_fields(self)
    }
    fn action_list(&self) -> Vec<(ActionDefinition, Fields)> {
        self.actions()
            .map(|(d, f)| (d.clone(), f.clone()))
            .collect()
    }
    fn hooks_of(&self, action: &str) -> Vec<ActionHookDefinition> {
        self.action_hooks(action).to_vec()
    }
    fn default_subscription_settings(&self, action: &str) -> Option<Value> {
        DestinationRuntime::default_subscription_settings(self, action)
    }
    async fn on_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        DestinationRuntime::on_event(self, event, settings, opts).await
    }
    async fn on_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        DestinationRuntime::on_batch(self, events, settings, opts).await
    }
    async fn execute_action(
        &self,
        action: &str,
        event: &Value,
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        DestinationRuntime::execute_action(self, action, event, mapping, settings, None, opts).await
    }
    async fn execute_batch_action(
        &self,
        action: &str,
        events: &[Value],
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        DestinationRuntime::execute_batch_action(
            self, action, events, mapping, settings, None, opts,
        )
        .await
    }
    async fn execute_hook(
        &self,
        action: &str,
        hook: &str,
        settings: &Value,
        inputs: &Value,
        outputs: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<HookResult, Error> {
        DestinationRuntime::execute_hook(self, action, hook, settings, inputs, outputs, opts).await
    }
    async fn execute_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        DestinationRuntime::execute_dynamic_field(self, action, field, settings, payload, opts)
            .await
    }
    async fn execute_hook_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        hook_inputs: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        DestinationRuntime::execute_hook_dynamic_field(
            self,
            action,
            field,
            settings,
            payload,
            hook_inputs,
            opts,
        )
        .await
    }
    async fn test_authentication(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<(), Error> {
        DestinationRuntime::test_authentication(self, settings, opts).await
    }
    async fn refresh_access_token(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        DestinationRuntime::refresh_access_token(self, settings, opts).await
    }
}
