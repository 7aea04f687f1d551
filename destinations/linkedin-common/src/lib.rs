//! What both LinkedIn destinations share, written once:
//!
//! * [`token_propagation_hook`] — the destination-level after-response hook that turns LinkedIn's
//!   "token not valid (yet)" answers (401 with `serviceErrorCode` 65601 or 65602) into
//!   [`Error::token_propagation`], so the framework refreshes the token and retries later instead
//!   of burning a second attempt on a token that has not propagated;
//! * [`process_hashing`] — the reference's SHA-256 identifier hashing (already-hashed values pass
//!   through);
//! * the API origins.
//!
//! ```
//! use actions_core::request::{PreparedRequest, Response};
//! let hook = linkedin_common::token_propagation_hook();
//! let req = PreparedRequest { method: "GET".into(), url: "https://api.linkedin.com/rest/me".into(), headers: vec![], body: None };
//! let resp = Response::new(401, "https://api.linkedin.com/rest/me", vec![],
//!     r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#);
//! let err = hook(&req, &resp).unwrap_err();
//! assert_eq!(err.class(), actions_core::ErrorClass::TokenPropagationRetry);
//! assert!(err.message().contains("65601"));
//! ```

use std::sync::Arc;

use actions_core::Error;
use actions_core::request::AfterResponseHook;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `https://api.linkedin.com` (override it with the runtime's origin overrides for tests).
pub const API_ORIGIN: &str = "https://api.linkedin.com";
/// The REST base of both destinations.
pub const API_BASE: &str = "https://api.linkedin.com/rest";
/// The OAuth token endpoint.
pub const TOKEN_URL: &str = "https://www.linkedin.com/oauth/v2/accessToken";
/// LinkedIn's "revoked (or not yet propagated) access token" service error code.
pub const REVOKED_ACCESS_TOKEN: i64 = 65601;
/// LinkedIn's "expired access token" service error code.
pub const EXPIRED_ACCESS_TOKEN: i64 = 65602;

/// The `serviceErrorCode` that marks a response as a token-propagation failure: a 401 whose body
/// parses as a JSON object with `serviceErrorCode` 65601 or 65602 (whatever the content type).
/// Anything else — other codes, non-JSON or empty bodies, other statuses — is `None`.
pub fn token_propagation_code(status: u16, body: &str) -> Option<i64> {
    if status != 401 {
        return None;
    }
    let v: Value = serde_json::from_str(body).ok()?;
    let code = v.as_object()?.get("serviceErrorCode")?.as_i64()?;
    matches!(code, REVOKED_ACCESS_TOKEN | EXPIRED_ACCESS_TOKEN).then_some(code)
}

/// The after-response hook both LinkedIn destinations register in `extend_request`, so it
/// applies to every request made through their client (actions, batches, hooks, dynamic
/// fields, test authentication, token refresh). It runs before non-2xx responses become
/// errors and before destination code sees the response. The error names the code, never the
/// token.
pub fn token_propagation_hook() -> AfterResponseHook {
    Arc::new(|_request, response| {
        match token_propagation_code(response.status(), response.content()) {
            Some(code) => Err(Error::token_propagation(format!(
                "LinkedIn rejected the access token (serviceErrorCode {code}); it may not have propagated yet."
            ))),
            None => Ok(None),
        }
    })
}

/// The reference's `processHashing(value, 'sha256', 'hex', clean?)`: `""` for blank input; a
/// value that already is 64 hex characters is returned unchanged; otherwise `clean` is applied
/// and the lowercase hex SHA-256 of the UTF-8 text returned.
pub fn process_hashing(value: &str, clean: Option<fn(&str) -> String>) -> String {
    if value.trim().is_empty() {
        return String::new();
    }
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return value.to_string();
    }
    let cleaned;
    let input = match clean {
        Some(f) => {
            cleaned = f(value);
            cleaned.as_str()
        }
        None => value,
    };
    hex::encode(Sha256::digest(input.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actions_core::ErrorClass;
    use actions_core::request::{PreparedRequest, Response};

    fn run(status: u16, body: &str) -> Result<(), Error> {
        let req = PreparedRequest {
            method: "POST".into(),
            url: "https://api.linkedin.com/rest/x".into(),
            headers: vec![("authorization".into(), "Bearer TOKEN-XYZ".into())],
            body: None,
        };
        let resp = Response::new(status, "u", vec![], body);
        token_propagation_hook()(&req, &resp).map(|_| ())
    }

    #[test]
    fn matches_only_401_with_65601_or_65602() {
        for code in [65601, 65602] {
            let e = run(
                401,
                &format!(r#"{{"serviceErrorCode":{code},"status":401}}"#),
            )
            .unwrap_err();
            assert_eq!(e.class(), ErrorClass::TokenPropagationRetry);
            assert!(e.message().contains(&code.to_string()));
            assert!(!e.message().contains("TOKEN-XYZ"));
        }
        assert!(run(401, r#"{"serviceErrorCode":65600}"#).is_ok());
        assert!(
            run(
                401,
                r#"{"serviceErrorCode":401,"message":"Empty oauth2_access_token"}"#
            )
            .is_ok()
        );
        assert!(run(401, "").is_ok());
        assert!(run(401, "Unauthorized").is_ok());
        assert!(run(401, r#"{"message":"Unauthorized","status":401}"#).is_ok());
        assert!(run(401, r#"[65601]"#).is_ok());
        assert!(run(403, r#"{"serviceErrorCode":65601}"#).is_ok());
        assert!(run(200, r#"{"serviceErrorCode":65601}"#).is_ok());
    }

    #[test]
    fn hashing_matches_the_reference() {
        assert_eq!(
            process_hashing("testing@testing.com", None),
            "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"
        );
        assert_eq!(
            process_hashing(" Foo@Bar.com ", None),
            "343742730613e8de7840f39b3039979d89ca623c2dcb35b1c125f96c271c5ce7"
        );
        let lower: fn(&str) -> String = |s| s.to_lowercase();
        assert_eq!(
            process_hashing("Nick@Twilio.com", Some(lower)),
            "e290e11fef012fc831059c96e9186cda491dd0b259641815f23463cb4c54b7e1"
        );
        let hashed = "584C4423C421DF49955759498A71495ABA49B8780EB9387DFF333B6F0982C777";
        assert_eq!(process_hashing(hashed, Some(lower)), hashed);
        assert_eq!(process_hashing("   ", None), "");
    }
}
