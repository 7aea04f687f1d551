//! Every request the destination makes, built once here: URLs with their Rest.li encodings,
//! bodies with the reference's key order, and the reference's handling of each answer.
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

use actions_core::action::object_without_nones;
use actions_core::prelude::*;
use linkedin_common::API_BASE;
use serde::Serialize;
use serde_json::Map;

use crate::actions::stream_conversion::OnMappingSaveInputs;

/// The URN prefix of a conversion rule.
pub const CONVERSION_URN: &str = "urn:lla:llaPartnerConversion:";
/// The URN prefix of an ad account.
pub const ACCOUNT_URN: &str = "urn:li:sponsoredAccount:";
/// The URN prefix of a campaign.
pub const CAMPAIGN_URN: &str = "urn:li:sponsoredCampaign:";
/// Default post-click attribution window (days).
pub const DEFAULT_POST_CLICK_WINDOW: u64 = 30;
/// Default view-through attribution window (days).
pub const DEFAULT_VIEW_THROUGH_WINDOW: u64 = 7;
/// At most this many bytes of the batch response are copied into the per-event results; beyond
/// it each event gets its own element of LinkedIn's answer (see the README, deviation 6).
pub const BATCH_BODY_COPY_BUDGET: usize = 4 * 1024 * 1024;

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

/// JavaScript truthiness of a JSON value (`null`, `false`, `0`, `NaN`, `""` are falsy).
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// `a || b` on JSON values.
fn or(a: Option<&Value>, b: impl FnOnce() -> Value) -> Value {
    match a {
        Some(v) if truthy(Some(v)) => v.clone(),
        _ => b(),
    }
}

/// The text JavaScript's template literals give a scalar (`"x"`, `123`, `true`); `None` for
/// `null`, arrays and objects.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// JavaScript's `!==` between two JSON values (numbers compare by value).
fn differs(a: &Value, b: Option<&Value>) -> bool {
    match (a, b) {
        (Value::Number(x), Some(Value::Number(y))) => x.as_f64() != y.as_f64(),
        (a, Some(b)) => a != b,
        (_, None) => true,
    }
}

/// A hook failure without saved data.
pub(crate) fn hook_error(message: impl Into<String>, code: &str) -> HookResult {
    HookResult {
        success_message: None,
        saved_data: None,
        error: Some(HookError {
            message: message.into(),
            code: code.to_string(),
        }),
    }
}

/// A dynamic-field failure.
fn field_error(message: impl Into<String>, code: impl Into<String>) -> DynamicFieldResponse {
    DynamicFieldResponse {
        choices: Vec::new(),
        next_page: None,
        error: Some(DynamicFieldError {
            message: message.into(),
            code: code.into(),
        }),
    }
}

/// The reference's "no ad account selected" answer of the rule and campaign lists.
fn account_not_selected() -> DynamicFieldResponse {
    field_error(
        "Please select Ad Account first to get list of Conversion Rules.",
        "FIELD_NOT_SELECTED",
    )
}

/// The reference's catch-all of the dynamic fields: LinkedIn's JSON `message` / `code` when the
/// error carries such a response, else the fallbacks. Errors without a response (the
/// token-propagation error, timeouts, connection failures) get the fallbacks.
fn dynamic_error(e: &Error, fallback_message: &str, fallback_code: &str) -> DynamicFieldResponse {
    let data = e.response().and_then(|r| r.data());
    let message = data
        .and_then(|d| d.get("message"))
        .filter(|m| !m.is_null())
        .map(|m| scalar_text(m).unwrap_or_else(|| m.to_string()))
        .unwrap_or_else(|| fallback_message.to_string());
    let code = data
        .and_then(|d| d.get("code"))
        .filter(|c| !c.is_null())
        .map(|c| scalar_text(c).unwrap_or_else(|| c.to_string()))
        .unwrap_or_else(|| fallback_code.to_string());
    field_error(message, code)
}

/// The `elements` of a list response, or an error standing for the reference's `TypeError` on a
/// response without them.
fn elements(response: &Response) -> Result<&Vec<Value>, Error> {
    response
        .data()
        .and_then(|d| d.get("elements"))
        .and_then(Value::as_array)
        .ok_or_else(|| Error::plain("LinkedIn's answer has no elements list."))
}

/// A label for a dynamic choice.
fn label_of(item: &Value) -> String {
    item.get("name").and_then(scalar_text).unwrap_or_default()
}

/// The batch request body, serialised straight from the borrowed elements.
#[derive(Serialize)]
struct BatchBody<'a> {
    elements: &'a [Value],
}

