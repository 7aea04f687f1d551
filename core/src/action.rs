//! Actions: the [`Action`] trait a destination author implements, the data handed to `perform`
//! ([`ExecuteInput`]), batch results ([`MultiStatusResponse`], [`BatchResponse`]), hooks and
//! dynamic fields.
//!
//! A payload is a typed Rust struct (`Deserialize + JsonSchema`); its fields — labels,
//! descriptions, defaults, requirements — are derived from the type by
//! [`fields_of`](crate::fields::fields_of()), so there is one source of truth.
//!
//! ```
//! use actions_core::prelude::*;
//! use serde::Deserialize;
//!
//! /// The payload of a "send event" action.
//! #[derive(Deserialize, JsonSchema)]
//! struct SendEvent {
//!     /// The event name.
//!     #[schemars(title = "Event name", extend("x-field" = {"default": {"@path": "$.event"}}))]
//!     name: String,
//! }
//!
//! struct Send;
//!
//! #[async_trait]
//! impl Action<NoSettings> for Send {
//!     type Payload = SendEvent;
//!     fn definition(&self) -> ActionDefinition {
//!         ActionDefinition::new("sendEvent", "Send Event", "Sends an event.")
//!             .default_subscription("type = \"track\"")
//!     }
//!     async fn perform(
//!         &self,
//!         client: &RequestClient,
//!         input: ExecuteInput<'_, NoSettings, SendEvent>,
//!     ) -> Result<Option<Value>, Error> {
//!         let response = client
//!             .post("https://api.example.com/events")
//!             .json(json!({"name": input.payload.name}))
//!             .send()
//!             .await?;
//!         Ok(Some(response.result_data()))
//!     }
//! }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::context::{Clock, Env, Features, StateContext};
use crate::error::{Error, error_code_from_http_status};
use crate::fields::{Fields, fields_of};
use crate::oauth::AuthTokens;
use crate::request::{RequestClient, Response};

/// Sync modes (`__segment_internal_sync_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Add records.
    Add,
    /// Update records.
    Update,
    /// Add or update.
    Upsert,
    /// Delete records.
    Delete,
    /// Mirror the source.
    Mirror,
}

impl SyncMode {
    /// Parses the reference's strings.
    pub fn parse(s: &str) -> Option<SyncMode> {
        match s {
            "add" => Some(SyncMode::Add),
            "update" => Some(SyncMode::Update),
            "upsert" => Some(SyncMode::Upsert),
            "delete" => Some(SyncMode::Delete),
            "mirror" => Some(SyncMode::Mirror),
            _ => None,
        }
    }
}

/// An action's sync mode definition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncModeDefinition {
    /// The default mode.
    pub default: SyncMode,
    /// UI label.
    pub label: String,
    /// UI description.
    pub description: String,
    /// The modes offered.
    pub choices: Vec<(String, SyncMode)>,
}

/// An action's metadata (the reference's `ActionDefinition` minus fields and functions).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionDefinition {
    /// The action key ("partnerAction"), e.g. `streamConversion`.
    pub key: String,
    /// Display title.
    pub title: String,
    /// Display description.
    pub description: String,
    /// FQL prefilled when a user adds the action.
    pub default_subscription: Option<String>,
    /// Hidden from the UI.
    pub hidden: bool,
    /// `cloud` (default) or `web`.
    pub platform: String,
    /// Sync mode support.
    pub sync_mode: Option<SyncModeDefinition>,
}

impl ActionDefinition {
    /// A cloud action with a key, title and description.
    pub fn new(key: &str, title: &str, description: &str) -> Self {
        ActionDefinition {
            key: key.to_string(),
            title: title.to_string(),
            description: description.to_string(),
            default_subscription: None,
            hidden: false,
            platform: "cloud".to_string(),
            sync_mode: None,
        }
    }

    /// Sets the default subscription.
    pub fn default_subscription(mut self, fql: &str) -> Self {
        self.default_subscription = Some(fql.to_string());
        self
    }

    /// Hides the action.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Declares sync mode support.
    pub fn sync_mode(mut self, def: SyncModeDefinition) -> Self {
        self.sync_mode = Some(def);
        self
    }
}

