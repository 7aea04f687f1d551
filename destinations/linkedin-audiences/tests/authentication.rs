//! Test authentication (reference `__tests__/index.test.ts`, section 7.1) and the OAuth token
//! refresh.

mod common;

use actions_core::ErrorClass;
use actions_core::prelude::*;
use common::{JSON, harness};

const ME: &str = "/rest/me";
const AD_ACCOUNT_USER: &str =
    "/rest/adAccountUsers/account=urn:li:sponsoredAccount:testId&user=urn:li:person:123";

fn valid_settings() -> Value {
    json!({
        "ad_account_id": "testId",
        "send_email": true,
        "send_google_advertising_id": true,
        "oauth": {"access_token": "123", "refresh_token": "123"}
    })
}

/// 7.1 #1: `/me` 200, the ad account user has an admin role.
#[tokio::test]
async fn succeeds_with_a_valid_token_and_ad_account() {
    let mut t = harness().await;
    let me = t
        .mock("GET", ME)
        .match_header("authorization", "Bearer 123")
        .match_header("linkedin-version", "202604")
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"id":"123"}"#)
        .create_async()
        .await;
    let user = t
        .mock("GET", AD_ACCOUNT_USER)
        .match_header("authorization", "Bearer 123")
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"role":"ACCOUNT_BILLING_ADMIN"}"#)
        .create_async()
        .await;
    t.test_authentication(&valid_settings()).await.unwrap();
    me.assert_async().await;
    user.assert_async().await;
}

/// 7.1 #2: no `oauth` in the settings.
#[tokio::test]
async fn rejects_settings_without_oauth() {
    let mut t = harness().await;
    let mut settings = valid_settings();
    settings.as_object_mut().unwrap().remove("oauth");
    let e = t.test_authentication(&settings).await.unwrap_err();
    assert_eq!(
        e.message(),
        "Credentials are invalid:  Please authenticate via Oauth before updating other settings and/or enabling the destination."
    );
}

/// 7.1 #3: `/me` answers 401 with an empty body.
#[tokio::test]
async fn rejects_an_invalid_access_token() {
    let mut t = harness().await;
    t.mock("GET", ME).with_status(401).create_async().await;
    let e = t.test_authentication(&valid_settings()).await.unwrap_err();
    assert_eq!(
        e.message(),
        "Credentials are invalid:  Invalid LinkedIn Oauth access token. Please reauthenticate to retrieve a valid access token before updating other settings and/or enabling the destination."
    );
}

/// 7.1 #4: the ad account user lookup answers 404.
#[tokio::test]
async fn rejects_an_unknown_ad_account() {
    let mut t = harness().await;
    t.mock("GET", ME)
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"id":"123"}"#)
        .create_async()
        .await;
    t.mock("GET", AD_ACCOUNT_USER)
        .with_status(404)
        .create_async()
        .await;
    let e = t.test_authentication(&valid_settings()).await.unwrap_err();
    assert_eq!(
        e.message(),
        "Credentials are invalid:  Invalid LinkedIn Ad Account id. Please verify that the LinkedIn Ad Account exists and that you have access to it."
    );
}

/// 7.1 #5: the member only has the Viewer role.
#[tokio::test]
async fn rejects_a_viewer_role() {
    let mut t = harness().await;
    t.mock("GET", ME)
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"id":"123"}"#)
        .create_async()
        .await;
    t.mock("GET", AD_ACCOUNT_USER)
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"role":"VIEWER"}"#)
        .create_async()
        .await;
    let e = t.test_authentication(&valid_settings()).await.unwrap_err();
    assert_eq!(
        e.message(),
        "Credentials are invalid:  Access to the provided Ad Account with a role other than Viewer is required. Please reach out to a LinkedIn Ad Account Admin on your team to grant proper access."
    );
}

/// 7.1 #6: other HTTP errors surface with their status.
#[tokio::test]
async fn surfaces_other_http_errors_with_their_status() {
    let mut t = harness().await;
    t.mock("GET", ME)
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"id":"123"}"#)
        .create_async()
        .await;
    t.mock("GET", AD_ACCOUNT_USER)
        .with_status(500)
        .create_async()
        .await;
    let e = t.test_authentication(&valid_settings()).await.unwrap_err();
    assert_eq!(
        e.message(),
        "Credentials are invalid: 500 Internal Server Error"
    );
}

/// 7.1 #7: both identifiers turned off; no request is made.
#[tokio::test]
async fn rejects_settings_that_send_no_identifier() {
    let mut t = harness().await;
    let mut settings = valid_settings();
    settings["send_email"] = json!(false);
    settings["send_google_advertising_id"] = json!(false);
    let e = t.test_authentication(&settings).await.unwrap_err();
    assert_eq!(
        e.message(),
        "Credentials are invalid:  At least one of `Send Email` or `Send Google Advertising ID` must be set to `true`."
    );
}

