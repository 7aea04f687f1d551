//! `send`: sends an HTTP request to the user's URL — one event (`perform`, the mapped `data` as
//! the JSON body) or a batch (`perform_batch`, a bare JSON array of the events' `data`, sent to
//! the first event's URL with its method and headers, as the reference does; the host groups
//! batches by `batch_keys`).
//!
//! Every request carries `Idempotency-Key` (see [`crate::api::idempotency_key`]) when the
//! events have a business key, and `X-Signature` when a shared secret is set.

use std::collections::HashSet;

use actions_core::prelude::*;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Map;

use crate::api::{
    IDEMPOTENCY_KEY_HEADER, SIGNATURE_HEADER, batch_idempotency_key, check_url, headers_of,
    idempotency_key, rejection, write_json,
};
use crate::settings::Settings;

/// The action key.
pub const ACTION_KEY: &str = "send";

/// The HTTP methods a webhook can be sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum Method {
    /// `POST` (the default).
    #[serde(rename = "POST")]
    Post,
    /// `PUT`.
    #[serde(rename = "PUT")]
    Put,
    /// `PATCH`.
    #[serde(rename = "PATCH")]
    Patch,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// The payload of `send` (its fields — labels, descriptions, defaults — are derived from this
/// type; all but `idempotency_key` are the reference's).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendPayload {
    /// URL to deliver data to.
    #[schemars(
        title = "URL",
        extend("x-field" = {"format": "uri", "placeholder": "https://example.com/webhook"})
    )]
    pub url: String,
    /// HTTP method to use.
    #[schemars(
        title = "Method",
        extend("x-field" = {
            "choices": [
                {"label": "POST", "value": "POST"},
                {"label": "PUT", "value": "PUT"},
                {"label": "PATCH", "value": "PATCH"}
            ],
            "default": "POST"
        })
    )]
    pub method: Method,
    /// Maximum number of events to include in each batch. Actual batch sizes may be lower.
    #[serde(default)]
    #[schemars(title = "Batch Size", extend("x-field" = {"default": 0}))]
    pub batch_size: Option<f64>,
    /// HTTP headers to send with each request. Only ASCII characters are supported.
    #[serde(default)]
    #[schemars(title = "Headers", extend("x-field" = {"defaultObjectUI": "keyvalue:only"}))]
    pub headers: Option<Map<String, Value>>,
    /// Payload to deliver to webhook URL (JSON-encoded).
    ///
    /// Only its presence is read from the typed payload: the body is written straight from the
    /// validated JSON (`ExecuteInput::payload_json`), so the data — by default the whole
    /// event — is never copied.
    #[serde(default)]
    #[schemars(
        title = "Data",
        description = "Payload to deliver to webhook URL (JSON-encoded).",
        with = "Option<Map<String, Value>>",
        extend("x-field" = {"default": {"@path": "$."}})
    )]
    pub data: Option<IgnoredAny>,
    /// The mapping keys to batch events together by.
    #[serde(default)]
    #[schemars(
        title = "Batch Keys",
        extend("x-field" = {"unsafe_hidden": true, "default": ["url", "method", "headers"]})
    )]
    pub batch_keys: Option<Vec<String>>,
    /// A stable business key of the event: every request for it carries the header `Idempotency-Key` with the first 32 hex digits of its SHA-256, identical on every attempt, so your endpoint can recognise a retried delivery. Defaults to the event's message ID; map an order or transaction ID to deduplicate by that instead. Without a key no `Idempotency-Key` is sent.
    #[serde(default)]
    #[schemars(
        title = "Idempotency Key",
        extend("x-field" = {"default": {"@path": "$.messageId"}})
    )]
    pub idempotency_key: Option<String>,
}

impl SendPayload {
    /// The business key, when the mapping produced a non-empty one.
    pub fn business_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref().filter(|k| !k.is_empty())
    }
}

/// How many distinct `url` + `method` + `headers` combinations a batch holds (the reference
/// reports it as the histogram `webhook.configurable_batch_keys.unique_keys`; here it is a
/// `tracing` event). More than one means the host did not group the batch by its
/// `batch_keys`: the whole batch still goes to the first event's URL, as in the reference.
///
/// ```
/// use webhook::actions::send::{SendPayload, unique_batch_keys};
/// let p = |method: &str| -> SendPayload {
///     serde_json::from_value(serde_json::json!({"url": "https://example.com", "method": method})).unwrap()
/// };
/// assert_eq!(unique_batch_keys(&[p("POST"), p("POST")]), 1);
/// assert_eq!(unique_batch_keys(&[p("POST"), p("PUT")]), 2);
/// ```
pub fn unique_batch_keys(payloads: &[SendPayload]) -> usize {
    payloads
        .iter()
        .map(|p| (p.url.as_str(), p.method, p.headers.as_ref()))
        .map(|(url, method, headers)| {
            // `Map` is not `Hash`; its JSON text (key order kept) stands for it.
            let headers = headers.map(|h| Value::Object(h.clone()).to_string());
            (url, method, headers)
        })
        .collect::<HashSet<_>>()
        .len()
}

