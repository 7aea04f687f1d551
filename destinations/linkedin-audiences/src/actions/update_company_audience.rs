//! `updateCompanyAudience` ("Sync To LinkedIn DMP Company Segment"): adds companies to or
//! removes them from a LinkedIn DMP company segment, identified by their website domain and/or
//! LinkedIn organisation id.
//!
//! For each segment: the id comes from the state cache (`company_dmpsegment_id_<source segment
//! id>`), else from the lookup (the first COMPANY segment, cached 24 hours), else a new COMPANY
//! segment is created (cached 24 hours); then the deduplicated companies go to
//! `POST /rest/dmpSegments/{id}/companies` (Rest.li 2.0, BATCH_CREATE), one request per 5,000.
//! In a batch every event gets LinkedIn's status for its company.
//!
//! ```
//! use linkedin_audiences::actions::update_company_audience::to_organization_urn;
//! assert_eq!(to_organization_urn(" URN:LI:ORGANIZATION:1035 "), "urn:li:organization:1035");
//! assert_eq!(to_organization_urn("1035"), "urn:li:organization:1035");
//! ```

use actions_core::js;
use actions_core::prelude::*;
use serde::Deserialize;
use serde_json::Map;

use super::{error_entry, fail_part, group_by, path_or};
use crate::Settings;
use crate::api::{self, MAX_ELEMENTS_PER_REQUEST, ORGANIZATION_URN_PREFIX, SegmentType};

/// The prefix of the state-cache key of a company segment id.
pub const CACHE_KEY_PREFIX: &str = "company_dmpsegment_id_";

/// Statuses the reference treats as transient (besides 404 and 409, retried as 429).
pub const RETRYABLE_STATUSES: [u16; 8] = [408, 409, 423, 429, 500, 502, 503, 504];

const NO_IDENTIFIER_MESSAGE: &str = "At least one of 'Company Domain' or 'LinkedIn Company ID' is required in the 'Identifiers' field.";

/// How a company is identified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct CompanyIdentifiers {
    /// The company's website domain, e.g. `example.com` (trimmed and lower-cased).
    #[serde(rename = "companyDomain")]
    #[schemars(title = "Company Domain")]
    pub company_domain: Option<String>,
    /// The company's LinkedIn organisation id, bare (`1035`) or as a URN
    /// (`urn:li:organization:1035`).
    #[serde(rename = "linkedInCompanyId")]
    #[schemars(title = "LinkedIn Company ID")]
    pub linkedin_company_id: Option<String>,
}

/// Whether the company is added to or removed from the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum CompanyAction {
    /// `ADD`.
    #[serde(rename = "ADD")]
    Add,
    /// `REMOVE`.
    #[serde(rename = "REMOVE")]
    Remove,
}

impl CompanyAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CompanyAction::Add => "ADD",
            CompanyAction::Remove => "REMOVE",
        }
    }
}

/// Where the audience comes from; decides which field names the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum AudienceSource {
    /// `ENGAGE_RETL`: Engage or Reverse ETL; the segment is the audience key.
    #[serde(rename = "ENGAGE_RETL")]
    EngageRetl,
    /// `CONNECTIONS`: the segment is the "Segment Name" field.
    #[serde(rename = "CONNECTIONS")]
    Connections,
}

