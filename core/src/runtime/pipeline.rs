//! One attempt at delivering events: for every subscription of the settings, trigger match →
//! mapping → remove empty values → validate → `perform` / `perform_batch`, and for batches the
//! realignment of the partner's answers with the events (reference C.2–C.4, B.10).

use futures::future::join_all;
use serde_json::{Map, Value};

use super::ActionEntry;
use super::DestinationRuntime;
use super::auth_retry::{AuthorizedCall, CallContext, has_401_entry};
use super::settings::{CompiledSettings, CompiledSubscription, EXEMPT, Trigger, schema_error};
use crate::action::{
    BatchResponse, ErrorReporter, ExecuteInput, MultiStatusNode, ResultEntry, SyncMode,
    not_batchable,
};
use crate::audience::resolve_audience_membership;
use crate::destination::Destination;
use crate::error::{Error, ValidationIssue, codes};
use crate::fields::SchemaValidationError;
use crate::mapping::{Mapping, MappingError};

/// Converts a mapping error into the framework error (validation → `ValidationError` 400).
pub fn mapping_error(e: MappingError) -> Error {
    match e.class() {
        "ValidationError" => {
            let issues = e
                .issues()
                .iter()
                .map(|i| ValidationIssue {
                    pointer: i.pointer(),
                    message: i.message().to_string(),
                })
                .collect();
            Error::mapping_validation(e.message(), issues)
        }
        _ => Error::mapping(e.message()),
    }
}

/// The events one delivery call works on.
#[derive(Clone, Copy)]
pub(super) enum EventInput<'a> {
    /// One event (`on_event`).
    One(&'a Value),
    /// A batch (`on_batch`).
    Batch(&'a [Value]),
}

/// Delivering events through every subscription of one compiled settings object: the call the
/// delivery entry points run under the OAuth retry policy.
pub(super) struct Delivery<'a, S> {
    pub(super) compiled: &'a CompiledSettings<S>,
    pub(super) input: EventInput<'a>,
}

impl<D: Destination> AuthorizedCall<D> for Delivery<'_, D::Settings> {
    type Output = Vec<ResultEntry>;
    const HANDLES_PROPAGATION: bool = true;

    async fn run(
        &self,
        runtime: &DestinationRuntime<D>,
        ctx: &CallContext<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let subscriptions = &self.compiled.subscriptions;
        let runs: Vec<_> = match self.input {
            EventInput::One(event) => subscriptions
                .iter()
                .map(|sub| futures::future::Either::Left(runtime.run_one(sub, event, ctx)))
                .collect(),
            EventInput::Batch(events) => subscriptions
                .iter()
                .map(|sub| futures::future::Either::Right(runtime.run_batch(sub, events, ctx)))
                .collect(),
        };
        let mut out = Vec::new();
        for r in join_all(runs).await {
            out.extend(r?);
        }
        Ok(out)
    }

    fn asks_for_refresh(output: &Vec<ResultEntry>) -> bool {
        has_401_entry(output)
    }
}

/// An event's payload for an action, or why it is invalid.
pub(super) enum Payload {
    /// Mapped, empty values removed and (when the action has fields) validated.
    Ready {
        /// The payload.
        value: Value,
        /// Whether a schema validated it.
        validated: bool,
    },
    /// The mapped payload failed the action's schema.
    Invalid(SchemaValidationError),
}

/// Where a payload goes: alone (`perform`; empty values removed as at the root) or as an item
/// of a batch (`perform_batch`; the reference keeps empty strings there).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PayloadUse {
    Single,
    BatchItem,
}

/// Maps an event, removes empty values and validates the result: the one payload pipeline of
/// single and batch delivery. A mapping failure is an error; a validation failure is
/// [`Payload::Invalid`] (the caller decides whether it fails the call or one item).
pub(super) fn prepare_payload<S: Send + Sync + 'static>(
    entry: &ActionEntry<S>,
    mapping: &Mapping,
    event: &Value,
    usage: PayloadUse,
) -> Result<Payload, Error> {
    let mapped = mapping
        .evaluate(event)
        .map_err(mapping_error)?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let Some(schema) = &entry.schema else {
        return Ok(Payload::Ready {
            value: mapped,
            validated: false,
        });
    };
    let mut value = schema
        .remove_empty_values(mapped, usage == PayloadUse::Single)
        .unwrap_or_else(|| Value::Object(Map::new()));
    Ok(match schema.validate(&mut value, EXEMPT) {
        Ok(()) => Payload::Ready {
            value,
            validated: true,
        },
        Err(e) => Payload::Invalid(e),
    })
}

