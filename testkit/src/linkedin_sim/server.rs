//! The HTTP plumbing: accept loop, one hyper HTTP/1 connection per socket, and the per-request
//! pipeline (record → faults → API).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::api::{self, ApiRequest};
use super::faults::Outcome;
use super::response::{SimResponse, error};
use super::routes::classify;
use super::state::{Inner, RecordedRequest, RequestOutcome};

/// State shared by the handle and every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    shutdown: watch::Receiver<bool>,
    in_flight: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(inner: Inner, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            inner: Mutex::new(inner),
            shutdown,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Requests being handled (not hanging).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Locks the world. A panic elsewhere while holding the lock does not make it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts a request as in flight until dropped (answered, reset, hanging, or its connection
/// dropped mid-way).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The service error that makes hyper drop the connection without answering.
#[derive(Debug)]
struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection aborted by a simulated fault")
    }
}

impl std::error::Error for Aborted {}

/// A TCP stream that, when flagged, is closed with `SO_LINGER = 0` so the peer sees a reset.
struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            // Best effort: without it the peer sees a plain close, which is also a failure.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Resolves once shutdown is signalled or the handle is gone.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Accepts connections until shutdown is signalled (or the handle is dropped), then drops every
/// open connection, which also ends hanging requests.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone(), shutdown.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(ResettableStream {
        stream,
        reset: reset.clone(),
    });
    let service = service_fn(move |req| serve(shared.clone(), req, reset.clone()));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    let connection = builder.serve_connection(io, service);
    tokio::select! {
        _ = connection => {}
        () = stopped(&mut shutdown) => {}
    }
}

fn into_hyper(resp: SimResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(resp.body));
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in resp.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

/// `/__sim/state` and `/__sim/dedup`: the snapshot and dedup counters as JSON, for tools that
/// run the binary. Never recorded, never faulted, no auth.
fn admin(shared: &Shared, what: &str) -> SimResponse {
    let body = {
        let inner = shared.lock();
        match what {
            "state" => serde_json::to_value(inner.snapshot()),
            "dedup" => serde_json::to_value(&inner.dedup),
            _ => return super::response::not_found(),
        }
    };
    match body {
        Ok(v) => SimResponse::json(200, &v),
        Err(e) => error(500, "INTERNAL_ERROR", &e.to_string()),
    }
}

async fn serve(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    reset: Arc<AtomicBool>,
) -> Result<Response<Full<Bytes>>, Aborted> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    if let Some(what) = path.strip_prefix("/__sim/") {
        return Ok(into_hyper(admin(&shared, what)));
    }
    let in_flight = InFlight::new(&shared.in_flight);
    let limit = shared.lock().config.max_body_bytes;
    let (body, too_large) = match Limited::new(body, limit).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => (Bytes::new(), true),
        Err(_) => return Err(Aborted),
    };
    let restli_method = parts
        .headers
        .get("x-restli-method")
        .and_then(|v| v.to_str().ok());
    let route = classify(&parts.method, path, restli_method);
    let record = RecordedRequest {
        seq: 0,
        method: parts.method.as_str().to_owned(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| path.to_owned(), |pq| pq.as_str().to_owned()),
        route: route.kind,
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        outcome: RequestOutcome::InFlight,
    };
    let (seq, decision) = {
        let mut inner = shared.lock();
        let seq = inner.record(record);
        if too_large {
            let resp = error(
                413,
                "REQUEST_TOO_LARGE",
                &format!("The request body exceeds {limit} bytes"),
            );
            inner.set_outcome(seq, RequestOutcome::Responded(413));
            return Ok(into_hyper(resp));
        }
        let decision =
            inner
                .faults
                .evaluate(parts.method.as_str(), path, route.kind, Instant::now());
        (seq, decision)
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let response = match decision.outcome {
        Outcome::Pass => {
            let request = ApiRequest {
                path,
                query,
                headers: &parts.headers,
                body: &body,
                route,
            };
            let mut inner = shared.lock();
            api::handle(&mut inner, &request, Instant::now())
        }
        Outcome::Respond(resp) => resp,
        Outcome::Reset => {
            shared.lock().set_outcome(seq, RequestOutcome::Reset);
            reset.store(true, Ordering::SeqCst);
            return Err(Aborted);
        }
        Outcome::Hang => {
            shared.lock().set_outcome(seq, RequestOutcome::Hung);
            drop(in_flight);
            stopped(&mut shared.shutdown.clone()).await;
            return Err(Aborted);
        }
    };
    shared
        .lock()
        .set_outcome(seq, RequestOutcome::Responded(response.status));
    Ok(into_hyper(response))
}
