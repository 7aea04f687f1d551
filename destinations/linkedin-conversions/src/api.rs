//! Every request the destination makes on the wire, and nothing else: URLs with their Rest.li
//! encodings, bodies with the reference's key order, and the parsing of LinkedIn's answers
//! ([`elements`]). What the answers mean — hook results, dynamic-field choices, per-event
//! results — is decided by the action (`crate::actions::stream_conversion`).
//!
//! [`ConversionsApi`] wraps a [`RequestClient`]; the destination's client adds the
//! authorization, `LinkedIn-Version` and `X-Restli-Protocol-Version` headers and the
//! token-propagation hook (see [`crate::LinkedInConversions`]), a bare client sends none.
//!
//! ```
//! use linkedin_conversions::api::{campaign_conversion_key, encode_uri_component};
//!
//! assert_eq!(encode_uri_component("urn:li:x (1)"), "urn%3Ali%3Ax%20(1)");
//! assert_eq!(
//!     campaign_conversion_key("5", "r1"),
//!     "(campaign:urn%3Ali%3AsponsoredCampaign%3A5,conversion:urn%3Alla%3AllaPartnerConversion%3Ar1)"
//! );
//! ```

use std::fmt::Write as _;

use actions_core::prelude::*;
use linkedin_common::API_BASE;
use serde::Serialize;
use serde_json::Map;

/// The URN prefix of a conversion rule.
pub const CONVERSION_URN: &str = "urn:lla:llaPartnerConversion:";
/// The URN prefix of an ad account.
pub const ACCOUNT_URN: &str = "urn:li:sponsoredAccount:";
/// The URN prefix of a campaign.
pub const CAMPAIGN_URN: &str = "urn:li:sponsoredCampaign:";

/// JavaScript's `encodeURIComponent`: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` is
/// percent-encoded (UTF-8, upper-case hex).
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The Rest.li 2.0 compound key of a campaign ↔ conversion-rule association, as the reference
/// builds it for batch associations: `(campaign:<enc urn>,conversion:<enc urn>)` where the
/// closing parenthesis is inside the encoded part (it is left as is by the encoding).
pub fn campaign_conversion_key(campaign_id: &str, rule_id: &str) -> String {
    format!(
        "(campaign:{},conversion:{})",
        encode_uri_component(&format!("{CAMPAIGN_URN}{campaign_id}")),
        encode_uri_component(&format!("{CONVERSION_URN}{rule_id}"))
    )
}

/// The bare id of an ad account given as a URN (`urn:li:sponsoredAccount:123` → `123`) or as
/// an id (returned as is).
///
/// ```
/// use linkedin_conversions::api::account_id;
/// assert_eq!(account_id("urn:li:sponsoredAccount:123"), "123");
/// assert_eq!(account_id("123"), "123");
/// assert_eq!(account_id("urn:li:sponsoredAccount:"), "");
/// ```
pub fn account_id(account: &str) -> &str {
    account.rsplit(':').next().unwrap_or(account)
}

/// The `elements` of a list answer, or an error standing for the reference's `TypeError` on an
/// answer without them.
pub fn elements(response: &Response) -> Result<&[Value], Error> {
    response
        .data()
        .and_then(|d| d.get("elements"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| Error::plain("LinkedIn's answer has no elements list."))
}

/// The batch request body, serialised straight from the borrowed elements.
#[derive(Serialize)]
struct BatchBody<'a> {
    elements: &'a [Value],
}

/// The LinkedIn Conversions API, as the destination calls it. Non-2xx answers are the client's
/// HTTP errors (the reference's `HTTPError`).
///
/// ```no_run
/// use actions_core::request::{HttpClient, RequestClient, RequestOptions};
/// use linkedin_conversions::api::{ConversionsApi, elements};
/// # async fn demo() -> Result<(), actions_core::Error> {
/// let client = RequestClient::new(HttpClient::new()?, RequestOptions::new());
/// let answer = ConversionsApi::new(&client)
///     .get_conversion_rules_list("urn:li:sponsoredAccount:123")
///     .await?;
/// println!("{} rules", elements(&answer)?.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ConversionsApi<'a> {
    client: &'a RequestClient,
}

impl<'a> ConversionsApi<'a> {
    /// Calls the API through `client`.
    pub fn new(client: &'a RequestClient) -> Self {
        ConversionsApi { client }
    }

    /// `GET /rest/me`: the member the token belongs to.
    pub async fn get_profile(&self) -> Result<Response, Error> {
        self.client.get(format!("{API_BASE}/me")).send().await
    }

    /// `GET /rest/conversions/{rule}?account={ad account}`: an existing conversion rule.
    pub async fn get_conversion_rule(
        &self,
        ad_account: &str,
        rule_id: &str,
    ) -> Result<Response, Error> {
        self.client
            .get(format!("{API_BASE}/conversions/{rule_id}"))
            .search_params([("account", ad_account)])
            .send()
            .await
    }

    /// `POST /rest/conversions` with `body` (the new rule, keys in the order given).
    pub async fn create_conversion_rule(&self, body: Value) -> Result<Response, Error> {
        self.client
            .post(format!("{API_BASE}/conversions"))
            .json(body)
            .send()
            .await
    }

