//! What each answer of the endpoint means for the delivery runtime (`Outcome::of_result` on
//! `DestinationRuntime::deliver_event`): 2xx delivered; 429 rate limited with the server's
//! `Retry-After`; 5xx, 408 and timeouts retried; other 4xx permanent, with the response body
//! (whitespace collapsed, at most 500 characters) in the reason.

mod common;

use std::time::Duration;

use actions_core::prelude::*;
use common::{harness, test_event};

fn settings_for(url: &str) -> Value {
    json!({
        "subscription": {
            "partnerAction": "send",
            "subscribe": "type = \"track\"",
            "mapping": {"url": url, "method": "POST", "data": {"@path": "$.properties"},
                        "idempotency_key": {"@path": "$.messageId"}}
        }
    })
}

fn settings() -> Value {
    settings_for("https://example.com/hook")
}

/// Delivers one event whose request is answered `status` with `body` (and `headers`).
async fn outcome_of(status: u16, body: &str, headers: &[(&str, &str)]) -> Outcome {
    let mut t = harness().await;
    let mut mock = t.expect_request("POST", "/hook").respond_text(status, body);
    for (k, v) in headers {
        mock = mock.with_header(k, v);
    }
    mock.create().await;
    let event = test_event(json!({"properties": {"a": 1}}), 1);
    t.runtime()
        .deliver_event(&event, &settings(), &EventOptions::default())
        .await
        .outcome
}

#[tokio::test]
async fn every_2xx_is_delivered() {
    for status in [200, 201, 202, 204] {
        assert_eq!(
            outcome_of(status, "", &[]).await,
            Outcome::Delivered,
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_retry_after() {
    let outcome = outcome_of(429, "slow down", &[("retry-after", "17")]).await;
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            after: Some(Duration::from_secs(17)),
            reason: "HTTPError: Too Many Requests".to_string()
        }
    );
}

#[tokio::test]
async fn a_5xx_and_a_408_are_retried() {
    for status in [500, 502, 503, 504, 408] {
        let outcome = outcome_of(status, "try later", &[("retry-after", "3")]).await;
        match outcome {
            Outcome::Retry {
                status: s, after, ..
            } => {
                assert_eq!(s, Some(status));
                assert_eq!(after, Some(Duration::from_secs(3)), "{status}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn another_4xx_is_permanent_with_the_trimmed_body() {
    let outcome = outcome_of(
        422,
        "\n  {\"error\": \"unknown field\",\n   \"field\": \"x\"}  \n",
        &[],
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Permanent {
            status: Some(422),
            code: Some("UNPROCESSABLE_ENTITY".to_string()),
            reason: "IntegrationError: The webhook answered 422 Unprocessable Entity: {\"error\": \"unknown field\", \"field\": \"x\"}".to_string()
        }
    );
    for status in [400, 401, 403, 404, 409, 410] {
        assert!(
            matches!(outcome_of(status, "no", &[]).await, Outcome::Permanent { status: Some(s), .. } if s == status),
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_long_error_body_is_cut_at_500_characters() {
    let body = "x".repeat(10_000);
    let Outcome::Permanent { reason, .. } = outcome_of(400, &body, &[]).await else {
        panic!("a 400 is permanent");
    };
    let quoted = reason.split_once(": ").map(|(_, b)| b).unwrap_or("");
    let quoted = quoted.split_once(": ").map(|(_, b)| b).unwrap_or("");
    assert_eq!(
        quoted.chars().count(),
        501,
        "500 characters and the ellipsis"
    );
    assert!(quoted.ends_with("x…"));
}

#[tokio::test]
async fn an_empty_error_body_is_named() {
    let Outcome::Permanent { reason, .. } = outcome_of(404, "", &[]).await else {
        panic!("a 404 is permanent");
    };
    assert_eq!(
        reason,
        "IntegrationError: The webhook answered 404 Not Found with an empty body"
    );
}

/// An endpoint that accepts the connection and never answers: the client's 10 s timeout fires
/// (paused time: no real waiting) and the attempt is retried.
#[tokio::test(start_paused = true)]
async fn a_timeout_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold connections without ever answering.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    // Plain http only to loopback through an origin override (core's transport rule).
    let config = actions_core::RuntimeConfig {
        origins: actions_core::request::OriginOverrides::new()
            .with("https://hook.example", &format!("http://{addr}")),
        ..Default::default()
    };
    let runtime = DestinationRuntime::with_config(webhook::Webhook::new(), config).unwrap();
    let event = test_event(json!({"properties": {}}), 1);
    let Delivery { result, outcome } = runtime
        .deliver_event(
            &event,
            &settings_for("https://hook.example/hook"),
            &EventOptions::default(),
        )
        .await;
    held.abort();
    let err = result.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Timeout, "{err:?}");
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
}

/// A URL no request can go to is permanent, before anything is sent (a retry would never help).
#[tokio::test]
async fn a_url_that_is_not_http_is_permanent() {
    let runtime = DestinationRuntime::new(webhook::Webhook::new()).unwrap();
    let event = test_event(json!({"properties": {}}), 1);
    let Delivery { result, outcome } = runtime
        .deliver_event(
            &event,
            &settings_for("ftp://example.com/hook"),
            &EventOptions::default(),
        )
        .await;
    let err = result.unwrap_err();
    assert!(
        err.message().contains("only http and https"),
        "{}",
        err.message()
    );
    assert!(
        matches!(
            outcome,
            Outcome::Permanent {
                status: Some(400),
                ..
            }
        ),
        "{outcome:?}"
    );
}
