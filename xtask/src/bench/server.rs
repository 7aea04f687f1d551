//! The benchmark's HTTP server (`xtask bench-server`, its own process): a minimal hyper server
//! answering as LinkedIn does, at once, so the figures measure the client side.
//!
//! | request | answer |
//! |---|---|
//! | `GET /rest/dmpSegments?…` (segment lookup) | 200, one existing segment |
//! | `POST /rest/dmpSegments/{id}/users` | 200, one `{"status":201}` per element sent |
//! | `POST /rest/conversionEvents` and anything else | 201, empty body |

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;

use crate::util::Failure;

/// The lookup's answer: one segment, as LinkedIn's `q=account` finder returns it.
const SEGMENT: &str = r#"{"elements":[{"id":"9876543","name":"li_test_audience","type":"USER","status":"READY"}],"paging":{"count":10,"start":0,"total":1}}"#;

/// What one users POST element is recognised by in the body.
const ELEMENT_MARK: &str = "\"action\"";

/// The users POST answer for `n` elements.
fn users_answer(n: usize) -> String {
    let mut s = String::with_capacity(14 + n * 15);
    s.push_str("{\"elements\":[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"status\":201}");
    }
    s.push_str("]}");
    s
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if status == StatusCode::OK {
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    r
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // Read the whole body, as a real server does.
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(respond(StatusCode::BAD_REQUEST, Bytes::new())),
    };
    Ok(
        if method == Method::GET && path.starts_with("/rest/dmpSegments") {
            respond(StatusCode::OK, SEGMENT)
        } else if method == Method::POST
            && path.starts_with("/rest/dmpSegments/")
            && path.ends_with("/users")
        {
            let n = std::str::from_utf8(&body)
                .map(|t| t.matches(ELEMENT_MARK).count())
                .unwrap_or(0);
            respond(StatusCode::OK, users_answer(n))
        } else {
            respond(StatusCode::CREATED, Bytes::new())
        },
    )
}

/// Serves on `127.0.0.1:port` (0: any free port), prints `listening <addr>` on stdout, and
/// stops when stdin closes (the parent process ended or dropped the pipe).
pub fn run(port: u16) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("bench server: cannot start tokio: {e}")))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| Failure::new(format!("bench server: cannot bind port {port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("bench server: {e}")))?;
        println!("listening {addr}");
        let accept = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service_fn(answer))
                        .await;
                });
            }
        };
        let stdin_closed = async {
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(_)) = lines.next_line().await {}
        };
        tokio::select! {
            () = accept => {}
            () = stdin_closed => {}
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_answer_has_one_status_per_element() {
        for n in [0, 1, 3, 1000] {
            let v: serde_json::Value = serde_json::from_str(&users_answer(n)).unwrap();
            let elements = v["elements"].as_array().unwrap();
            assert_eq!(elements.len(), n);
            assert!(elements.iter().all(|e| e["status"] == 201));
        }
    }
}
