//! Sending events: one at a time ([`perform`]: the raw HTTP error on failure, as in the
//! reference) or in one `BATCH_CREATE` request ([`perform_batch`]: a result per event; invalid
//! events are reported without being sent).

use actions_core::js;
use actions_core::prelude::*;
use linkedin_common::scalar_text;

use super::HOOK_KEY;
use super::element::{conversion_element, validate};
use super::payload::StreamConversionPayload;
use crate::api::ConversionsApi;
use crate::settings::Settings;
use crate::timestamp::conversion_time;

/// At most this many bytes of the batch response are copied into the per-event results; beyond
/// it each event gets its own element of LinkedIn's answer (see the README, deviation 6).
pub const BATCH_BODY_COPY_BUDGET: usize = 4 * 1024 * 1024;

/// The conversion rule id saved by the hook (`mapping.onMappingSave.outputs.id`), when truthy.
///
/// ```
/// use linkedin_conversions::actions::stream_conversion::conversion_rule_id;
/// let mapping = serde_json::json!({"onMappingSave": {"outputs": {"id": 789123}}});
/// assert_eq!(conversion_rule_id(&mapping).as_deref(), Some("789123"));
/// assert_eq!(conversion_rule_id(&serde_json::json!({})), None);
/// ```
pub fn conversion_rule_id(raw_mapping: &Value) -> Option<String> {
    let id = raw_mapping
        .get(HOOK_KEY)?
        .get("outputs")?
        .get("id")
        .filter(|v| js::truthy(v))?;
    scalar_text(id)
}

fn rule_id_required() -> Error {
    Error::payload_validation("Conversion Rule ID is required.")
}

/// The per-event `body` of a successful batch: LinkedIn's whole answer for every event, as in
/// the reference, while that stays within [`BATCH_BODY_COPY_BUDGET`]; beyond it each event gets
/// its own element of the answer (or nothing when the answer has no such element).
fn batch_bodies(response: &Response, count: usize) -> Vec<Option<Value>> {
    let content = response.content();
    if content.len().saturating_mul(count) <= BATCH_BODY_COPY_BUDGET {
        return vec![Some(Value::String(content.to_string())); count];
    }
    let parsed: Option<Value> = serde_json::from_str(content).ok();
    let own = parsed
        .as_ref()
        .and_then(|v| v.get("elements"))
        .and_then(Value::as_array);
    (0..count)
        .map(|k| {
            own.and_then(|elements| elements.get(k))
                .map(|e| Value::String(e.to_string()))
        })
        .collect()
}

/// Sends one event (`POST /rest/conversionEvents`) to the rule the hook saved.
pub async fn perform(
    client: &RequestClient,
    input: ExecuteInput<'_, Settings, StreamConversionPayload>,
) -> Result<Option<Value>, Error> {
    let time = conversion_time(&input.payload.conversion_happened_at);
    let time = validate(&input.payload, time, input.services.now_ms())?;
    let rule_id = conversion_rule_id(input.raw_mapping).ok_or_else(rule_id_required)?;
    let element = conversion_element(&rule_id, time, input.payload);
    let response = ConversionsApi::new(client)
        .stream_conversion_event(element)
        .await?;
    Ok(Some(response.result_data()))
}

/// Sends the valid events of a batch in one `BATCH_CREATE` request. Invalid events get a 400
/// each; an HTTP error answer marks every sent event with its status and body; token
/// propagation, timeouts and connection failures fail the whole batch.
pub async fn perform_batch(
    client: &RequestClient,
    input: ExecuteInput<'_, Settings, Vec<StreamConversionPayload>>,
) -> Result<BatchResponse, Error> {
    let rule_id = conversion_rule_id(input.raw_mapping).ok_or_else(rule_id_required)?;
    let now = input.services.now_ms();
    let mut statuses = MultiStatusResponse::new();
    let mut elements = Vec::with_capacity(input.payload.len());
    let mut positions = Vec::with_capacity(input.payload.len());
    for (i, payload) in input.payload.into_iter().enumerate() {
        let time = conversion_time(&payload.conversion_happened_at);
        match validate(&payload, time, now) {
            Ok(time) => {
                elements.push(conversion_element(&rule_id, time, payload));
                positions.push(i);
            }
            Err(e) => statuses.set_at(
                i,
                MultiStatusEntry::Error {
                    status: 400,
                    errortype: Some(codes::PAYLOAD_VALIDATION_FAILED.to_string()),
                    errormessage: e.message().to_string(),
                    sent: None,
                    body: None,
                },
            ),
        }
    }
    if elements.is_empty() {
        return Ok(BatchResponse::MultiStatus(statuses));
    }
    match ConversionsApi::new(client)
        .batch_conversion_add(&elements)
        .await
    {
        Ok(response) => {
            let bodies = batch_bodies(&response, elements.len());
            for ((i, element), body) in positions.into_iter().zip(elements).zip(bodies) {
                statuses.set_at(
                    i,
                    MultiStatusEntry::Success {
                        status: response.status(),
                        sent: Some(element),
                        body,
                    },
                );
            }
        }
        Err(e) if e.class() == ErrorClass::Http => {
            let (status, message) = match e.response() {
                Some(r) if !r.content().is_empty() => (r.status(), r.content().to_string()),
                Some(r) => (r.status(), e.message().to_string()),
                None => (e.status().unwrap_or(500), e.message().to_string()),
            };
            for (i, element) in positions.into_iter().zip(elements) {
                statuses.set_at(
                    i,
                    MultiStatusEntry::Error {
                        status,
                        errortype: None,
                        errormessage: message.clone(),
                        sent: Some(element),
                        body: None,
                    },
                );
            }
        }
        // Token propagation, timeouts and connection failures fail the whole batch.
        Err(e) => return Err(e),
    }
    Ok(BatchResponse::MultiStatus(statuses))
}
