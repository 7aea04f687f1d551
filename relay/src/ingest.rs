//! The HTTP ingest: Segment's tracking API, so existing Segment client libraries send to relay by
//! changing their host.
//!
//! | route | does |
//! |---|---|
//! | `POST /v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/group`, `/v1/alias` (and `/v1/t`, `/v1/i`, `/v1/p`, `/v1/s`, `/v1/g`, `/v1/a`) | one event; its `type` is the route's |
//! | `POST /v1/batch` (and `/v1/import`) | `{"batch": [...], "context"?, "integrations"?, "sentAt"?}`; batch-level `context` and `integrations` are merged under each event's own |
//! | `GET /health` | `{"status": "ok", "queue_depth": N}` |
//! | `GET /metrics` | Prometheus text ([`crate::metrics`]) |
//!
//! * **Write key:** the HTTP basic-auth user (password empty), or `writeKey` in the body.
//!   Compared in constant time (SHA-256 digests, every configured key checked). Missing or
//!   unknown → 401.
//! * **Bodies:** JSON, optionally `Content-Encoding: gzip`. Larger than `max_body` (before or
//!   after decompression) → 400; an event larger than `max_event` → 400 (a single call) or
//!   rejected (in a batch).
//! * **Validation** as the tracking API: a known `type`; `userId` or `anonymousId`; `event` for
//!   track; `groupId` for group; `previousId` and `userId` for alias. A single call that fails →
//!   400 `{"success": false, "message": REASON}` (the clients never retry a 400). In a batch the
//!   valid events are accepted and each invalid one is dead-lettered with its reason
//!   (`relay dlq list`), the answer is 200 and lists them under `rejected`.
//! * **Acknowledged once durable:** 200 `{"success": true}` is sent after the store committed
//!   the events (a store failure → 500: the clients retry).
//! * **Back-pressure:** while the queue holds more than `max_queue_depth` jobs, 429 with
//!   `Retry-After` (the clients wait and send again; nothing is lost).
//!
//! ```no_run
//! # async fn demo(relay: std::sync::Arc<relay::Relay>, config: relay::config::IngestConfig)
//! # -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8088").await?;
//! relay::ingest::serve(relay, &config, listener, std::future::pending()).await
//! # }
//! ```

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Relay;
use crate::config::IngestConfig;

/// The event types of the tracking API, with their routes.
const ROUTES: &[(&str, &str)] = &[
    ("track", "track"),
    ("t", "track"),
    ("identify", "identify"),
    ("i", "identify"),
    ("page", "page"),
    ("p", "page"),
    ("screen", "screen"),
    ("s", "screen"),
    ("group", "group"),
    ("g", "group"),
    ("alias", "alias"),
    ("a", "alias"),
];

struct Shared {
    relay: Arc<Relay>,
    keys: Vec<[u8; 32]>,
    max_body: usize,
    max_event: usize,
    max_queue_depth: u64,
    retry_after_secs: u64,
}

/// The ingest's routes over a running relay (for embedding in another server; [`serve`] runs
/// them).
pub fn router(relay: Arc<Relay>, config: &IngestConfig) -> Router {
    let shared = Arc::new(Shared {
        relay,
        keys: config
            .write_keys
            .iter()
            .map(|k| digest(k.expose().as_bytes()))
            .collect(),
        max_body: config.max_body,
        max_event: config.max_event,
        max_queue_depth: config.max_queue_depth,
        retry_after_secs: config.backpressure_retry_after.as_secs().max(1),
    });
    Router::new()
        .route("/v1/{kind}", post(ingest))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

/// Serves the ingest on `listener` until `shutdown` completes, then lets requests in progress
/// finish (their events are durable before they are answered).
///
/// # Errors
/// The listener fails.
pub async fn serve(
    relay: Arc<Relay>,
    config: &IngestConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(relay, config))
        .with_graceful_shutdown(shutdown)
        .await
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Whether `key` is one of the configured keys, in time independent of where they differ.
fn known_key(keys: &[[u8; 32]], key: &str) -> bool {
    let d = digest(key.as_bytes());
    let mut found = subtle::Choice::from(0u8);
    for k in keys {
        found |= k.ct_eq(&d);
    }
    found.into()
}

/// A refusal: status, reason (the `message` of the answer) and the metric's short reason.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    message: String,
    reason: &'static str,
    retry_after: Option<u64>,
}