/// A token-propagation answer during test authentication surfaces through the usual wrapper.
#[tokio::test]
async fn token_propagation_during_test_authentication_is_reported() {
    let mut t = harness().await;
    t.mock("GET", ME)
        .with_status(401)
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#)
        .create_async()
        .await;
    let e = t.test_authentication(&valid_settings()).await.unwrap_err();
    assert!(
        e.message().starts_with(
            "Credentials are invalid:  LinkedIn rejected the access token (serviceErrorCode 65601)"
        ),
        "{e:?}"
    );
    assert!(!e.message().contains("123"), "no token in {e:?}");
}

fn refresh_settings() -> Value {
    json!({
        "ad_account_id": "testId",
        "send_email": true,
        "send_google_advertising_id": true,
        "oauth": {"access_token": "old-token", "refresh_token": "refresh_token",
                  "clientId": "client_id", "clientSecret": "client_secret"}
    })
}

/// The refresh posts the form in the reference's order, without an `Authorization` header,
/// and returns only the new access token.
#[tokio::test]
async fn refreshes_the_access_token_with_the_oauth_app_credentials() {
    let mut t = harness().await;
    let token = t
        .mock("POST", "/oauth/v2/accessToken")
        .match_header("content-type", "application/x-www-form-urlencoded;charset=UTF-8")
        .match_header("linkedin-version", "202604")
        .match_header("authorization", mockito::Matcher::Missing)
        .match_body(
            "refresh_token=refresh_token&client_id=client_id&client_secret=client_secret&grant_type=refresh_token",
        )
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"access_token":"new_token","expires_in":5183999,"refresh_token":"rotated","refresh_token_expires_in":31535960,"scope":"r_basicprofile,rw_ads"}"#)
        .create_async()
        .await;
    let refreshed = t.refresh_access_token(&refresh_settings()).await.unwrap();
    assert_eq!(refreshed, RefreshedTokens::access("new_token"));
    token.assert_async().await;
}

/// `invalid_grant` means the refresh token is no longer valid.
#[tokio::test]
async fn an_invalid_grant_is_a_refresh_token_expired_error() {
    let mut t = harness().await;
    t.mock("POST", "/oauth/v2/accessToken")
        .with_status(400)
        .with_header(JSON.0, JSON.1)
        .with_body(r#"{"error":"invalid_grant","error_description":"The provided authorization grant or refresh token is invalid, expired or revoked"}"#)
        .create_async()
        .await;
    let e = t
        .refresh_access_token(&refresh_settings())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Integration);
    assert_eq!(e.code(), Some("REFRESH_TOKEN_EXPIRED"));
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        e.message(),
        "Invalid Authentication: Your refresh token is invalid or expired. Please re-authenticate to fetch a new refresh token."
    );
}

/// Other OAuth errors name LinkedIn's `error`; answers without one name the HTTP failure.
#[tokio::test]
async fn other_refresh_failures_name_the_reason() {
    let mut t = harness().await;
    t.mock("POST", "/oauth/v2/accessToken")
        .with_status(401)
        .with_header(JSON.0, JSON.1)
        .with_body(
            r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let e = t
        .refresh_access_token(&refresh_settings())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("OAUTH_REFRESH_FAILED"));
    assert_eq!(
        e.message(),
        "Failed to fetch a new access token. Reason: invalid_client"
    );

    let mut t = harness().await;
    t.mock("POST", "/oauth/v2/accessToken")
        .with_status(500)
        .with_body("oops")
        .create_async()
        .await;
    let e = t
        .refresh_access_token(&refresh_settings())
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Failed to fetch a new access token. Reason: Internal Server Error"
    );
}

/// Missing credentials are reported without a request (the reference would send `undefined`).
#[tokio::test]
async fn missing_refresh_credentials_are_errors_without_a_request() {
    for (remove, message) in [
        (
            "refresh_token",
            "Missing refresh token. Please re-authenticate to fetch a new refresh token.",
        ),
        ("clientId", "Missing client ID"),
        ("clientSecret", "Missing client secret"),
    ] {
        let mut t = harness().await;
        let mut settings = refresh_settings();
        settings["oauth"].as_object_mut().unwrap().remove(remove);
        let e = t.refresh_access_token(&settings).await.unwrap_err();
        assert_eq!(e.message(), message);
        assert_eq!(e.code(), Some("OAUTH_REFRESH_FAILED"));
    }
}