/// Services available to every destination call: feature flags, the state cache, the clock and
/// the environment.
#[derive(Clone)]
pub struct Services {
    /// Feature flags.
    pub features: Features,
    /// The request/state cache.
    pub state: Arc<dyn StateContext>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Environment variables.
    pub env: Arc<dyn Env>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("features", &self.features)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Audience membership of the event(s) (reference C.9): `Some(true)` add, `Some(false)`
/// remove, `None` unknown.
pub type Membership = Option<bool>;

/// What `perform` / `perform_batch` receive.
pub struct ExecuteInput<'a, S, P> {
    /// The validated, typed destination settings.
    pub settings: &'a S,
    /// The validated, typed payload (or payloads for a batch).
    pub payload: P,
    /// The validated payload(s) as JSON, in the same order as `payload`.
    pub payload_json: &'a [Value],
    /// The OAuth tokens of this attempt.
    pub auth: &'a AuthTokens,
    /// Features, state, clock, environment.
    pub services: &'a Services,
    /// The subscription's raw mapping (hook outputs and internal keys live there).
    pub raw_mapping: &'a Value,
    /// Audience membership, one per payload.
    pub audience_membership: Vec<Membership>,
    /// The sync mode, when the action supports it and the mapping sets it.
    pub sync_mode: Option<SyncMode>,
    /// The matching key (`__segment_internal_matching_key`).
    pub matching_key: Option<String>,
}

impl<S, P> ExecuteInput<'_, S, P> {
    /// The saved outputs of a hook (`mapping.<hook>`, e.g. `onMappingSave`:
    /// `{inputs, outputs}`), as the reference's `hookOutputs[hook]`.
    pub fn hook_output(&self, hook: &str) -> Option<&Value> {
        self.raw_mapping.get(hook)
    }
}

/// A response entry a destination returns for one payload of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum MultiStatusEntry {
    /// Delivered.
    Success {
        /// Status (2xx).
        status: u16,
        /// What was sent for this payload.
        sent: Option<Value>,
        /// What the partner answered for it.
        body: Option<Value>,
    },
    /// Failed.
    Error {
        /// Status.
        status: u16,
        /// Error type (a code); inferred from the status when absent.
        errortype: Option<String>,
        /// Message.
        errormessage: String,
        /// What was sent for this payload.
        sent: Option<Value>,
        /// What the partner answered for it.
        body: Option<Value>,
    },
}

impl MultiStatusEntry {
    /// The status.
    pub fn status(&self) -> u16 {
        match self {
            MultiStatusEntry::Success { status, .. } | MultiStatusEntry::Error { status, .. } => {
                *status
            }
        }
    }
}

/// The reference's `MultiStatusResponse` builder: one entry per (valid) payload, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultiStatusResponse {
    entries: Vec<Option<MultiStatusEntry>>,
}

impl MultiStatusResponse {
    /// Empty.
    pub fn new() -> Self {
        MultiStatusResponse::default()
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a success.
    pub fn push_success(&mut self, status: u16, sent: Option<Value>, body: Option<Value>) {
        self.entries
            .push(Some(MultiStatusEntry::Success { status, sent, body }));
    }

    /// Appends an error (errortype inferred from the status when `None`).
    pub fn push_error(
        &mut self,
        status: u16,
        errortype: Option<String>,
        errormessage: impl Into<String>,
        sent: Option<Value>,
        body: Option<Value>,
    ) {
        self.entries.push(Some(MultiStatusEntry::Error {
            status,
            errortype,
            errormessage: errormessage.into(),
            sent,
            body,
        }));
    }

    /// Sets the entry at `index`, growing the list with empty slots as needed.
    pub fn set_at(&mut self, index: usize, entry: MultiStatusEntry) {
        if self.entries.len() <= index {
            self.entries.resize(index + 1, None);
        }
        self.entries[index] = Some(entry);
    }

    /// Clears the entry at `index`.
    pub fn unset_at(&mut self, index: usize) {
        if let Some(slot) = self.entries.get_mut(index) {
            *slot = None;
        }
    }

    /// The entry at `index`.
    pub fn get(&self, index: usize) -> Option<&MultiStatusEntry> {
        self.entries.get(index).and_then(Option::as_ref)
    }

    /// Takes the entry at `index` out, leaving its slot empty (no copy of its payload and body).
    pub fn take(&mut self, index: usize) -> Option<MultiStatusEntry> {
        self.entries.get_mut(index).and_then(Option::take)
    }

    /// Whether the entry at `index` is a success.
    pub fn is_success_at(&self, index: usize) -> bool {
        matches!(self.get(index), Some(MultiStatusEntry::Success { .. }))
    }

    /// Whether the entry at `index` is an error.
    pub fn is_error_at(&self, index: usize) -> bool {
        matches!(self.get(index), Some(MultiStatusEntry::Error { .. }))
    }

    /// Every slot.
    pub fn entries(&self) -> &[Option<MultiStatusEntry>] {
        &self.entries
    }

    /// How many successes.
    pub fn success_count(&self) -> usize {
        (0..self.len()).filter(|i| self.is_success_at(*i)).count()
    }

    /// How many errors.
    pub fn error_count(&self) -> usize {
        (0..self.len()).filter(|i| self.is_error_at(*i)).count()
    }
}

/// What `perform_batch` returns (reference B.10).
#[derive(Clone, Debug)]
pub enum BatchResponse {
    /// Per-payload entries, aligned with the payloads.
    MultiStatus(MultiStatusResponse),
    /// One response for the whole batch: every payload gets its status and body.
    Response(Response),
    /// A returned (not thrown) HTTP error: every payload gets its status and message.
    HttpError(Error),
    /// Anything else: every payload gets 200 and `{}`.
    Nothing,
}

/// Who rejected an event in a multistatus result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ErrorReporter {
    /// The framework (validation, subscription).
    #[serde(rename = "INTEGRATIONS")]
    Integrations,
    /// The partner API.
    #[serde(rename = "DESTINATION")]
    Destination,
}