/// The payload of `updateCompanyAudience`.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
pub struct UpdateCompanyAudiencePayload {
    /// The company's identifiers: its website domain, its LinkedIn organisation id, or both.
    #[schemars(
        title = "Company Identifiers",
        extend("x-field" = {"additionalProperties": false, "defaultObjectUI": "keyvalue:only",
            "default": {
                "companyDomain": path_or("$.traits.company_domain", "$.properties.company_domain"),
                "linkedInCompanyId": path_or("$.traits.linkedin_company_id", "$.properties.linkedin_company_id")}})
    )]
    pub identifiers: CompanyIdentifiers,
    /// Whether the company is added to or removed from the segment.
    #[schemars(
        title = "Company Segment Action",
        extend("x-field" = {"choices": [
            {"value": "ADD", "label": "Add to Company Segment"},
            {"value": "REMOVE", "label": "Remove from Company Segment"}]})
    )]
    pub dmp_company_action: CompanyAction,
    /// Where the audience comes from: Engage / Reverse ETL (the segment is named after the
    /// audience key) or Connections (the segment is named by "Segment Name").
    #[schemars(
        title = "Audience Source",
        extend("x-field" = {"default": "ENGAGE_RETL", "choices": [
            {"value": "ENGAGE_RETL", "label": "Engage or Reverse ETL"},
            {"value": "CONNECTIONS", "label": "Connections"}]})
    )]
    pub audience_source: AudienceSource,
    /// The name (and source segment id) of the LinkedIn company segment, for Connections.
    #[serde(default)]
    #[schemars(
        title = "Segment Name",
        extend("x-field" = {
            "required": {"conditions": [
                {"fieldKey": "audience_source", "operator": "is", "value": "CONNECTIONS"}]},
            "depends_on": {"match": "all", "conditions": [
                {"fieldKey": "audience_source", "operator": "is", "value": "CONNECTIONS"}]}})
    )]
    pub segment_name: Option<String>,
    /// The Engage audience key, the segment's name and source segment id for Engage / Reverse
    /// ETL.
    #[serde(default)]
    #[schemars(
        title = "Audience Key",
        extend("x-field" = {"unsafe_hidden": true,
            "default": {"@path": "$.context.personas.computation_key"},
            "required": {"conditions": [
                {"fieldKey": "audience_source", "operator": "is", "value": "ENGAGE_RETL"}]}})
    )]
    pub computation_key: Option<String>,
    /// Send companies in batches.
    #[schemars(
        title = "Enable Batching",
        extend("x-field" = {"default": true, "unsafe_hidden": true})
    )]
    pub enable_batching: Option<bool>,
    /// How many events a batch holds at most.
    #[schemars(
        title = "Batch Size",
        extend("x-field" = {"default": 5000, "unsafe_hidden": true})
    )]
    pub batch_size: Option<f64>,
    /// The fields whose values put events in the same batch.
    #[schemars(
        title = "Batch Keys",
        extend("x-field" = {"unsafe_hidden": true,
            "default": ["dmp_company_action", "audience_source", "segment_name", "computation_key"]})
    )]
    pub batch_keys: Option<Vec<String>>,
}

/// The `updateCompanyAudience` action.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpdateCompanyAudience;

/// `urn:li:organization:<id>` from a bare id or a URN (any case, repeated prefixes and
/// surrounding spaces removed; the id's own case kept).
pub fn to_organization_urn(id: &str) -> String {
    let mut id = id.trim();
    while let Some(rest) = strip_prefix_ignore_case(id, ORGANIZATION_URN_PREFIX) {
        id = rest.trim();
    }
    format!("{ORGANIZATION_URN_PREFIX}{id}")
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// A company as it is sent: the normalised identifiers and the action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Company {
    /// `ADD` / `REMOVE`.
    pub action: CompanyAction,
    /// Trimmed, lower-cased domain.
    pub domain: Option<String>,
    /// `urn:li:organization:<id>`.
    pub organization_urn: Option<String>,
}

impl Company {
    /// Normalises a payload's identifiers; the error message when it has none.
    ///
    /// ```
    /// use linkedin_audiences::actions::update_company_audience::{Company, CompanyAction, CompanyIdentifiers};
    /// let ids = CompanyIdentifiers {
    ///     company_domain: Some(" ACME.com ".into()),
    ///     linkedin_company_id: Some("urn:li:organization:1035".into()),
    /// };
    /// let c = Company::from_identifiers(&ids, CompanyAction::Add).unwrap();
    /// assert_eq!(c.domain.as_deref(), Some("acme.com"));
    /// assert_eq!(c.organization_urn.as_deref(), Some("urn:li:organization:1035"));
    /// assert_eq!(
    ///     c.element().to_string(),
    ///     r#"{"action":"ADD","companyWebsiteDomain":"acme.com","organizationUrn":"urn:li:organization:1035"}"#
    /// );
    /// ```
    pub fn from_identifiers(
        ids: &CompanyIdentifiers,
        action: CompanyAction,
    ) -> Result<Company, &'static str> {
        let domain = ids
            .company_domain
            .as_deref()
            .map(|d| d.trim().to_lowercase())
            .filter(|d| !d.is_empty());
        let id = ids
            .linkedin_company_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(
                |id| match strip_prefix_ignore_case(id, ORGANIZATION_URN_PREFIX) {
                    Some(rest) => rest.trim(),
                    None => id,
                },
            )
            .filter(|id| !id.is_empty());
        if domain.is_none() && id.is_none() {
            return Err(NO_IDENTIFIER_MESSAGE);
        }
        Ok(Company {
            action,
            domain,
            organization_urn: id.map(to_organization_urn),
        })
    }

    /// `{"action", "companyWebsiteDomain"?, "organizationUrn"?}`.
    pub fn element(&self) -> Value {
        let mut m = Map::with_capacity(3);
        m.insert("action".into(), Value::from(self.action.as_str()));
        if let Some(d) = &self.domain {
            m.insert("companyWebsiteDomain".into(), Value::from(d.as_str()));
        }
        if let Some(u) = &self.organization_urn {
            m.insert("organizationUrn".into(), Value::from(u.as_str()));
        }
        Value::Object(m)
    }
}

