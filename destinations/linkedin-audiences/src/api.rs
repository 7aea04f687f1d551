//! Request building shared by the actions and the destination: the API version, URLs (with
//! their Rest.li encodings), the DMP segment lookup and creation requests and the member update
//! request.
//!
//! ```
//! use actions_core::context::Features;
//! use linkedin_audiences::api;
//!
//! assert_eq!(api::API_VERSIONS.select(&Features::new()), "202604");
//! assert_eq!(
//!     api::ad_account_user_url("512345678", "abc123"),
//!     "https://api.linkedin.com/rest/adAccountUsers/account=urn:li:sponsoredAccount:512345678&user=urn:li:person:abc123"
//! );
//! assert_eq!(
//!     api::segment_members_url("42", api::SegmentType::User),
//!     "https://api.linkedin.com/rest/dmpSegments/42/users"
//! );
//! ```

use actions_core::Error;
use actions_core::error::codes;
use actions_core::oauth::AuthTokens;
use actions_core::request::{RequestClient, Response};
use linkedin_common::{API_BASE, ApiVersions};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The `LinkedIn-Version`s: `202604` by default and when the canary feature flag
/// `linkedin-audiences-canary-version` is on (the same version today).
pub const API_VERSIONS: ApiVersions = ApiVersions {
    stable: "202604",
    canary: "202604",
    canary_feature: "linkedin-audiences-canary-version",
};
/// `sourcePlatform` of every segment this destination looks up or creates.
pub const SOURCE_PLATFORM: &str = "SEGMENT";
/// The prefix of ad account URNs.
pub const ACCOUNT_URN_PREFIX: &str = "urn:li:sponsoredAccount:";
/// The prefix of organisation (company) URNs.
pub const ORGANIZATION_URN_PREFIX: &str = "urn:li:organization:";
/// `X-Restli-Protocol-Version` of the company endpoints.
pub use linkedin_common::RESTLI_PROTOCOL_VERSION;
/// The id of a segment as the reference turns it into text (`String(id)`): numbers and strings;
/// `None` for anything else (the reference would write `undefined` or `[object Object]`).
pub use linkedin_common::id_text;
/// LinkedIn accepts at most this many elements in one BATCH_CREATE request.
pub const MAX_ELEMENTS_PER_REQUEST: usize = 5000;

/// Characters encoded when a value is put into one URL path segment: what the WHATWG URL parser
/// would encode anyway plus the characters that would change the URL's structure (`/`, `?`, `#`).
/// Everything LinkedIn ids and Rest.li 1.0 keys contain (`:`, `=`, `&`, digits, letters) is kept.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/');

/// Whether a DMP segment holds people or companies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentType {
    /// `USER`: members are added through `/users`.
    User,
    /// `COMPANY`: members are added through `/companies`.
    Company,
}

impl SegmentType {
    /// The wire name (`USER` / `COMPANY`).
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentType::User => "USER",
            SegmentType::Company => "COMPANY",
        }
    }

    fn members_path(self) -> &'static str {
        match self {
            SegmentType::User => "users",
            SegmentType::Company => "companies",
        }
    }
}

/// `urn:li:sponsoredAccount:{ad_account_id}`.
pub fn account_urn(ad_account_id: &str) -> String {
    format!("{ACCOUNT_URN_PREFIX}{ad_account_id}")
}

fn segment(value: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(value, PATH_SEGMENT)
}

/// `GET /rest/me`: the authenticated member.
pub fn me_url() -> String {
    format!("{API_BASE}/me")
}

/// `GET /rest/adAccountUsers/account=…&user=…`: the member's role on the ad account (a Rest.li
/// 1.0 complex key written literally in the path).
pub fn ad_account_user_url(ad_account_id: &str, person_id: &str) -> String {
    format!(
        "{API_BASE}/adAccountUsers/account={ACCOUNT_URN_PREFIX}{}&user=urn:li:person:{}",
        segment(ad_account_id),
        segment(person_id)
    )
}

/// `/rest/dmpSegments` (lookup with a query, creation with a POST).
pub fn segments_url() -> String {
    format!("{API_BASE}/dmpSegments")
}

/// `POST /rest/dmpSegments/{id}/users` or `/companies`.
pub fn segment_members_url(segment_id: &str, segment_type: SegmentType) -> String {
    format!(
        "{API_BASE}/dmpSegments/{}/{}",
        segment(segment_id),
        segment_type.members_path()
    )
}

/// The query of the segment lookup, in the reference's order; the request client form-encodes
/// it (`urn%3Ali%3AsponsoredAccount%3A…`, spaces as `+`).
pub fn lookup_params<'a>(
    ad_account_id: &str,
    source_segment_id: &'a str,
) -> [(&'static str, std::borrow::Cow<'a, str>); 4] {
    [
        ("q", "account".into()),
        ("account", account_urn(ad_account_id).into()),
        ("sourceSegmentId", source_segment_id.into()),
        ("sourcePlatform", SOURCE_PLATFORM.into()),
    ]
}