impl Refusal {
    /// The HTTP status of the answer (400, 401, 429, 500, 503).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason, as the answer's `message` states it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The short reason of the `relay_ingest_rejected_total` metric (`malformed`,
    /// `too large`, `invalid event`, `unauthorized`, …).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    fn bad(reason: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            reason,
            retry_after: None,
        }
    }

    fn unauthorized(message: &str) -> Self {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            message: message.to_string(),
            reason: "unauthorized",
            retry_after: None,
        }
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = answer(
            self.status,
            json!({"success": false, "message": self.message}),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"relay\""),
            );
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// The basic-auth user of the request: `Ok(None)` without an `Authorization` header.
fn basic_user(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || Refusal::unauthorized("the Authorization header is not HTTP basic auth");
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.trim().split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    Ok(Some(user.to_string()))
}

/// The body, decompressed when gzip, at most `max` bytes either way.
fn decode_body(headers: &HeaderMap, raw: Bytes, max: usize) -> Result<Bytes, Refusal> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
            let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
            flate2::read::MultiGzDecoder::new(raw.as_ref())
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| {
                    Refusal::bad("malformed", format!("the gzip body cannot be read: {e}"))
                })?;
            if out.len() > max {
                return Err(too_large(max));
            }
            Ok(Bytes::from(out))
        }
        other => Err(Refusal::bad(
            "malformed",
            format!("Content-Encoding {other:?} is not supported (gzip or none)"),
        )),
    }
}

fn too_large(max: usize) -> Refusal {
    Refusal::bad(
        "too large",
        format!("the request body is larger than the limit of {max} bytes (max_body)"),
    )
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    match s.relay.queue().depth().await {
        Ok(depth) => answer(
            StatusCode::OK,
            json!({"status": "ok", "queue_depth": depth}),
        ),
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "message": e.to_string()}),
        ),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let text = s.relay.render_metrics().await;
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn ingest(
    State(s): State<Arc<Shared>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&s, &kind, &headers, body).await {
        Ok(r) => r,
        Err(refusal) => {
            s.relay
                .metrics()
                .counter("relay_ingest_rejected_total", &[("reason", refusal.reason)])
                .increment(1);
            refusal.into_response()
        }
    }
}