/// One event's result in a batch (`ResultMultiStatusNode`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MultiStatusNode {
    /// Delivered.
    Success {
        /// Status.
        status: u16,
        /// What was sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        sent: Option<Value>,
        /// What came back.
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
    /// Rejected.
    Error {
        /// Status.
        status: u16,
        /// Error type (code).
        errortype: String,
        /// Message.
        errormessage: String,
        /// What was sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        sent: Option<Value>,
        /// What came back.
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        /// Who rejected it.
        errorreporter: ErrorReporter,
    },
}

impl MultiStatusNode {
    /// The status.
    pub fn status(&self) -> u16 {
        match self {
            MultiStatusNode::Success { status, .. } | MultiStatusNode::Error { status, .. } => {
                *status
            }
        }
    }

    /// A framework rejection (400 `PAYLOAD_VALIDATION_FAILED`, reporter INTEGRATIONS).
    pub fn rejected(message: impl Into<String>) -> Self {
        MultiStatusNode::Error {
            status: 400,
            errortype: crate::error::codes::PAYLOAD_VALIDATION_FAILED.to_string(),
            errormessage: message.into(),
            sent: None,
            body: None,
            errorreporter: ErrorReporter::Integrations,
        }
    }

    /// The framework's node for a destination entry: error entries get reporter DESTINATION
    /// when they carry `sent` or `body`, else INTEGRATIONS; a missing errortype is inferred.
    pub fn from_entry(entry: MultiStatusEntry) -> Self {
        match entry {
            MultiStatusEntry::Success { status, sent, body } => {
                MultiStatusNode::Success { status, sent, body }
            }
            MultiStatusEntry::Error {
                status,
                errortype,
                errormessage,
                sent,
                body,
            } => {
                let errorreporter = if sent.is_some() || body.is_some() {
                    ErrorReporter::Destination
                } else {
                    ErrorReporter::Integrations
                };
                MultiStatusNode::Error {
                    status,
                    errortype: errortype
                        .unwrap_or_else(|| error_code_from_http_status(status).to_string()),
                    errormessage,
                    sent,
                    body,
                    errorreporter,
                }
            }
        }
    }
}

/// One entry of a run's result list (the reference's `Result`): `{output}`, `{data, output}` or
/// `{multistatus}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResultEntry {
    /// What happened (`Mappings resolved`, `Payload validated`, `Action Executed`,
    /// `not subscribed`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// What `perform` returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Per-event results of a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multistatus: Option<Vec<MultiStatusNode>>,
}

impl ResultEntry {
    /// `{output}`.
    pub fn output(text: &str) -> Self {
        ResultEntry {
            output: Some(text.to_string()),
            data: None,
            multistatus: None,
        }
    }

    /// `{multistatus}`.
    pub fn multistatus(nodes: Vec<MultiStatusNode>) -> Self {
        ResultEntry {
            output: None,
            data: None,
            multistatus: Some(nodes),
        }
    }
}

/// A hook's output type (`outputTypes`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HookOutputType {
    /// Label.
    pub label: String,
    /// Description.
    pub description: String,
    /// Type name (`string`, `number`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether always present.
    pub required: bool,
}

/// An action hook (`onMappingSave`, `retlOnMappingSave`).
#[derive(Clone, Debug)]
pub struct ActionHookDefinition {
    /// `onMappingSave` or `retlOnMappingSave`.
    pub key: String,
    /// Label.
    pub label: String,
    /// Description.
    pub description: String,
    /// The hook's input fields (validated before the hook runs).
    pub input_fields: Fields,
    /// What the hook saves.
    pub output_types: IndexMap<String, HookOutputType>,
}

/// What a hook receives.
pub struct HookInput<'a, S> {
    /// Validated settings.
    pub settings: &'a S,
    /// The validated hook inputs.
    pub hook_inputs: &'a Value,
    /// Previously saved outputs (when updating).
    pub hook_outputs: Option<&'a Value>,
    /// Auth tokens.
    pub auth: &'a AuthTokens,
    /// Services.
    pub services: &'a Services,
}