/// The LinkedIn Conversions API, as the destination calls it.
///
/// ```no_run
/// use actions_core::request::{HttpClient, RequestClient, RequestOptions};
/// use linkedin_conversions::api::ConversionsApi;
/// # async fn demo() -> Result<(), actions_core::Error> {
/// let client = RequestClient::new(HttpClient::new()?, RequestOptions::new());
/// let rules = ConversionsApi::new(&client)
///     .get_conversion_rules_list(Some("urn:li:sponsoredAccount:123"))
///     .await;
/// println!("{} rules", rules.choices.len());
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

    /// `GET /rest/conversions/{rule}?account={ad account}`: an existing conversion rule, as the
    /// hook's saved data (missing values get the reference's placeholders and defaults).
    pub async fn get_conversion_rule(&self, ad_account: &str, rule_id: &str) -> HookResult {
        let response = self
            .client
            .get(format!("{API_BASE}/conversions/{rule_id}"))
            .search_params([("account", ad_account)])
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                return hook_error(
                    format!("Failed to verify conversion rule: {}", e.message()),
                    "CONVERSION_RULE_VERIFICATION_FAILURE",
                );
            }
        };
        let data = response.data();
        let get = |k: &str| data.and_then(|d| d.get(k));
        let mut saved = Map::new();
        saved.insert("id".into(), Value::String(rule_id.to_string()));
        saved.insert(
            "name".into(),
            or(get("name"), || {
                Value::String(format!("No name returned for rule: {rule_id}"))
            }),
        );
        saved.insert(
            "conversionType".into(),
            or(get("type"), || {
                Value::String(format!("No type returned for rule: {rule_id}"))
            }),
        );
        saved.insert(
            "attribution_type".into(),
            or(get("attributionType"), || {
                Value::String(format!("No attribution type returned for rule: {rule_id}"))
            }),
        );
        saved.insert(
            "post_click_attribution_window_size".into(),
            or(get("postClickAttributionWindowSize"), || {
                json!(DEFAULT_POST_CLICK_WINDOW)
            }),
        );
        saved.insert(
            "view_through_attribution_window_size".into(),
            or(get("viewThroughAttributionWindowSize"), || {
                json!(DEFAULT_VIEW_THROUGH_WINDOW)
            }),
        );
        HookResult {
            success_message: Some(format!("Using existing Conversion Rule: {rule_id} ")),
            saved_data: Some(Value::Object(saved)),
            error: None,
        }
    }

    /// Creates a conversion rule (`POST /rest/conversions`), or verifies the existing rule the
    /// inputs name.
    pub async fn create_conversion_rule(&self, inputs: &OnMappingSaveInputs) -> HookResult {
        const CODE: &str = "CONVERSION_RULE_CREATION_FAILURE";
        let Some(ad_account) = inputs.ad_account_id.as_deref().filter(|a| !a.is_empty()) else {
            return hook_error(
                "Failed to create conversion rule: No Ad Account selected.",
                CODE,
            );
        };
        if let Some(rule_id) = inputs.existing_rule_id() {
            return self.get_conversion_rule(ad_account, rule_id).await;
        }
        let body = object_without_nones([
            ("name", inputs.name.clone().map(Value::String)),
            ("account", Some(Value::String(ad_account.to_string()))),
            ("conversionMethod", Some(json!("CONVERSIONS_API"))),
            (
                "postClickAttributionWindowSize",
                Some(inputs.post_click_window()),
            ),
            (
                "viewThroughAttributionWindowSize",
                Some(inputs.view_through_window()),
            ),
            (
                "attributionType",
                inputs.attribution_type.clone().map(Value::String),
            ),
            ("type", inputs.conversion_type.clone().map(Value::String)),
        ]);
        let response = match self
            .client
            .post(format!("{API_BASE}/conversions"))
            .json(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return hook_error(
                    format!("Failed to create conversion rule: {}", e.message()),
                    CODE,
                );
            }
        };
        let data = response.data();
        let get = |k: &str| data.and_then(|d| d.get(k)).filter(|v| !v.is_null());
        // Without the created rule's id the reference would save `undefined` and later send it
        // in URLs; report it instead.
        let Some(id) = get("id").and_then(scalar_text) else {
            return hook_error(
                "Failed to create conversion rule: LinkedIn did not return the created rule.",
                CODE,
            );
        };
        let saved = object_without_nones([
            ("id", get("id").cloned()),
            ("name", get("name").cloned()),
            ("conversionType", get("type").cloned()),
            (
                "attribution_type",
                Some(or(get("attributionType"), || json!("UNKNOWN"))),
            ),
            (
                "post_click_attribution_window_size",
                get("postClickAttributionWindowSize").cloned(),
            ),
            (
                "view_through_attribution_window_size",
                get("viewThroughAttributionWindowSize").cloned(),
            ),
        ]);
        HookResult {
            success_message: Some(format!("Conversion rule {id} created successfully!")),
            saved_data: Some(saved),
            error: None,
        }
    }

    /// Updates the rule saved in `outputs` with what changed in the inputs (`PARTIAL_UPDATE`,
    /// always sent, even when nothing changed — the reference's "no changes" branch is dead), or
    /// verifies the existing rule the inputs name.
    pub async fn update_conversion_rule(
        &self,
        inputs: &OnMappingSaveInputs,
        outputs: Option<&Value>,
    ) -> HookResult {
        const CODE: &str = "CONVERSION_RULE_UPDATE_FAILURE";
        let no_rule = || {
            hook_error(
                "Failed to update conversion rule: No existing rule to update.",
                CODE,
            )
        };
        let Some(outputs) = outputs.filter(|o| truthy(Some(o))) else {
            return no_rule();
        };
        let Some(ad_account) = inputs.ad_account_id.as_deref().filter(|a| !a.is_empty()) else {
            return hook_error(
                "Failed to update conversion rule: No Ad Account selected.",
                CODE,
            );
        };
        if let Some(rule_id) = inputs.existing_rule_id() {
            return self.get_conversion_rule(ad_account, rule_id).await;
        }
        // Saved outputs without an id would put the text `undefined` in the URL.
        let Some(id) = outputs.get("id").and_then(scalar_text) else {
            return no_rule();
        };
        let previous = |k: &str| outputs.get(k);
        let mut changed = Map::new();
        let mut change = |key: &str, input: Option<Value>, saved: &str| {
            if let Some(v) = input.filter(|v| truthy(Some(v)) && differs(v, previous(saved))) {
                changed.insert(key.to_string(), v);
            }
        };
        change("name", inputs.name.clone().map(Value::String), "name");
        change(
            "type",
            inputs.conversion_type.clone().map(Value::String),
            "conversionType",
        );
        change(
            "attributionType",
            inputs.attribution_type.clone().map(Value::String),
            "attribution_type",
        );
        change(
            "postClickAttributionWindowSize",
            inputs
                .post_click_attribution_window_size
                .clone()
                .map(Value::Number),
            "post_click_attribution_window_size",
        );
        change(
            "viewThroughAttributionWindowSize",
            inputs
                .view_through_attribution_window_size
                .clone()
                .map(Value::Number),
            "view_through_attribution_window_size",
        );
        let saved_of = |changed: &Map<String, Value>| {
            let pick = |new: &str, old: &str| -> Option<Value> {
                match changed.get(new) {
                    Some(v) if truthy(Some(v)) => Some(v.clone()),
                    _ => previous(old).cloned(),
                }
            };
            object_without_nones([
                ("id", previous("id").cloned()),
                ("name", pick("name", "name")),
                ("conversionType", pick("type", "conversionType")),
                (
                    "attribution_type",
                    pick("attributionType", "attribution_type"),
                ),
                (
                    "post_click_attribution_window_size",
                    pick(
                        "postClickAttributionWindowSize",
                        "post_click_attribution_window_size",
                    ),
                ),
                (
                    "view_through_attribution_window_size",
                    pick(
                        "viewThroughAttributionWindowSize",
                        "view_through_attribution_window_size",
                    ),
                ),
            ])
        };
        let saved = saved_of(&changed);
        let result = self
            .client
            .post(format!("{API_BASE}/conversions/{id}"))
            .search_params([("account", ad_account)])
            .header("X-RestLi-Method", "PARTIAL_UPDATE")
            .header("Content-Type", "application/json")
            .json(json!({"patch": {"$set": Value::Object(changed)}}))
            .send()
            .await;
        match result {
            Ok(_) => HookResult {
                success_message: Some(format!("Conversion rule {id} updated successfully!")),
                saved_data: Some(saved),
                error: None,
            },
            Err(e) => HookResult {
                success_message: None,
                saved_data: Some(saved_of(&Map::new())),
                error: Some(HookError {
                    message: format!("Failed to update conversion rule: {}", e.message()),
                    code: CODE.to_string(),
                }),
            },
        }
    }

    /// The ad accounts the token can see (`GET /rest/adAccounts?q=search`), as choices valued
    /// with the account URN. Errors become the reference's error answer.
    pub async fn get_ad_accounts(&self) -> DynamicFieldResponse {
        let result = self
            .client
            .get(format!("{API_BASE}/adAccounts"))
            .search_params([("q", "search")])
            .send()
            .await;
        let answer = result.and_then(|response| {
            Ok(elements(&response)?
                .iter()
                .map(|item| DynamicChoice {
                    label: label_of(item),
                    value: Value::String(format!(
                        "{ACCOUNT_URN}{}",
                        item.get("id").and_then(scalar_text).unwrap_or_default()
                    )),
                    description: None,
                })
                .collect::<Vec<_>>())
        });
        match answer {
            Ok(choices) => DynamicFieldResponse {
                choices,
                ..DynamicFieldResponse::default()
            },
            Err(e) => dynamic_error(
                &e,
                "An error occurred while fetching ad accounts.",
                "FETCH_AD_ACCOUNTS_ERROR",
            ),
        }
    }

    /// The enabled Conversions-API rules of an ad account (`GET /rest/conversions?q=account…`),
    /// valued with their ids as LinkedIn returns them.
    pub async fn get_conversion_rules_list(
        &self,
        ad_account: Option<&str>,
    ) -> DynamicFieldResponse {
        let Some(ad_account) = ad_account.filter(|a| !a.is_empty()) else {
            return account_not_selected();
        };
        let result = self
            .client
            .get(format!("{API_BASE}/conversions"))
            .search_params([
                ("q", "account"),
                ("account", ad_account),
                ("start", "0"),
                ("count", "100"),
            ])
            .send()
            .await;
        let answer = result.and_then(|response| {
            Ok(elements(&response)?
                .iter()
                .filter(|item| {
                    item.get("enabled") == Some(&Value::Bool(true))
                        && item.get("conversionMethod").and_then(Value::as_str)
                            == Some("CONVERSIONS_API")
                })
                .map(|item| DynamicChoice {
                    label: label_of(item),
                    value: item.get("id").cloned().unwrap_or(Value::Null),
                    description: None,
                })
                .collect::<Vec<_>>())
        });
        match answer {
            Ok(choices) => DynamicFieldResponse {
                choices,
                ..DynamicFieldResponse::default()
            },
            Err(e) => dynamic_error(
                &e,
                "An error occurred while fetching conversion rules.",
                "FETCH_CONVERSIONS_ERROR",
            ),
        }
    }

    /// The active and draft campaigns of an ad account (given as URN or bare id).
    pub async fn get_campaigns_list(&self, ad_account: Option<&str>) -> DynamicFieldResponse {
        let id = ad_account
            .and_then(|a| a.rsplit(':').next())
            .filter(|id| !id.is_empty());
        let Some(id) = id else {
            return account_not_selected();
        };
        let result = self
            .client
            .get(format!(
                "{API_BASE}/adAccounts/{id}/adCampaigns?q=search&search=(status:(values:List(ACTIVE,DRAFT)))"
            ))
            .send()
            .await;
        let answer = result.and_then(|response| {
            Ok(elements(&response)?
                .iter()
                .map(|item| DynamicChoice {
                    label: label_of(item),
                    value: item.get("id").cloned().unwrap_or(Value::Null),
                    description: None,
                })
                .collect::<Vec<_>>())
        });
        match answer {
            Ok(choices) => DynamicFieldResponse {
                choices,
                ..DynamicFieldResponse::default()
            },
            Err(e) => dynamic_error(
                &e,
                "An error occurred while fetching conversion rules.",
                "FETCH_CONVERSIONS_ERROR",
            ),
        }
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

    #[test]
    fn truthiness_and_strict_equality() {
        assert!(!truthy(None));
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!(""))));
        assert!(!truthy(Some(&json!(null))));
        assert!(truthy(Some(&json!({}))));
        assert!(truthy(Some(&json!("0"))));
        assert!(!differs(&json!(30), Some(&json!(30.0))));
        assert!(differs(&json!(30), Some(&json!("30"))));
        assert!(differs(&json!("a"), None));
    }

    #[test]
    fn scalar_text_is_the_template_literal_text() {
        assert_eq!(scalar_text(&json!(789123)).as_deref(), Some("789123"));
        assert_eq!(scalar_text(&json!("r1")).as_deref(), Some("r1"));
        assert_eq!(scalar_text(&json!(null)), None);
        assert_eq!(scalar_text(&json!({"a": 1})), None);
    }
}