async fn handle(
    s: &Shared,
    kind: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let single = ROUTES.iter().find(|(r, _)| *r == kind).map(|(_, t)| *t);
    if single.is_none() && kind != "batch" && kind != "import" {
        return Ok(answer(
            StatusCode::NOT_FOUND,
            json!({"success": false, "message": format!("no route /v1/{kind}")}),
        ));
    }
    // The write key in the header is checked before the body is read.
    let header_key = basic_user(headers)?;
    if let Some(k) = &header_key
        && !known_key(&s.keys, k)
    {
        return Err(Refusal::unauthorized("unknown write key"));
    }
    let depth = s.relay.queue().depth().await.map_err(|e| Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("the store is unavailable: {e}"),
        reason: "store unavailable",
        retry_after: Some(s.retry_after_secs),
    })?;
    if depth > s.max_queue_depth {
        return Err(Refusal {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!(
                "the queue holds {depth} jobs, more than max_queue_depth ({}); send again later",
                s.max_queue_depth
            ),
            reason: "back-pressure",
            retry_after: Some(s.retry_after_secs),
        });
    }
    let raw = axum::body::to_bytes(body, s.max_body)
        .await
        .map_err(|_| too_large(s.max_body))?;
    let limits = Limits {
        max_body: s.max_body,
        max_event: s.max_event,
    };
    let (doc, body_key) = read_document(headers, raw, limits.max_body)?;
    match (&header_key, &body_key) {
        (Some(_), _) => {}
        (None, Some(k)) if known_key(&s.keys, k) => {}
        (None, Some(_)) => return Err(Refusal::unauthorized("unknown write key")),
        (None, None) => {
            return Err(Refusal::unauthorized(
                "no write key: send it as the HTTP basic-auth user or as writeKey in the body",
            ));
        }
    }
    let now = s.relay.now_ms();
    let received_at = crate::rfc3339(now);
    let parsed = split_events(single, doc, &received_at, limits.max_event).inspect_err(|_| {
        if single.is_some() {
            // A single call counts as received even when its event is refused.
            s.relay
                .metrics()
                .counter("relay_ingest_received_total", &[])
                .increment(1);
        }
    })?;
    s.relay
        .metrics()
        .counter("relay_ingest_received_total", &[])
        .increment(parsed.received as u64);
    for (_, reason, _) in &parsed.rejected {
        s.relay
            .metrics()
            .counter("relay_ingest_rejected_total", &[("reason", reason)])
            .increment(1);
    }
    s.relay
        .accept_prepared(parsed.events, parsed.dead)
        .await
        .map_err(store_failed)?;
    let mut out = json!({"success": true});
    if !parsed.rejected.is_empty() {
        out["rejected"] = Value::Array(
            parsed
                .rejected
                .into_iter()
                .map(|(index, _, reason)| json!({"index": index, "reason": reason}))
                .collect(),
        );
    }
    Ok(answer(StatusCode::OK, out))
}

/// The limits a request body is parsed under (the `[ingest]` keys of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest body, in bytes, before and after gzip decompression.
    pub max_body: usize,
    /// The largest event, in bytes of its JSON text (with `messageId` and `receivedAt`).
    pub max_event: usize,
}

/// A request parsed and validated, ready to be stored (see [`parse_request`]).
pub struct Parsed {
    received: usize,
    events: Vec<crate::Prepared>,
    dead: Vec<(String, String)>,
    rejected: Vec<(usize, &'static str, String)>,
    write_key: Option<String>,
}

impl Parsed {
    /// The number of events the request carried.
    pub fn received(&self) -> usize {
        self.received
    }

    /// The JSON texts of the valid events, as they would be stored.
    pub fn accepted(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(|p| p.text.as_str())
    }

    /// The invalid events of a batch: (index, reason).
    pub fn rejected(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rejected.iter().map(|(i, _, m)| (*i, m.as_str()))
    }

    /// The `writeKey` of the body, if any (not checked here).
    pub fn body_write_key(&self) -> Option<&str> {
        self.write_key.as_deref()
    }
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed")
            .field("received", &self.received)
            .field("accepted", &self.events.len())
            .field("rejected", &self.rejected.len())
            .finish_non_exhaustive()
    }
}

/// Parses a request to `/v1/{kind}` as the ingest does, without a relay: the `Authorization`
/// header's form, the body's encoding and size, the JSON, the batch envelope and every event's
/// validation and size. Write keys are not compared (that needs the configured keys) and nothing
/// is stored. For fuzzing and tests; the server runs the same steps.
///
/// # Errors
/// What the ingest answers with, before any storage: 404 for an unknown route, 401 for a
/// malformed `Authorization` header, 400 with the reason for everything else.
pub fn parse_request(
    kind: &str,
    headers: &HeaderMap,
    raw: Bytes,
    limits: Limits,
    received_at: &str,
) -> Result<Parsed, Refusal> {
    let single = ROUTES.iter().find(|(r, _)| *r == kind).map(|(_, t)| *t);
    if single.is_none() && kind != "batch" && kind != "import" {
        return Err(Refusal {
            status: StatusCode::NOT_FOUND,
            message: format!("no route /v1/{kind}"),
            reason: "no route",
            retry_after: None,
        });
    }
    basic_user(headers)?;
    if raw.len() > limits.max_body {
        return Err(too_large(limits.max_body));
    }
    let (doc, write_key) = read_document(headers, raw, limits.max_body)?;
    let mut parsed = split_events(single, doc, received_at, limits.max_event)?;
    parsed.write_key = write_key;
    Ok(parsed)
}

