//! Ports of the reference's `__tests__/index.test.ts` (reference section 7.4: test
//! authentication and token refresh), plus the settings override of the client credentials and
//! the refresh error mapping.

mod common;

use actions_core::prelude::*;
use common::{NOW, config, harness, harness_with};
use mockito::Matcher;

fn valid_settings() -> Value {
    json!({"oauth": {"access_token": "123", "refresh_token": "123"}})
}

const ENV: [(&str, &str); 2] = [
    ("ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_ID", "client_id"),
    (
        "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_SECRET",
        "client_secret",
    ),
];

fn refresh_settings(refresh_token: &str) -> Value {
    json!({"oauth": {
        "access_token": "old_token",
        "refresh_token": refresh_token,
        "clientId": "ignored_client_id",
        "clientSecret": "ignored_client_secret"
    }})
}

const TOKEN_ANSWER: &str = r#"{"access_token":"new_token","expires_in":5183999,"refresh_token":"refresh_token","refresh_token_expires_in":31535960,"scope":"r_basicprofile,rw_ads,rw_conversions"}"#;

/// Reference 7.4 #1.
#[tokio::test]
async fn test_authentication_succeeds_with_a_valid_token() {
    let mut t = harness().await;
    let me = t
        .mock("GET", "/rest/me")
        .match_header("authorization", "Bearer 123")
        .match_header("linkedin-version", "202603")
        .match_header("x-restli-protocol-version", "2.0.0")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"id":"123"}"#)
        .create_async()
        .await;
    t.test_authentication(&valid_settings())
        .await
        .expect("authentication succeeds");
    me.assert_async().await;
}

/// Reference 7.4 #2 (no `oauth`: no request), #3 (`/me` answers 401), and other HTTP errors,
/// which surface with their status.
#[tokio::test]
async fn test_authentication_failures_name_the_reason() {
    #[rustfmt::skip]
    let cases = [
        ("#2", None, json!({}), " Please authenticate via Oauth before enabling the destination."),
        ("#3", Some(401), valid_settings(), " Invalid LinkedIn Oauth access token. Please reauthenticate to retrieve a valid access token before enabling the destination."),
        ("500", Some(500), valid_settings(), "500 Internal Server Error"),
    ];
    for (case, me_status, settings, reason) in cases {
        let mut t = harness().await;
        let me = match me_status {
            Some(status) => Some(
                t.mock("GET", "/rest/me")
                    .with_status(status)
                    .create_async()
                    .await,
            ),
            None => None,
        };
        let err = t.test_authentication(&settings).await.unwrap_err();
        if let Some(me) = me {
            me.assert_async().await;
        }
        assert_eq!(
            err.message(),
            format!("Credentials are invalid: {reason}"),
            "{case}"
        );
    }
}