/// The reference's mapping of a failed status (and LinkedIn's message, if any) to an error:
/// 401 → `InvalidAuthenticationError`; 404 and 409 → `RetryableError` 429; other transient
/// statuses → `RetryableError` with that status; anything else → `APIError`.
pub fn request_error(status: u16, detail: Option<&str>) -> Error {
    let suffix = detail
        .filter(|d| !d.is_empty())
        .map(|d| format!(" LinkedIn returned: {d}"))
        .unwrap_or_default();
    match status {
        401 => Error::invalid_authentication(
            "Invalid LinkedIn OAuth access token. New authentication token will be requested.",
        ),
        409 => Error::retryable(
            format!(
                "Conflict while syncing to the LinkedIn DMP Company Segment. This event will be retried.{suffix}"
            ),
            429,
        ),
        404 => Error::retryable(
            format!(
                "LinkedIn DMP Company Segment is not available yet. It may have just been created. This event will be retried.{suffix}"
            ),
            429,
        ),
        s if RETRYABLE_STATUSES.contains(&s) => Error::retryable(
            format!(
                "Transient error while syncing to the LinkedIn DMP Company Segment. This event will be retried.{suffix}"
            ),
            s,
        ),
        s => Error::api(
            format!(
                "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status {s}.{suffix}"
            ),
            s,
        ),
    }
}

/// The segment name / audience key a payload's segment is looked up and created with.
fn source_segment_id(p: &UpdateCompanyAudiencePayload) -> &str {
    match p.audience_source {
        AudienceSource::Connections => p.segment_name.as_deref(),
        AudienceSource::EngageRetl => p.computation_key.as_deref(),
    }
    .unwrap_or("")
    .trim()
}

fn missing_source_segment_id(source: AudienceSource) -> Error {
    Error::payload_validation(match source {
        AudienceSource::Connections => {
            "The `Segment Name` field is required when Audience Source is \"Connections\"."
        }
        AudienceSource::EngageRetl => {
            "The `Audience Key` field is required to look up or create a LinkedIn DMP Company Segment."
        }
    })
}

/// The id of the company segment `source_id`: cached, the first COMPANY segment of the lookup,
/// or a new one.
async fn resolve_segment_id(
    client: &RequestClient,
    settings: &Settings,
    state: &dyn StateContext,
    source_id: &str,
) -> Result<String, Error> {
    let cache_key = format!("{CACHE_KEY_PREFIX}{source_id}");
    if let Some(cached) = state.get(&cache_key).filter(|v| !v.is_empty()) {
        return Ok(cached);
    }
    let lookup = api::lookup_segments(client, &settings.ad_account_id, source_id, true).await?;
    if !lookup.ok() {
        return Err(request_error(lookup.status(), None));
    }
    let body = lookup.json()?;
    let found = api::elements_of(&body)?.iter().find_map(|s| {
        let id = s.get("id").filter(|id| js::truthy(id))?;
        (s.get("type").and_then(Value::as_str) == Some(SegmentType::Company.as_str()))
            .then(|| api::id_text(id))
            .flatten()
    });
    if let Some(id) = found {
        state.set(&cache_key, id.clone(), Ttl::hours(24));
        return Ok(id);
    }
    let created = api::create_segment(
        client,
        api::create_segment_body(
            Some(source_id),
            source_id,
            &settings.ad_account_id,
            SegmentType::Company,
        ),
        true,
    )
    .await?;
    if !created.ok() {
        return Err(request_error(created.status(), None));
    }
    let id = created
        .header("x-restli-id")
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::integration(
                "LinkedIn did not return an id for the newly created Company Audience.",
                "CREATE_SEGMENT_FAILURE",
                500,
            )
        })?;
    state.set(&cache_key, id.clone(), Ttl::hours(24));
    Ok(id)
}

/// Sends one request of companies; a non-2xx answer becomes [`request_error`].
async fn send_companies(
    client: &RequestClient,
    segment_id: &str,
    elements: &[Value],
) -> Result<Response, Error> {
    let response = api::update_members(client, segment_id, SegmentType::Company, elements).await?;
    if !response.ok() {
        return Err(request_error(response.status(), None));
    }
    Ok(response)
}