/// The body as a JSON object, and its `writeKey` (removed from it).
fn read_document(
    headers: &HeaderMap,
    raw: Bytes,
    max_body: usize,
) -> Result<(Map<String, Value>, Option<String>), Refusal> {
    let bytes = decode_body(headers, raw, max_body)?;
    let mut doc = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return Err(Refusal::bad("malformed", "the body must be a JSON object"));
        }
        Err(e) => {
            return Err(Refusal::bad(
                "malformed",
                format!("the body is not valid JSON: {e}"),
            ));
        }
    };
    let body_key = match doc.remove("writeKey") {
        Some(Value::String(k)) => Some(k),
        _ => None,
    };
    Ok((doc, body_key))
}

/// The events of a body: one for a single call (`single` is its type), else the `batch`
/// array's, with batch-level `context`, `integrations` and `sentAt` merged in.
fn split_events(
    single: Option<&str>,
    mut doc: Map<String, Value>,
    received_at: &str,
    max_event: usize,
) -> Result<Parsed, Refusal> {
    if let Some(kind) = single {
        let mut event = doc;
        event.insert("type".into(), Value::String(kind.to_string()));
        let prepared = prepare(event, received_at, max_event)
            .map_err(|(reason, message)| Refusal::bad(reason, message))?;
        return Ok(Parsed {
            received: 1,
            events: vec![prepared],
            dead: Vec::new(),
            rejected: Vec::new(),
            write_key: None,
        });
    }
    let Some(Value::Array(items)) = doc.remove("batch") else {
        return Err(Refusal::bad(
            "malformed",
            "a batch body needs `batch`: an array of events",
        ));
    };
    let received = items.len();
    let shared_context = doc.remove("context");
    let shared_integrations = doc.remove("integrations");
    let sent_at = doc.remove("sentAt");
    let mut events = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    let mut dead = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut event) = item else {
            let reason = format!("batch[{index}]: an event must be a JSON object");
            dead.push((item.to_string(), reason.clone()));
            rejected.push((index, "invalid event", reason));
            continue;
        };
        event.remove("writeKey");
        merge_under(&mut event, "context", shared_context.as_ref());
        merge_under(&mut event, "integrations", shared_integrations.as_ref());
        if let Some(at) = &sent_at {
            event.entry("sentAt").or_insert_with(|| at.clone());
        }
        let original = Value::Object(event.clone());
        match prepare(event, received_at, max_event) {
            Ok(p) => events.push(p),
            Err((reason, message)) => {
                let message = format!("batch[{index}]: {message}");
                let raw = original.to_string();
                dead.push((raw, message.clone()));
                rejected.push((index, reason, message));
            }
        }
    }
    Ok(Parsed {
        received,
        events,
        dead,
        rejected,
        write_key: None,
    })
}

fn store_failed(e: crate::RelayError) -> Refusal {
    tracing::error!(error = %e, "accepting events failed");
    Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("the events could not be stored: {e}"),
        reason: "store failed",
        retry_after: None,
    }
}

