//! Test authentication (reference `__tests__/index.test.ts`, section 7.1) and the OAuth token
//! refresh.

mod common;

use actions_core::ErrorClass;
use actions_core::prelude::*;
use common::{JSON, error_summary, harness};

const ME: &str = "/rest/me";
const AD_ACCOUNT_USER: &str =
    "/rest/adAccountUsers/account=urn:li:sponsoredAccount:testId&user=urn:li:person:123";
const TOKEN: &str = "/oauth/v2/accessToken";
const MEMBER: &str = r#"{"id":"123"}"#;

fn valid_settings() -> Value {
    json!({
        "ad_account_id": "testId",
        "send_email": true,
        "send_google_advertising_id": true,
        "oauth": {"access_token": "123", "refresh_token": "123"}
    })
}

/// `/me` and the ad account user lookup answer as given (`None`: not called); the result of
/// test authentication with `settings`.
async fn authenticate(
    me: Option<(usize, &str)>,
    user: Option<(usize, &str)>,
    settings: &Value,
) -> Result<(), Error> {
    let mut t = harness().await;
    for (path, answer) in [(ME, me), (AD_ACCOUNT_USER, user)] {
        if let Some((status, body)) = answer {
            let mut mock = t
                .mock("GET", path)
                .match_header("authorization", "Bearer 123")
                .with_status(status);
            if !body.is_empty() {
                mock = mock.with_header(JSON.0, JSON.1).with_body(body);
            }
            mock.create_async().await;
        }
    }
    t.test_authentication(settings).await
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
        .with_body(MEMBER)
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

/// Every test-authentication failure, wrapped as the reference does ("Credentials are
/// invalid: …"): 7.1 #2 no `oauth` in the settings; #3 `/me` answers 401 with an empty body;
/// #4 the ad account user lookup answers 404; #5 the member only has the Viewer role; #6 other
/// HTTP errors surface with their status; #7 both identifiers turned off (no request).
#[tokio::test]
async fn test_authentication_failures_name_the_reason() {
    let mut no_oauth = valid_settings();
    no_oauth.as_object_mut().unwrap().remove("oauth");
    let mut no_identifier = valid_settings();
    no_identifier["send_email"] = json!(false);
    no_identifier["send_google_advertising_id"] = json!(false);
    let member = Some((200, MEMBER));
    #[rustfmt::skip]
    let cases = [
        ("#2", None, None, no_oauth, " Please authenticate via Oauth before updating other settings and/or enabling the destination."),
        ("#3", Some((401, "")), None, valid_settings(), " Invalid LinkedIn Oauth access token. Please reauthenticate to retrieve a valid access token before updating other settings and/or enabling the destination."),
        ("#4", member, Some((404, "")), valid_settings(), " Invalid LinkedIn Ad Account id. Please verify that the LinkedIn Ad Account exists and that you have access to it."),
        ("#5", member, Some((200, r#"{"role":"VIEWER"}"#)), valid_settings(), " Access to the provided Ad Account with a role other than Viewer is required. Please reach out to a LinkedIn Ad Account Admin on your team to grant proper access."),
        ("#6", member, Some((500, "")), valid_settings(), "500 Internal Server Error"),
        ("#7", None, None, no_identifier, " At least one of `Send Email` or `Send Google Advertising ID` must be set to `true`."),
    ];
    for (case, me, user, settings, reason) in cases {
        let e = authenticate(me, user, &settings).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!("Credentials are invalid: {reason}"),
            "{case}"
        );
    }
}

/// A token-propagation answer during test authentication surfaces through the usual wrapper.
#[tokio::test]
async fn token_propagation_during_test_authentication_is_reported() {
    let revoked = r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#;
    let e = authenticate(Some((401, revoked)), None, &valid_settings())
        .await
        .unwrap_err();
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
        .mock("POST", TOKEN)
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

/// A failed refresh: `invalid_grant` means the refresh token is no longer valid; other OAuth
/// errors name LinkedIn's `error`; answers without one name the HTTP failure.
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
    let invalid_grant = r#"{"error":"invalid_grant","error_description":"The provided authorization grant or refresh token is invalid, expired or revoked"}"#;
    let invalid_client =
        r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;
    let expired = (
        ErrorClass::Integration,
        Some("REFRESH_TOKEN_EXPIRED"),
        Some(401),
        "Invalid Authentication: Your refresh token is invalid or expired. Please re-authenticate to fetch a new refresh token.".to_string(),
    );
    #[rustfmt::skip]
    let cases = [
        (400, Some(JSON), invalid_grant, expired),
        (401, Some(JSON), invalid_client, failed("invalid_client")),
        (500, None, "oops", failed("Internal Server Error")),
    ];
    for (status, content_type, body, expected) in cases {
        let mut t = harness().await;
        let mut token = t.mock("POST", TOKEN).with_status(status).with_body(body);
        if let Some((name, value)) = content_type {
            token = token.with_header(name, value);
        }
        let token = token.expect(1).create_async().await;
        let e = t
            .refresh_access_token(&refresh_settings())
            .await
            .unwrap_err();
        token.assert_async().await;
        let (class, code, status, message) = error_summary(&e);
        assert_eq!((class, code, status, message.to_string()), expected);
    }
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