/// The sync mode the mapping selects, for actions that declare sync modes.
fn sync_mode<S: Send + Sync + 'static>(
    entry: &ActionEntry<S>,
    raw_mapping: &Value,
) -> Option<SyncMode> {
    entry.definition.sync_mode.as_ref()?;
    raw_mapping
        .get("__segment_internal_sync_mode")
        .and_then(Value::as_str)
        .and_then(SyncMode::parse)
}

/// The mapping's internal matching key.
fn matching_key(raw_mapping: &Value) -> Option<String> {
    match raw_mapping.get("__segment_internal_matching_key")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The multistatus node of the event at `index` of a batch the action answered with `response`
/// (`sent` is the payload that went out). A multistatus entry is moved out of the response, not
/// copied: each is read once.
fn batch_node(response: &mut BatchResponse, index: usize, sent: Option<Value>) -> MultiStatusNode {
    match response {
        BatchResponse::MultiStatus(ms) => match ms.take(index) {
            Some(e) => MultiStatusNode::from_entry(e),
            None => MultiStatusNode::Error {
                status: 500,
                errortype: codes::PAYLOAD_VALIDATION_FAILED.to_string(),
                errormessage: "MultiStatusResponse is missing a response at the specified index"
                    .to_string(),
                sent: None,
                body: None,
                errorreporter: ErrorReporter::Integrations,
            },
        },
        BatchResponse::Response(r) => MultiStatusNode::Success {
            status: r.status(),
            sent,
            body: Some(r.result_data()),
        },
        BatchResponse::HttpError(e) => MultiStatusNode::Success {
            status: e.status().unwrap_or(500),
            sent,
            body: Some(Value::String(e.message().to_string())),
        },
        BatchResponse::Nothing => MultiStatusNode::Success {
            status: 200,
            sent,
            body: Some(Value::Object(Map::new())),
        },
    }
}

impl<D: Destination> DestinationRuntime<D> {
    /// The payload pipeline `on_event` runs before `perform`, alone: `mapping` evaluated on
    /// `event`, empty values removed as for a single event, and — when `validate` — the
    /// action's field schema checked. For hosts that map ahead of delivery, and for measuring
    /// the mapping cost the runtime pays.
    ///
    /// ```
    /// use actions_core::mapping::Mapping;
    /// use actions_core::prelude::*;
    /// # fn demo<D: Destination>(runtime: &DestinationRuntime<D>) -> Result<(), Error> {
    /// let mapping = Mapping::compile(&json!({"email": {"@path": "$.traits.email"}}))
    ///     .map_err(actions_core::runtime::mapping_error)?;
    /// let event = json!({"type": "track", "traits": {"email": "a@example.com"}});
    /// let payload = runtime.map_payload("someAction", &mapping, &event, true)?;
    /// # let _ = payload; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// No action `action`; the mapping failed on this event; with `validate`, the payload
    /// does not match the action's fields (the error names the field and the reason).
    pub fn map_payload(
        &self,
        action: &str,
        mapping: &Mapping,
        event: &Value,
        validate: bool,
    ) -> Result<Value, Error> {
        let entry = self.entry(action)?;
        if validate {
            return match prepare_payload(entry, mapping, event, PayloadUse::Single)? {
                Payload::Ready { value, .. } => Ok(value),
                Payload::Invalid(e) => Err(schema_error(e)),
            };
        }
        let mapped = mapping
            .evaluate(event)
            .map_err(mapping_error)?
            .unwrap_or_else(|| Value::Object(Map::new()));
        Ok(match &entry.schema {
            Some(schema) => schema
                .remove_empty_values(mapped, true)
                .unwrap_or_else(|| Value::Object(Map::new())),
            None => mapped,
        })
    }

    /// One subscription on one event: `not subscribed` when the trigger does not match.
    async fn run_one(
        &self,
        sub: &CompiledSubscription,
        event: &Value,
        ctx: &CallContext<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let (trigger, mapping) = match &sub.trigger {
            Trigger::Invalid(msg) => return Ok(vec![ResultEntry::output(msg)]),
            Trigger::Valid(b) => (&b.0, &b.1),
        };
        if !trigger.matches(event) {
            return Ok(vec![ResultEntry::output("not subscribed")]);
        }
        let Some(entry) = self.actions.get(&sub.partner_action) else {
            return Ok(Vec::new());
        };
        self.perform_one(entry, mapping, &sub.raw_mapping, event, ctx)
            .await
    }

    /// One action on one event: the payload pipeline, then `perform`.
    pub(super) async fn perform_one(
        &self,
        entry: &ActionEntry<D::Settings>,
        mapping: &Mapping,
        raw_mapping: &Value,
        event: &Value,
        ctx: &CallContext<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let mut results = Vec::with_capacity(3);
        let prepared = prepare_payload(entry, mapping, event, PayloadUse::Single)?;
        results.push(ResultEntry::output("Mappings resolved"));
        let payload = match prepared {
            Payload::Invalid(e) => return Err(schema_error(e)),
            Payload::Ready { value, validated } => {
                if validated {
                    results.push(ResultEntry::output("Payload validated"));
                }
                value
            }
        };
        let sync_mode = sync_mode(entry, raw_mapping);
        let membership = resolve_audience_membership(event, sync_mode, &ctx.services.features);
        let payloads = [payload];
        let input = ExecuteInput {
            settings: ctx.settings,
            payload: (),
            payload_json: &payloads,
            auth: &ctx.auth,
            services: &ctx.services,
            raw_mapping,
            audience_membership: vec![membership],
            sync_mode,
            matching_key: matching_key(raw_mapping),
        };
        let data = entry.action.perform_json(&ctx.client, input).await?;
        results.push(ResultEntry {
            output: Some("Action Executed".to_string()),
            data,
            multistatus: None,
        });
        Ok(results)
    }

    /// One subscription on a batch: events the trigger rejects get their own node; the others
    /// go to the action together, and the answers are put back in input order.
    async fn run_batch(
        &self,
        sub: &CompiledSubscription,
        events: &[Value],
        ctx: &CallContext<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let (trigger, mapping) = match &sub.trigger {
            Trigger::Invalid(msg) => {
                let nodes = events
                    .iter()
                    .map(|_| MultiStatusNode::rejected(msg.clone()))
                    .collect();
                return Ok(vec![ResultEntry::multistatus(nodes)]);
            }
            Trigger::Valid(b) => (&b.0, &b.1),
        };
        let mut nodes: Vec<Option<MultiStatusNode>> = vec![None; events.len()];
        let mut matched: Vec<&Value> = Vec::with_capacity(events.len());
        let mut matched_at: Vec<usize> = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            if trigger.matches(event) {
                matched.push(event);
                matched_at.push(i);
            } else {
                nodes[i] = Some(MultiStatusNode::rejected(
                    "Payload is either invalid or does not match the subscription",
                ));
            }
        }
        if matched.is_empty() {
            return Ok(vec![ResultEntry::output("not subscribed")]);
        }
        let Some(entry) = self.actions.get(&sub.partner_action) else {
            return Ok(Vec::new());
        };
        let answers = self
            .perform_batch(entry, mapping, &sub.raw_mapping, &matched, ctx)
            .await?;
        for (i, node) in matched_at.into_iter().zip(answers) {
            if let Some(slot) = nodes.get_mut(i) {
                *slot = Some(node);
            }
        }
        Ok(vec![ResultEntry::multistatus(
            nodes.into_iter().flatten().collect(),
        )])
    }

    /// One action on a batch: the payload pipeline per event (an invalid payload rejects only
    /// its event), then `perform_batch` with the valid ones; one node per event, in order.
    pub(super) async fn perform_batch(
        &self,
        entry: &ActionEntry<D::Settings>,
        mapping: &Mapping,
        raw_mapping: &Value,
        events: &[&Value],
        ctx: &CallContext<'_, D::Settings>,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        if !entry.action.supports_batch() {
            return Err(not_batchable());
        }
        let sync_mode = sync_mode(entry, raw_mapping);
        let mut nodes: Vec<Option<MultiStatusNode>> = vec![None; events.len()];
        let mut valid: Vec<Value> = Vec::with_capacity(events.len());
        let mut valid_at: Vec<usize> = Vec::with_capacity(events.len());
        let mut memberships = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            match prepare_payload(entry, mapping, event, PayloadUse::BatchItem)? {
                Payload::Invalid(e) => nodes[i] = Some(MultiStatusNode::rejected(e.message())),
                Payload::Ready { value, .. } => {
                    memberships.push(resolve_audience_membership(
                        event,
                        sync_mode,
                        &ctx.services.features,
                    ));
                    valid.push(value);
                    valid_at.push(i);
                }
            }
        }
        if !valid.is_empty() {
            let input = ExecuteInput {
                settings: ctx.settings,
                payload: (),
                payload_json: &valid,
                auth: &ctx.auth,
                services: &ctx.services,
                raw_mapping,
                audience_membership: memberships,
                sync_mode,
                matching_key: matching_key(raw_mapping),
            };
            let mut response = entry.action.perform_batch_json(&ctx.client, input).await?;
            for (k, (i, sent)) in valid_at.into_iter().zip(valid).enumerate() {
                if let Some(slot) = nodes.get_mut(i) {
                    *slot = Some(batch_node(&mut response, k, Some(sent)));
                }
            }
        }
        Ok(nodes.into_iter().flatten().collect())
    }
}
