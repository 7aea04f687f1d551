//! The transport rule of the request client: https to partners; plain http only to a loopback
//! address set through an explicit origin override. Refusals happen before any connection and
//! are not retried.

use std::sync::Arc;

use actions_core::Error;
use actions_core::request::transport::INSECURE_TRANSPORT;
use actions_core::request::{HttpClient, OriginOverrides, RequestClient, RequestOptions};
use actions_core::retry::is_retryable;

/// A loopback server answering 200 to everything; its base URL.
async fn local_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn client(origins: OriginOverrides) -> RequestClient {
    RequestClient::new(HttpClient::new().unwrap(), RequestOptions::new())
        .with_origins(Arc::new(origins))
}

fn assert_insecure(e: &Error) {
    assert_eq!(e.code(), Some(INSECURE_TRANSPORT), "{e:?}");
    assert!(e.message().contains("must be https"), "{e:?}");
    assert!(!is_retryable(e), "an insecure URL is not retried");
}

#[tokio::test]
async fn plain_http_to_a_partner_is_refused_before_connecting() {
    let c = client(OriginOverrides::new());
    // `.invalid` never resolves: had a connection been tried, this would be a different error.
    let e = c
        .get("http://api.example.invalid/v1?token=abc")
        .send()
        .await
        .unwrap_err();
    assert_insecure(&e);
    assert!(
        !e.message().contains("token=abc"),
        "the query is not shown: {e:?}"
    );
}

#[tokio::test]
async fn plain_http_to_loopback_needs_the_origin_override() {
    let base = local_server().await;
    let direct = client(OriginOverrides::new());
    let e = direct.get(format!("{base}/x")).send().await.unwrap_err();
    assert_insecure(&e);

    let through = client(OriginOverrides::new().with("https://api.partner.example", &base));
    let r = through
        .get("https://api.partner.example/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content(), "ok");
}

#[tokio::test]
async fn an_override_to_a_non_loopback_http_address_is_refused() {
    let c = client(
        OriginOverrides::new().with("https://api.partner.example", "http://api.other.invalid"),
    );
    let e = c
        .get("https://api.partner.example/x")
        .send()
        .await
        .unwrap_err();
    assert_insecure(&e);
    for scheme in ["ftp://api.example.invalid/x", "file:///etc/passwd"] {
        let e = client(OriginOverrides::new())
            .get(scheme)
            .send()
            .await
            .unwrap_err();
        assert_insecure(&e);
    }
}