    /// `POST /rest/conversions/{rule}?account={ad account}` with `X-RestLi-Method:
    /// PARTIAL_UPDATE` and `{"patch": {"$set": changes}}`.
    pub async fn update_conversion_rule(
        &self,
        ad_account: &str,
        rule_id: &str,
        changes: Map<String, Value>,
    ) -> Result<Response, Error> {
        self.client
            .post(format!("{API_BASE}/conversions/{rule_id}"))
            .search_params([("account", ad_account)])
            .header("X-RestLi-Method", "PARTIAL_UPDATE")
            .header("Content-Type", "application/json")
            .json(json!({"patch": {"$set": Value::Object(changes)}}))
            .send()
            .await
    }

    /// `GET /rest/adAccounts?q=search`: the ad accounts the token can see (read them with
    /// [`elements`]).
    pub async fn get_ad_accounts(&self) -> Result<Response, Error> {
        self.client
            .get(format!("{API_BASE}/adAccounts"))
            .search_params([("q", "search")])
            .send()
            .await
    }

    /// `GET /rest/conversions?q=account&account=…&start=0&count=100`: the conversion rules of an
    /// ad account (read them with [`elements`]).
    pub async fn get_conversion_rules_list(&self, ad_account: &str) -> Result<Response, Error> {
        self.client
            .get(format!("{API_BASE}/conversions"))
            .search_params([
                ("q", "account"),
                ("account", ad_account),
                ("start", "0"),
                ("count", "100"),
            ])
            .send()
            .await
    }

    /// `GET /rest/adAccounts/{id}/adCampaigns?q=search&search=(status:(values:List(ACTIVE,DRAFT)))`:
    /// the active and draft campaigns of an ad account, given by its bare id (see [`account_id`]).
    pub async fn get_campaigns_list(&self, ad_account_id: &str) -> Result<Response, Error> {
        self.client
            .get(format!(
                "{API_BASE}/adAccounts/{ad_account_id}/adCampaigns?q=search&search=(status:(values:List(ACTIVE,DRAFT)))"
            ))
            .send()
            .await
    }

    /// Sends one conversion event (`POST /rest/conversionEvents`). A non-2xx answer is the raw
    /// HTTP error, as in the reference.
    pub async fn stream_conversion_event(&self, element: Value) -> Result<Response, Error> {
        self.client
            .post(format!("{API_BASE}/conversionEvents"))
            .json(element)
            .send()
            .await
    }

    /// Sends conversion events in one `BATCH_CREATE` request (`{"elements": [...]}`); the body is
    /// serialised from the borrowed elements.
    pub async fn batch_conversion_add(&self, elements: &[Value]) -> Result<Response, Error> {
        let body = serde_json::to_string(&BatchBody { elements }).map_err(|e| {
            Error::plain(format!(
                "the conversion events could not be serialised: {e}"
            ))
        })?;
        self.client
            .post(format!("{API_BASE}/conversionEvents"))
            .header("X-RestLi-Method", "BATCH_CREATE")
            .header("content-type", "application/json")
            .text(body)
            .send()
            .await
    }

    /// Associates campaigns with the rule `rule_id`: nothing for none, one `PUT` with a text body
    /// for one, a batch `PUT` for several (duplicate ids collapse, first position kept).
    pub async fn bulk_associate_campaigns(
        &self,
        rule_id: &str,
        campaign_ids: &[String],
    ) -> Result<Option<Response>, Error> {
        match campaign_ids {
            [] => Ok(None),
            [one] => self.associate_campaign(rule_id, one).await.map(Some),
            many => {
                let mut keys: Vec<(String, &str)> = Vec::with_capacity(many.len());
                for id in many {
                    if !keys.iter().any(|(_, seen)| *seen == id.as_str()) {
                        keys.push((campaign_conversion_key(id, rule_id), id));
                    }
                }
                let mut entities = Map::new();
                for (key, id) in &keys {
                    entities.insert(
                        key.clone(),
                        json!({
                            "campaign": format!("{CAMPAIGN_URN}{id}"),
                            "conversion": format!("{CONVERSION_URN}{rule_id}"),
                        }),
                    );
                }
                let list = keys
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                self.client
                    .put(format!("{API_BASE}/campaignConversions?ids=List({list})"))
                    .json(json!({"entities": Value::Object(entities)}))
                    .send()
                    .await
                    .map(Some)
            }
        }
    }

    /// Associates one campaign with the rule: the key is written with pre-encoded colons and the
    /// ids raw; the JSON body is sent as text (`text/plain;charset=UTF-8`), as in the reference.
    pub async fn associate_campaign(
        &self,
        rule_id: &str,
        campaign_id: &str,
    ) -> Result<Response, Error> {
        let body = json!({
            "campaign": format!("{CAMPAIGN_URN}{campaign_id}"),
            "conversion": format!("{CONVERSION_URN}{rule_id}"),
        });
        self.client
            .put(format!(
                "{API_BASE}/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A{campaign_id},conversion:urn%3Alla%3AllaPartnerConversion%3A{rule_id})"
            ))
            .text(body.to_string())
            .send()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_uri_component_matches_javascript() {
        assert_eq!(
            encode_uri_component("urn:lla:llaPartnerConversion:r1)"),
            "urn%3Alla%3AllaPartnerConversion%3Ar1)"
        );
        assert_eq!(encode_uri_component("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
        assert_eq!(encode_uri_component("!~*'()-_."), "!~*'()-_.");
        assert_eq!(encode_uri_component("é"), "%C3%A9");
    }
}
