//! What both LinkedIn destinations (`linkedin-conversions`, `linkedin-audiences`) share, written
//! once:
//!
//! * [`request_options`] — the headers every request carries (bearer token, `LinkedIn-Version`
//!   chosen by [`ApiVersions`]) and [`token_propagation_hook`], which turns LinkedIn's "token not
//!   valid (yet)" answers (401 with `serviceErrorCode` 65601 or 65602) into
//!   [`Error::token_propagation`](actions_core::Error::token_propagation), so the framework
//!   refreshes the token and retries later;
//! * [`refresh_access_token`] — the OAuth token refresh, with the credentials passed in by the
//!   destination ([`RefreshRequest`]);
//! * [`process_hashing`] — the reference's SHA-256 identifier hashing (already-hashed values
//!   pass through);
//! * [`scalar_text`], [`id_text`], [`answer_field`] — reading LinkedIn's JSON answers
//!   (JavaScript semantics such as truthiness come from [`actions_core::js`]);
//! * the API origins.
//!
//! ```
//! use actions_core::context::Features;
//! use actions_core::oauth::AuthTokens;
//! use actions_core::request::{PreparedRequest, Response};
//!
//! let versions = linkedin_common::ApiVersions { stable: "202604", canary: "202604", canary_feature: "canary" };
//! let options = linkedin_common::request_options(&AuthTokens::default(), &Features::new(), &versions);
//! assert_eq!(options.headers().get("linkedin-version"), Some("202604"));
//!
//! let hook = linkedin_common::token_propagation_hook();
//! let req = PreparedRequest { method: "GET".into(), url: "https://api.linkedin.com/rest/me".into(), headers: vec![], body: None };
//! let resp = Response::new(401, "https://api.linkedin.com/rest/me", vec![],
//!     r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#);
//! let err = hook(&req, &resp).unwrap_err();
//! assert_eq!(err.class(), actions_core::ErrorClass::TokenPropagationRetry);
//! assert!(err.message().contains("65601"));
//! ```

#![warn(missing_docs)]

mod hashing;
mod headers;
mod json;
mod propagation;
mod refresh;

pub use hashing::process_hashing;
pub use headers::{ApiVersions, RESTLI_PROTOCOL_VERSION, request_options, require_access_token};
pub use json::{answer_field, id_text, scalar_text};
pub use propagation::{
    EXPIRED_ACCESS_TOKEN, REVOKED_ACCESS_TOKEN, token_propagation_code, token_propagation_hook,
};
pub use refresh::{
    FORM_CONTENT_TYPE, REFRESH_TOKEN_EXPIRED_MESSAGE, RefreshRequest, TOKEN_URL,
    refresh_access_token, require_client_credentials, require_refresh_token,
};

/// `https://api.linkedin.com` (override it with the runtime's origin overrides for tests).
pub const API_ORIGIN: &str = "https://api.linkedin.com";
/// The REST base of both destinations.
pub const API_BASE: &str = "https://api.linkedin.com/rest";
