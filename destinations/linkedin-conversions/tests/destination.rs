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

/// Reference 7.4 #2.
#[tokio::test]
async fn test_authentication_without_oauth_asks_to_authenticate() {
    let mut t = harness().await;
    let err = t.test_authentication(&json!({})).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Credentials are invalid:  Please authenticate via Oauth before enabling the destination."
    );
}

/// Reference 7.4 #3.
#[tokio::test]
async fn test_authentication_with_an_invalid_token_asks_to_reauthenticate() {
    let mut t = harness().await;
    let me = t
        .mock("GET", "/rest/me")
        .with_status(401)
        .create_async()
        .await;
    let err = t.test_authentication(&valid_settings()).await.unwrap_err();
    me.assert_async().await;
    assert_eq!(
        err.message(),
        "Credentials are invalid:  Invalid LinkedIn Oauth access token. Please reauthenticate to retrieve a valid access token before enabling the destination."
    );
}

#[tokio::test]
async fn test_authentication_surfaces_other_http_errors_with_their_status() {
    let mut t = harness().await;
    t.mock("GET", "/rest/me")
        .with_status(500)
        .create_async()
        .await;
    let err = t.test_authentication(&valid_settings()).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Credentials are invalid: 500 Internal Server Error"
    );
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

/// Reference 7.4 #5.
#[tokio::test]
async fn refresh_access_token_without_a_client_id_fails() {
    let mut t = harness_with(config(NOW, &ENV[1..])).await;
    let err = t
        .refresh_access_token(&refresh_settings("refresh_token"))
        .await
        .unwrap_err();
    assert_eq!(err.message(), "Missing client ID");
    assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
    assert_eq!(err.status(), Some(500));
}

/// Reference 7.4 #6.
#[tokio::test]
async fn refresh_access_token_without_a_client_secret_fails() {
    let mut t = harness_with(config(NOW, &ENV[..1])).await;
    let err = t
        .refresh_access_token(&refresh_settings("refresh_token"))
        .await
        .unwrap_err();
    assert_eq!(err.message(), "Missing client secret");
    assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
}

/// Reference 7.4 #7.
#[tokio::test]
async fn refresh_access_token_without_a_refresh_token_fails() {
    let mut t = harness_with(config(NOW, &ENV)).await;
    let err = t
        .refresh_access_token(&refresh_settings(""))
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Missing refresh token. Please re-authenticate to fetch a new refresh token."
    );
    assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn credentials_in_the_settings_take_precedence_over_the_environment() {
    let mut t = harness_with(config(NOW, &ENV)).await;
    let token = t
        .mock("POST", "/oauth/v2/accessToken")
        .match_body(
            "refresh_token=refresh_token&client_id=settings_id&client_secret=settings_secret&grant_type=refresh_token",
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(TOKEN_ANSWER)
        .create_async()
        .await;
    let mut settings = refresh_settings("refresh_token");
    settings["client_id"] = json!("settings_id");
    settings["client_secret"] = json!("settings_secret");
    let tokens = t.refresh_access_token(&settings).await.expect("refreshed");
    token.assert_async().await;
    assert_eq!(tokens.access_token.expose(), "new_token");
}

#[tokio::test]
async fn empty_credential_settings_fall_back_to_the_environment() {
    let mut t = harness_with(config(NOW, &ENV)).await;
    let token = t
        .mock("POST", "/oauth/v2/accessToken")
        .match_body(Matcher::Regex(
            "client_id=client_id&client_secret=client_secret".into(),
        ))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(TOKEN_ANSWER)
        .create_async()
        .await;
    let mut settings = refresh_settings("refresh_token");
    settings["client_id"] = json!("");
    settings["client_secret"] = json!("");
    t.refresh_access_token(&settings).await.expect("refreshed");
    token.assert_async().await;
}

#[tokio::test]
async fn refresh_with_a_revoked_refresh_token_is_refresh_token_expired() {
    let mut t = harness_with(config(NOW, &ENV)).await;
    t.mock("POST", "/oauth/v2/accessToken")
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body(r#"{"error":"invalid_grant","error_description":"The provided authorization grant or refresh token is invalid, expired or revoked"}"#)
        .create_async()
        .await;
    let err = t
        .refresh_access_token(&refresh_settings("refresh_token"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Integration);
    assert_eq!(
        err.message(),
        "Invalid Authentication: Your refresh token is invalid or expired. Please re-authenticate to fetch a new refresh token."
    );
    assert_eq!(err.code(), Some("REFRESH_TOKEN_EXPIRED"));
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn refresh_failures_name_linkedins_reason_and_never_the_secret() {
    let mut t = harness_with(config(NOW, &ENV)).await;
    t.mock("POST", "/oauth/v2/accessToken")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        )
        .create_async()
        .await;
    let err = t
        .refresh_access_token(&refresh_settings("refresh_token"))
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Failed to fetch a new access token. Reason: invalid_client"
    );
    assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
    let printed = format!("{err:?} {err}");
    assert!(!printed.contains("client_secret") && !printed.contains("refresh_token"));

    // A non-JSON answer has no OAuth error code: the status text is the reason.
    let mut t = harness_with(config(NOW, &ENV)).await;
    t.mock("POST", "/oauth/v2/accessToken")
        .with_status(503)
        .with_body("upstream unavailable")
        .create_async()
        .await;
    let err = t
        .refresh_access_token(&refresh_settings("refresh_token"))
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Failed to fetch a new access token. Reason: Service Unavailable"
    );
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