/// One request to the webhook.
struct Delivery<'a> {
    url: &'a str,
    method: Method,
    headers: Option<&'a Map<String, Value>>,
    /// The JSON body, when there is one.
    body: Option<String>,
    /// The text the signature covers (the reference signs the first event's `data` only).
    signed: Option<std::ops::Range<usize>>,
    idempotency_key: Option<String>,
}

impl Delivery<'_> {
    async fn send(self, client: &RequestClient, settings: &Settings) -> Result<Response, Error> {
        check_url(self.url)?;
        let user_headers = match self.headers {
            Some(h) => headers_of(h)?,
            None => Vec::new(),
        };
        let mut request = client.request(self.method.as_str(), self.url);
        // Ours first, so that a header of the same name in the mapping wins (the reference
        // merges `extendRequest`'s X-Signature under the action's headers the same way).
        if let Some(key) = self.idempotency_key {
            request = request.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let (Some(secret), Some(body), Some(range)) =
            (&settings.shared_secret, &self.body, self.signed)
        {
            let signed = body.get(range).unwrap_or(body.as_str());
            request = request.header(
                SIGNATURE_HEADER,
                crate::api::signature(secret.expose(), signed)?,
            );
        }
        for (name, value) in user_headers {
            request = request.header(&name, value);
        }
        if let Some(body) = self.body {
            // As the reference's `json` option: the content type is forced.
            request = request
                .text(body)
                .header("content-type", "application/json");
        }
        request.send().await.map_err(rejection)
    }
}

/// Sends an HTTP request to the user's URL.
#[derive(Clone, Copy, Debug, Default)]
pub struct Send;

#[async_trait]
impl Action<Settings> for Send {
    type Payload = SendPayload;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new(ACTION_KEY, "Send", "Send an HTTP request.")
    }

    fn supports_batch(&self) -> bool {
        true
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, SendPayload>,
    ) -> Result<Option<Value>, Error> {
        let payload = &input.payload;
        let data = input.payload_json.first().and_then(|p| p.get("data"));
        let body = match data {
            Some(d) if payload.data.is_some() => {
                let mut text = String::new();
                write_json(&mut text, d, 0)?;
                Some(text)
            }
            _ => None,
        };
        let signed = body.as_ref().map(|b| 0..b.len());
        let delivery = Delivery {
            url: &payload.url,
            method: payload.method,
            headers: payload.headers.as_ref(),
            body,
            signed,
            idempotency_key: payload.business_key().map(idempotency_key),
        };
        let response = delivery.send(client, input.settings).await?;
        Ok(Some(response.result_data()))
    }

    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<SendPayload>>,
    ) -> Result<BatchResponse, Error> {
        let payloads = &input.payload;
        let Some(first) = payloads.first() else {
            return Err(Error::payload_validation("No payload to send."));
        };
        tracing::debug!(
            unique_keys = unique_batch_keys(payloads),
            events = payloads.len(),
            "webhook.configurable_batch_keys.unique_keys"
        );
        // The body: `[data, data, …]`, `null` for an event without data (JSON.stringify of an
        // array with `undefined` members).
        let mut body = String::from("[");
        let mut signed = None;
        for (i, (payload, json)) in payloads.iter().zip(input.payload_json).enumerate() {
            if i > 0 {
                body.push(',');
            }
            let start = body.len();
            match json.get("data").filter(|_| payload.data.is_some()) {
                Some(d) => {
                    write_json(&mut body, d, 1)?;
                    if i == 0 {
                        signed = Some(start..body.len());
                    }
                }
                None => body.push_str("null"),
            }
        }
        body.push(']');
        // A batch has a key only when every element has one: otherwise a retried batch could
        // not be told from a different one.
        let keys: Option<Vec<&str>> = payloads.iter().map(SendPayload::business_key).collect();
        let delivery = Delivery {
            url: &first.url,
            method: first.method,
            headers: first.headers.as_ref(),
            body: Some(body),
            signed,
            idempotency_key: keys.map(batch_idempotency_key),
        };
        let response = delivery.send(client, input.settings).await?;
        Ok(BatchResponse::Response(response))
    }
}
