//! The `streamConversion` action: sends conversion events to a LinkedIn conversion rule, one at a
//! time or in `BATCH_CREATE` requests with a result per event; its `onMappingSave` hook creates,
//! verifies or updates the conversion rule and associates campaigns; its dynamic fields list ad
//! accounts, conversion rules and campaigns.
//!
//! | to change … | open |
//! |---|---|
//! | a payload field or a hook input (schema, defaults) | [`payload`] |
//! | the validation of an event, the body of a conversion event | [`element`] |
//! | single and batch sending, per-event batch results | [`perform`] |
//! | rule creation / verification / update, campaign association | [`hook`] |
//! | the ad account, rule and campaign lists | [`dynamic_fields`] |
//! | a URL, header or request body | [`crate::api`] |

use actions_core::prelude::*;

pub mod dynamic_fields;
pub mod element;
pub mod hook;
pub mod payload;
pub mod perform;

pub use element::{conversion_element, validate};
pub use hook::on_mapping_save_hook;
pub use payload::{ConversionValue, OnMappingSaveInputs, StreamConversionPayload, UserInfo};
pub use perform::conversion_rule_id;

use crate::settings::Settings;

/// The action key.
pub const ACTION_KEY: &str = "streamConversion";
/// The hook key.
pub const HOOK_KEY: &str = "onMappingSave";

/// The `streamConversion` action.
///
/// ```
/// use actions_core::prelude::*;
/// use linkedin_conversions::{Settings, StreamConversion};
///
/// let definition = Action::<Settings>::definition(&StreamConversion);
/// assert_eq!(definition.key, "streamConversion");
/// assert_eq!(definition.default_subscription.as_deref(), Some("type = \"track\""));
/// assert!(Action::<Settings>::supports_batch(&StreamConversion));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamConversion;

#[async_trait]
impl Action<Settings> for StreamConversion {
    type Payload = StreamConversionPayload;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new(
            ACTION_KEY,
            "Stream Conversion Event",
            "Directly streams conversion events to a specific conversion rule.",
        )
        .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, StreamConversionPayload>,
    ) -> Result<Option<Value>, Error> {
        perform::perform(client, input).await
    }

    fn supports_batch(&self) -> bool {
        true
    }

    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<StreamConversionPayload>>,
    ) -> Result<BatchResponse, Error> {
        perform::perform_batch(client, input).await
    }

    fn hooks(&self) -> Vec<ActionHookDefinition> {
        // The derivation is checked by the crate's tests; a failure here would only hide the
        // hook, never fail events.
        on_mapping_save_hook().into_iter().collect()
    }

    async fn perform_hook(
        &self,
        client: &RequestClient,
        hook: &str,
        input: HookInput<'_, Settings>,
    ) -> Result<HookResult, Error> {
        if hook != HOOK_KEY {
            return Err(Error::integration(
                format!("Missing implementation for hook: {hook}."),
                codes::NOT_IMPLEMENTED,
                501,
            ));
        }
        hook::on_mapping_save(client, input).await
    }

    fn dynamic_fields(&self) -> Vec<String> {
        dynamic_fields::DYNAMIC_FIELDS
            .iter()
            .map(|k| k.to_string())
            .collect()
    }

    async fn dynamic_field(
        &self,
        client: &RequestClient,
        key: &str,
        input: DynamicFieldInput<'_, Settings>,
    ) -> Result<DynamicFieldResponse, Error> {
        Ok(dynamic_fields::dynamic_field(client, key, input).await)
    }
}