/// A hook's error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HookError {
    /// Message.
    pub message: String,
    /// Code.
    pub code: String,
}

/// What a hook returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookResult {
    /// Shown to the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_message: Option<String>,
    /// Saved into the mapping under the hook's key (`outputs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_data: Option<Value>,
    /// A failure the hook reports without throwing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<HookError>,
}

/// A choice offered by a dynamic field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DynamicChoice {
    /// Label.
    pub label: String,
    /// Value (kept as the partner returned it, e.g. a number).
    pub value: Value,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A dynamic field's error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DynamicFieldError {
    /// Message.
    pub message: String,
    /// Code.
    pub code: String,
}

/// What a dynamic field returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicFieldResponse {
    /// The choices.
    pub choices: Vec<DynamicChoice>,
    /// The next page token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
    /// An error reported without throwing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DynamicFieldError>,
}

/// What a dynamic field receives.
pub struct DynamicFieldInput<'a, S> {
    /// Validated settings.
    pub settings: &'a S,
    /// The (partial) mapping payload the UI has so far.
    pub payload: &'a Value,
    /// The page token.
    pub page: Option<&'a str>,
    /// Hook inputs (for hook input fields).
    pub hook_inputs: &'a Value,
    /// The array index of `arr.[N].sub` lookups.
    pub selected_array_index: Option<usize>,
    /// The key of `obj.key` lookups.
    pub selected_key: Option<&'a str>,
    /// A search query.
    pub query: Option<&'a str>,
    /// Auth tokens.
    pub auth: &'a AuthTokens,
    /// Services.
    pub services: &'a Services,
}

/// An action of a destination with settings `S`.
#[async_trait]
pub trait Action<S: Send + Sync + 'static>: Send + Sync + 'static {
    /// The typed payload; its fields are derived from the type.
    type Payload: DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static;

    /// Key, title, description, default subscription, …
    fn definition(&self) -> ActionDefinition;

    /// The payload's fields (derived from [`Action::Payload`]).
    fn fields(&self) -> Result<Fields, Error> {
        fields_of::<Self::Payload>().map_err(|e| {
            Error::plain(format!(
                "the fields of action {:?} could not be derived: {e}",
                self.definition().key
            ))
        })
    }

    /// Sends one event.
    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, S, Self::Payload>,
    ) -> Result<Option<Value>, Error>;

    /// Whether [`Action::perform_batch`] is implemented.
    fn supports_batch(&self) -> bool {
        false
    }

    /// Sends a batch.
    async fn perform_batch(
        &self,
        _client: &RequestClient,
        _input: ExecuteInput<'_, S, Vec<Self::Payload>>,
    ) -> Result<BatchResponse, Error> {
        Err(not_batchable())
    }

    /// The action's hooks.
    fn hooks(&self) -> Vec<ActionHookDefinition> {
        Vec::new()
    }

    /// Runs a hook.
    async fn perform_hook(
        &self,
        _client: &RequestClient,
        hook: &str,
        _input: HookInput<'_, S>,
    ) -> Result<HookResult, Error> {
        Err(Error::integration(
            format!("Missing implementation for hook: {hook}."),
            crate::error::codes::NOT_IMPLEMENTED,
            501,
        ))
    }

    /// The keys of the dynamic fields this action serves (`field`, `obj.__keys__`, …).
    fn dynamic_fields(&self) -> Vec<String> {
        Vec::new()
    }

    /// Fetches a dynamic field's choices; `key` is one of [`Action::dynamic_fields`].
    async fn dynamic_field(
        &self,
        _client: &RequestClient,
        key: &str,
        _input: DynamicFieldInput<'_, S>,
    ) -> Result<DynamicFieldResponse, Error> {
        Ok(missing_dynamic_field(key))
    }
}

/// `IntegrationError('This action does not support batched requests.', 'NotImplemented', 501)`.
pub fn not_batchable() -> Error {
    Error::integration(
        "This action does not support batched requests.",
        crate::error::codes::NOT_IMPLEMENTED,
        501,
    )
}

/// The reference's answer for an unknown dynamic field.
pub fn missing_dynamic_field(key: &str) -> DynamicFieldResponse {
    DynamicFieldResponse {
        choices: Vec::new(),
        next_page: Some(String::new()),
        error: Some(DynamicFieldError {
            message: format!("No dynamic field named {key} found."),
            code: "404".to_string(),
        }),
    }
}

/// Builds a JSON object from `(key, value)` pairs, skipping `None` values (the reference's
/// "undefined keys are omitted" for request bodies).
pub fn object_without_nones<'a>(
    pairs: impl IntoIterator<Item = (&'a str, Option<Value>)>,
) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}