/// Reference 7.4 #4.
#[tokio::test]
async fn refresh_access_token_uses_the_environment_credentials() {
    let mut t = harness_with(config(NOW, &ENV)).await;
    let token = t
        .mock("POST", "/oauth/v2/accessToken")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_header("authorization", Matcher::Missing)
        .match_header("linkedin-version", "202603")
        .match_header("x-restli-protocol-version", "2.0.0")
        .match_body(
            "refresh_token=refresh_token&client_id=client_id&client_secret=client_secret&grant_type=refresh_token",
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(TOKEN_ANSWER)
        .create_async()
        .await;
    let tokens = t
        .refresh_access_token(&refresh_settings("refresh_token"))
        .await
        .expect("the refresh succeeds");
    token.assert_async().await;
    // Only the access token is returned (the rotated refresh token is not), as in the reference.
    assert_eq!(tokens, RefreshedTokens::access("new_token"));
}

/// Reference 7.4 #5–#7: a missing client id (#5) or secret (#6) in the environment, or a
/// missing refresh token (#7), fails without a request.
#[tokio::test]
async fn refresh_without_a_credential_fails() {
    #[rustfmt::skip]
    let cases = [
        ("#5", &ENV[1..], "refresh_token", "Missing client ID", 500),
        ("#6", &ENV[..1], "refresh_token", "Missing client secret", 500),
        ("#7", &ENV[..], "", "Missing refresh token. Please re-authenticate to fetch a new refresh token.", 401),
    ];
    for (case, env, refresh_token, message, status) in cases {
        let mut t = harness_with(config(NOW, env)).await;
        let err = t
            .refresh_access_token(&refresh_settings(refresh_token))
            .await
            .unwrap_err();
        assert_eq!(err.message(), message, "{case}");
        assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"), "{case}");
        assert_eq!(err.status(), Some(status), "{case}");
    }
}

/// Client credentials in the settings take precedence over the environment; empty ones fall
/// back to it.
#[tokio::test]
async fn settings_credentials_take_precedence_over_the_environment() {
    let cases = [
        (
            "settings_id",
            "settings_secret",
            "client_id=settings_id&client_secret=settings_secret",
        ),
        ("", "", "client_id=client_id&client_secret=client_secret"),
    ];
    for (client_id, client_secret, form) in cases {
        let mut t = harness_with(config(NOW, &ENV)).await;
        let token = t
            .mock("POST", "/oauth/v2/accessToken")
            .match_body(
                format!("refresh_token=refresh_token&{form}&grant_type=refresh_token").as_str(),
            )
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(TOKEN_ANSWER)
            .create_async()
            .await;
        let mut settings = refresh_settings("refresh_token");
        settings["client_id"] = json!(client_id);
        settings["client_secret"] = json!(client_secret);
        let tokens = t.refresh_access_token(&settings).await.expect("refreshed");
        token.assert_async().await;
        assert_eq!(tokens.access_token.expose(), "new_token", "{form}");
    }
}

/// A failed refresh: a revoked refresh token (`invalid_grant`) is `REFRESH_TOKEN_EXPIRED`;
/// other failures name LinkedIn's reason (a non-JSON answer has no OAuth error code: the status
/// text is the reason), never the secret.
#[tokio::test]
async fn refresh_failures_name_the_reason() {
    let failed = |reason| {
        let message = format!("Failed to fetch a new access token. Reason: {reason}");
        (
            ErrorClass::Integration,
            Some("OAUTH_REFRESH_FAILED"),
            Some(401),
            message,
        )
    };
    let expired = (
        ErrorClass::Integration,
        Some("REFRESH_TOKEN_EXPIRED"),
        Some(401),
        "Invalid Authentication: Your refresh token is invalid or expired. Please re-authenticate to fetch a new refresh token.".to_string(),
    );
    #[rustfmt::skip]
    let cases = [
        (400, Some("application/json"), r#"{"error":"invalid_grant","error_description":"The provided authorization grant or refresh token is invalid, expired or revoked"}"#, expired),
        (401, Some("application/json"), r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#, failed("invalid_client")),
        (503, None, "upstream unavailable", failed("Service Unavailable")),
    ];
    for (status, content_type, body, expected) in cases {
        let mut t = harness_with(config(NOW, &ENV)).await;
        let mut token = t
            .mock("POST", "/oauth/v2/accessToken")
            .with_status(status)
            .with_body(body);
        if let Some(content_type) = content_type {
            token = token.with_header("content-type", content_type);
        }
        token.create_async().await;
        let err = t
            .refresh_access_token(&refresh_settings("refresh_token"))
            .await
            .unwrap_err();
        let summary = (
            err.class(),
            err.code(),
            err.status(),
            err.message().to_string(),
        );
        assert_eq!(summary, expected);
        let printed = format!("{err:?} {err}");
        assert!(!printed.contains("client_secret") && !printed.contains("refresh_token"));
    }
}

#[tokio::test]
async fn settings_secrets_never_print() {
    let settings: linkedin_conversions::Settings = serde_json::from_value(json!({
        "client_id": "ID-VALUE-1", "client_secret": "SECRET-VALUE-2"
    }))
    .expect("settings");
    let printed = format!("{settings:?}");
    assert!(!printed.contains("ID-VALUE-1") && !printed.contains("SECRET-VALUE-2"));
}