/// The per-element results LinkedIn gave (`elements` of a JSON answer; none otherwise).
fn element_results(response: &Response) -> &[Value] {
    response
        .data()
        .and_then(|d| d.get("elements"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn element_status(result: &Value) -> Option<u16> {
    result
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
}

fn element_message(result: &Value) -> Option<&str> {
    result
        .get("error")
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
}

/// The multistatus entry of one company from LinkedIn's per-element result.
fn company_entry(element: &Value, result: Option<&Value>) -> MultiStatusEntry {
    match result.and_then(|r| element_status(r).map(|s| (r, s))) {
        Some((r, status)) if (200..300).contains(&status) => MultiStatusEntry::Success {
            status,
            sent: Some(element.clone()),
            body: Some(r.clone()),
        },
        _ => MultiStatusEntry::Error {
            status: result.and_then(element_status).unwrap_or(400),
            errortype: Some("BAD_REQUEST".to_string()),
            errormessage: result
                .and_then(element_message)
                .filter(|m| !m.is_empty())
                .unwrap_or("LinkedIn did not return a result for this company.")
                .to_string(),
            sent: Some(element.clone()),
            body: Some(result.cloned().unwrap_or_else(|| json!({}))),
        },
    }
}

#[async_trait]
impl Action<Settings> for UpdateCompanyAudience {
    type Payload = UpdateCompanyAudiencePayload;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new(
            "updateCompanyAudience",
            "Sync To LinkedIn DMP Company Segment",
            "Syncs companies to LinkedIn DMP Company Segments.",
        )
        .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, UpdateCompanyAudiencePayload>,
    ) -> Result<Option<Value>, Error> {
        api::require_access_token(input.auth)?;
        let payload = &input.payload;
        let company = Company::from_identifiers(&payload.identifiers, payload.dmp_company_action)
            .map_err(Error::payload_validation)?;
        let source_id = source_segment_id(payload);
        if source_id.is_empty() {
            return Err(missing_source_segment_id(payload.audience_source));
        }
        let segment_id = resolve_segment_id(
            client,
            input.settings,
            input.services.state.as_ref(),
            source_id,
        )
        .await?;
        let response = send_companies(client, &segment_id, &[company.element()]).await?;
        match element_results(&response).first() {
            Some(r) if element_status(r).is_some_and(|s| (200..300).contains(&s)) => {
                Ok(Some(response.result_data()))
            }
            r => Err(request_error(
                r.and_then(element_status).unwrap_or(400),
                r.and_then(element_message),
            )),
        }
    }

    fn supports_batch(&self) -> bool {
        true
    }

    /// Invalid payloads get a 400 each; the rest go, per segment, deduplicated, in requests of
    /// at most 5,000 companies; every event gets LinkedIn's result for its company. An error
    /// that concerns the whole batch (one segment in one request, as in the reference;
    /// credentials) fails it; an error of one segment or one request of several marks only its
    /// items.
    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<UpdateCompanyAudiencePayload>>,
    ) -> Result<BatchResponse, Error> {
        api::require_access_token(input.auth)?;
        let payloads = &input.payload;
        let mut statuses = MultiStatusResponse::new();
        let mut companies: Vec<Option<Company>> = Vec::with_capacity(payloads.len());
        for (i, p) in payloads.iter().enumerate() {
            match Company::from_identifiers(&p.identifiers, p.dmp_company_action) {
                Ok(c) => companies.push(Some(c)),
                Err(message) => {
                    statuses.set_at(
                        i,
                        error_entry(&Error::payload_validation(message), None, None),
                    );
                    companies.push(None);
                }
            }
        }
        let groups = group_by(
            payloads
                .iter()
                .enumerate()
                .filter(|(i, _)| companies.get(*i).is_some_and(Option::is_some))
                .map(|(i, p)| (i, (p.audience_source, source_segment_id(p)))),
        );
        let whole = groups.len() == 1;
        for ((source, source_id), indices) in &groups {
            let resolved = if source_id.is_empty() {
                Err(missing_source_segment_id(*source))
            } else {
                resolve_segment_id(
                    client,
                    input.settings,
                    input.services.state.as_ref(),
                    source_id,
                )
                .await
            };
            let segment_id = match resolved {
                Ok(id) => id,
                Err(e) => {
                    fail_part(&mut statuses, e, whole, indices.iter().map(|&i| (i, None)))?;
                    continue;
                }
            };
            // One element per distinct company (first-seen order), with every event it stands
            // for.
            let unique = group_by(
                indices
                    .iter()
                    .filter_map(|&i| companies.get(i).and_then(Option::as_ref).map(|c| (i, c))),
            );
            let request_count = unique.len().div_ceil(MAX_ELEMENTS_PER_REQUEST);
            for chunk in unique.chunks(MAX_ELEMENTS_PER_REQUEST) {
                let elements: Vec<Value> = chunk.iter().map(|(c, _)| c.element()).collect();
                match send_companies(client, &segment_id, &elements).await {
                    Ok(response) => {
                        let results = element_results(&response);
                        for (k, (element, (_, events))) in elements.iter().zip(chunk).enumerate() {
                            let entry = company_entry(element, results.get(k));
                            for &i in events {
                                statuses.set_at(i, entry.clone());
                            }
                        }
                    }
                    Err(e) => {
                        let items =
                            elements
                                .iter()
                                .zip(chunk)
                                .flat_map(|(element, (_, events))| {
                                    events.iter().map(|&i| (i, Some(element.clone())))
                                });
                        fail_part(&mut statuses, e, whole && request_count == 1, items)?;
                    }
                }
            }
        }
        Ok(BatchResponse::MultiStatus(statuses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's unit cases (7.3): bare ids, URNs (doubled, any prefix case), surrounding
    /// spaces; the id's own case is kept.
    #[test]
    fn organization_urns_are_normalised() {
        for id in [
            "1035",
            "urn:li:organization:1035",
            "urn:li:organization:urn:li:organization:1035",
            "URN:LI:ORGANIZATION:1035",
            "  1035  ",
        ] {
            assert_eq!(
                to_organization_urn(id),
                "urn:li:organization:1035",
                "{id:?}"
            );
        }
        assert_eq!(to_organization_urn("AbC"), "urn:li:organization:AbC");
    }

    #[test]
    fn a_company_needs_an_identifier() {
        let ids = |d: Option<&str>, id: Option<&str>| CompanyIdentifiers {
            company_domain: d.map(str::to_string),
            linkedin_company_id: id.map(str::to_string),
        };
        for (d, id) in [
            (None, None),
            (Some("  "), None),
            (None, Some("urn:li:organization:")),
            (None, Some(" URN:li:organization:  ")),
        ] {
            assert_eq!(
                Company::from_identifiers(&ids(d, id), CompanyAction::Add),
                Err(NO_IDENTIFIER_MESSAGE),
                "{d:?} {id:?}"
            );
        }
        let c =
            Company::from_identifiers(&ids(Some("t$O9PpW&"), Some("t$O9PpW&")), CompanyAction::Add)
                .unwrap();
        assert_eq!(
            c.element().to_string(),
            r#"{"action":"ADD","companyWebsiteDomain":"t$o9ppw&","organizationUrn":"urn:li:organization:t$O9PpW&"}"#
        );
    }

    #[test]
    fn statuses_map_to_the_reference_errors() {
        let e = request_error(404, None);
        assert_eq!(
            (e.class().name(), e.status()),
            ("RetryableError", Some(429))
        );
        assert_eq!(request_error(409, None).status(), Some(429));
        assert_eq!(request_error(503, None).status(), Some(503));
        let e = request_error(401, None);
        assert_eq!(e.code(), Some("INVALID_AUTHENTICATION"));
        let e = request_error(400, Some("Invalid organization urn"));
        assert_eq!(e.class().name(), "APIError");
        assert_eq!(e.code(), Some("400"));
        assert_eq!(
            e.message(),
            "Failed to update LinkedIn DMP Company Segment. LinkedIn returned status 400. LinkedIn returned: Invalid organization urn"
        );
        assert_eq!(request_error(501, None).class().name(), "APIError");
    }

    #[test]
    fn element_results_become_entries() {
        let el = json!({"action": "ADD", "companyWebsiteDomain": "a.com"});
        assert_eq!(
            company_entry(&el, Some(&json!({"status": 201}))),
            MultiStatusEntry::Success {
                status: 201,
                sent: Some(el.clone()),
                body: Some(json!({"status": 201}))
            }
        );
        let rejected = json!({"status": 400, "error": {"message": "Invalid company"}});
        assert_eq!(
            company_entry(&el, Some(&rejected)),
            MultiStatusEntry::Error {
                status: 400,
                errortype: Some("BAD_REQUEST".into()),
                errormessage: "Invalid company".into(),
                sent: Some(el.clone()),
                body: Some(rejected.clone())
            }
        );
        assert_eq!(
            company_entry(&el, None),
            MultiStatusEntry::Error {
                status: 400,
                errortype: Some("BAD_REQUEST".into()),
                errormessage: "LinkedIn did not return a result for this company.".into(),
                sent: Some(el.clone()),
                body: Some(json!({}))
            }
        );
    }
}