/// The body that creates a segment (key order as the reference sends it; `name` only when
/// given).
///
/// ```
/// use linkedin_audiences::api::{create_segment_body, SegmentType};
/// let body = create_segment_body(Some("VIPs"), "vips", "123", SegmentType::User);
/// assert_eq!(
///     body.to_string(),
///     r#"{"name":"VIPs","sourcePlatform":"SEGMENT","sourceSegmentId":"vips","account":"urn:li:sponsoredAccount:123","type":"USER","destinations":[{"destination":"LINKEDIN"}]}"#
/// );
/// ```
pub fn create_segment_body(
    name: Option<&str>,
    source_segment_id: &str,
    ad_account_id: &str,
    segment_type: SegmentType,
) -> Value {
    let mut body = Map::with_capacity(6);
    if let Some(name) = name {
        body.insert("name".into(), Value::String(name.to_string()));
    }
    body.insert("sourcePlatform".into(), json!(SOURCE_PLATFORM));
    body.insert("sourceSegmentId".into(), json!(source_segment_id));
    body.insert("account".into(), json!(account_urn(ad_account_id)));
    body.insert("type".into(), json!(segment_type.as_str()));
    body.insert("destinations".into(), json!([{"destination": "LINKEDIN"}]));
    Value::Object(body)
}

/// `GET /rest/dmpSegments?q=account&…`. The company action adds the Rest.li 2.0 protocol header
/// and reads non-2xx answers itself (`restli2 = true`); the user action lets them throw.
pub async fn lookup_segments(
    client: &RequestClient,
    ad_account_id: &str,
    source_segment_id: &str,
    restli2: bool,
) -> Result<Response, Error> {
    let mut request = client
        .get(segments_url())
        .search_params(lookup_params(ad_account_id, source_segment_id));
    if restli2 {
        request = request
            .header("x-restli-protocol-version", RESTLI_PROTOCOL_VERSION)
            .throw_http_errors(false);
    }
    request.send().await
}

/// `POST /rest/dmpSegments` with [`create_segment_body`]; `restli2` as in [`lookup_segments`].
pub async fn create_segment(
    client: &RequestClient,
    body: Value,
    restli2: bool,
) -> Result<Response, Error> {
    let mut request = client.post(segments_url()).json(body);
    if restli2 {
        request = request
            .header("x-restli-protocol-version", RESTLI_PROTOCOL_VERSION)
            .throw_http_errors(false);
    }
    request.send().await
}

/// `{"elements": [...]}`.
#[derive(Serialize)]
struct Elements<'a, T> {
    elements: &'a [T],
}

/// `POST /rest/dmpSegments/{id}/users|companies` with `X-RestLi-Method: BATCH_CREATE` and
/// `{"elements": [...]}`; the answer is returned whatever its status. The body is serialized
/// straight from the elements (no intermediate JSON tree; `content-type: application/json` as
/// for any JSON body).
pub async fn update_members<T: Serialize>(
    client: &RequestClient,
    segment_id: &str,
    segment_type: SegmentType,
    elements: &[T],
) -> Result<Response, Error> {
    let body = serde_json::to_string(&Elements { elements }).map_err(|e| {
        Error::plain(format!(
            "the DMP segment members could not be serialized: {e}"
        ))
    })?;
    let mut request = client
        .post(segment_members_url(segment_id, segment_type))
        .header("x-restli-method", "BATCH_CREATE");
    if segment_type == SegmentType::Company {
        request = request.header("x-restli-protocol-version", RESTLI_PROTOCOL_VERSION);
    }
    request
        .text(body)
        .header("content-type", "application/json")
        .throw_http_errors(false)
        .send()
        .await
}

/// Fails when there is no access token. The reference would send `Authorization: Bearer
/// undefined`; we never send that: the error is an `InvalidAuthenticationError` (401), so an
/// OAuth pipeline with a refresh token refreshes and retries.
pub fn require_access_token(auth: &AuthTokens) -> Result<(), Error> {
    linkedin_common::require_access_token(
        auth,
        "No LinkedIn OAuth access token is available. Please authenticate via OAuth before enabling the destination.",
    )
    .map(|_| ())
}

/// The `elements` list of a lookup answer, or a clear error when the answer has none.
pub fn elements_of(body: &Value) -> Result<&[Value], Error> {
    body.get("elements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| {
            Error::integration(
                "LinkedIn answered the DMP segment lookup without an `elements` list.",
                codes::UNKNOWN_ERROR,
                502,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actions_core::context::Features;

    #[test]
    fn canary_flag_selects_the_canary_version() {
        let mut features = Features::new();
        assert_eq!(API_VERSIONS.select(&features), API_VERSIONS.stable);
        features.set(API_VERSIONS.canary_feature, true);
        assert_eq!(API_VERSIONS.select(&features), API_VERSIONS.canary);
    }

    #[test]
    fn path_values_cannot_change_the_url_structure() {
        assert_eq!(
            segment_members_url("a/b?c#d", SegmentType::Company),
            "https://api.linkedin.com/rest/dmpSegments/a%2Fb%3Fc%23d/companies"
        );
        assert_eq!(
            ad_account_user_url("1 2", "x&y=z"),
            "https://api.linkedin.com/rest/adAccountUsers/account=urn:li:sponsoredAccount:1%202&user=urn:li:person:x&y=z"
        );
    }

    #[test]
    fn segment_ids_are_numbers_or_strings() {
        assert_eq!(id_text(&json!(546109929)).as_deref(), Some("546109929"));
        assert_eq!(
            id_text(&json!("dmp_segment_id")).as_deref(),
            Some("dmp_segment_id")
        );
        assert_eq!(id_text(&Value::Null), None);
        assert_eq!(id_text(&json!({"id": 1})), None);
        assert_eq!(id_text(&json!(true)), None);
    }

    #[test]
    fn a_lookup_answer_without_elements_is_an_error() {
        assert_eq!(elements_of(&json!({"elements": [1]})).unwrap().len(), 1);
        let e = elements_of(&json!({"paging": {}})).unwrap_err();
        assert_eq!(e.status(), Some(502));
    }
}