/// Puts the members of a batch-level object under the event's own (the event's win).
fn merge_under(event: &mut Map<String, Value>, key: &str, shared: Option<&Value>) {
    let Some(Value::Object(shared)) = shared else {
        return;
    };
    match event.get_mut(key) {
        Some(Value::Object(own)) => {
            for (k, v) in shared {
                own.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Some(_) => {}
        None => {
            event.insert(key.to_string(), Value::Object(shared.clone()));
        }
    }
}

fn present(event: &Map<String, Value>, key: &str) -> bool {
    match event.get(key) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    }
}

/// Checks an event as the tracking API does; the reason names the field.
pub fn validate(event: &Map<String, Value>) -> Result<(), String> {
    let kind = match event.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => return Err(format!("`type` must be a string, got {other}")),
        None => {
            return Err("`type` is required (track, identify, page, screen, group, alias)".into());
        }
    };
    if !ROUTES.iter().any(|(_, t)| *t == kind) {
        return Err(format!(
            "`type` {kind:?} is not one of track, identify, page, screen, group, alias"
        ));
    }
    if !present(event, "userId") && !present(event, "anonymousId") {
        return Err(format!("a {kind} event needs `userId` or `anonymousId`"));
    }
    match kind {
        "track" if !present(event, "event") => {
            Err("a track event needs `event` (a non-empty string)".into())
        }
        "group" if !present(event, "groupId") => Err("a group event needs `groupId`".into()),
        "alias" if !present(event, "previousId") || !present(event, "userId") => {
            Err("an alias event needs `previousId` and `userId`".into())
        }
        _ => Ok(()),
    }
}

/// Validates an event, gives it a `messageId` and `receivedAt`, and serialises it (checking
/// `max_event`). Errors: (metric reason, message).
fn prepare(
    mut event: Map<String, Value>,
    received_at: &str,
    max_event: usize,
) -> Result<crate::Prepared, (&'static str, String)> {
    validate(&event).map_err(|m| ("invalid event", m))?;
    event
        .entry("receivedAt")
        .or_insert_with(|| Value::String(received_at.to_string()));
    let mut value = Value::Object(event);
    let message_id = crate::ensure_message_id(&mut value);
    let text = value.to_string();
    if text.len() > max_event {
        return Err((
            "too large",
            format!(
                "the event is {} bytes, more than the limit of {max_event} bytes (max_event)",
                text.len()
            ),
        ));
    }
    Ok(crate::Prepared {
        event: value,
        message_id,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_only_exactly() {
        let keys = vec![digest(b"wk-1"), digest(b"wk-2")];
        assert!(known_key(&keys, "wk-1"));
        assert!(known_key(&keys, "wk-2"));
        assert!(!known_key(&keys, "wk-"));
        assert!(!known_key(&keys, "wk-10"));
        assert!(!known_key(&keys, ""));
    }

    #[test]
    fn basic_auth_user_is_read() {
        let mut h = HeaderMap::new();
        assert!(basic_user(&h).unwrap().is_none());
        let enc = base64::engine::general_purpose::STANDARD.encode("wk-1:");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {enc}")).unwrap(),
        );
        assert_eq!(basic_user(&h).unwrap().as_deref(), Some("wk-1"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(basic_user(&h).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let obj = |v: Value| v.as_object().cloned().unwrap();
        assert!(validate(&obj(json!({"type": "track", "event": "A", "userId": "u"}))).is_ok());
        let e = validate(&obj(json!({"type": "track", "userId": "u"}))).unwrap_err();
        assert!(e.contains("`event`"), "{e}");
        let e = validate(&obj(json!({"type": "identify"}))).unwrap_err();
        assert!(e.contains("anonymousId"), "{e}");
        let e = validate(&obj(json!({"type": "group", "userId": 7}))).unwrap_err();
        assert!(e.contains("groupId"), "{e}");
        let e = validate(&obj(json!({"type": "alias", "anonymousId": "a"}))).unwrap_err();
        assert!(e.contains("previousId"), "{e}");
        let e = validate(&obj(json!({"type": "purchase", "userId": "u"}))).unwrap_err();
        assert!(e.contains("purchase"), "{e}");
    }

    #[test]
    fn gzip_bodies_are_bounded_after_decompression() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vec![b' '; 10_000]).unwrap();
        let packed = Bytes::from(gz.finish().unwrap());
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(
            decode_body(&h, packed.clone(), 10_000).unwrap().len(),
            10_000
        );
        let e = decode_body(&h, packed, 9_999).err().unwrap();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("9999"), "{}", e.message);
    }
}
