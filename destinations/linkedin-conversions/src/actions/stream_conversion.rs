//! The `streamConversion` action: sends conversion events to a LinkedIn conversion rule, one at a
//! time (`perform`) or in `BATCH_CREATE` requests with a result per event (`perform_batch`); its
//! `onMappingSave` hook creates, verifies or updates the conversion rule and associates campaigns;
//! its dynamic fields list ad accounts, conversion rules and campaigns.

use actions_core::action::missing_dynamic_field;
use actions_core::prelude::*;
use linkedin_common::process_hashing;
use serde::Deserialize;
use serde_json::{Map, Number};

use crate::api::{CONVERSION_URN, ConversionsApi, hook_error, scalar_text, truthy};
use crate::settings::Settings;
use crate::timestamp::{NINETY_DAYS_MS, conversion_time};

/// The action key.
pub const ACTION_KEY: &str = "streamConversion";
/// The hook key.
pub const HOOK_KEY: &str = "onMappingSave";

/// The payload of `streamConversion` (its fields are derived from this type).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct StreamConversionPayload {
    /// When the conversion happened: epoch milliseconds (for example `1714813600000`) or an ISO-8601 date. Timestamps in seconds must be turned into milliseconds first. LinkedIn only accepts conversions from the past 90 days.
    #[serde(rename = "conversionHappenedAt")]
    #[schemars(
        title = "Timestamp",
        extend("x-field" = {"default": {"@path": "$.timestamp"}})
    )]
    pub conversion_happened_at: String,
    /// The monetary value of the conversion: a currency code and an amount, for example `{"currencyCode": "USD", "amount": "50.0"}`.
    #[serde(rename = "conversionValue", default)]
    #[schemars(
        title = "Conversion Value",
        with = "Option<ConversionValue>",
        extend("x-field" = {
            "defaultObjectUI": "keyvalue:only",
            "default": {
                "currencyCode": {"@path": "$.properties.currency"},
                "amount": {"@path": "$.properties.revenue"}
            }
        })
    )]
    pub conversion_value: Option<Map<String, Value>>,
    /// A unique id of the event. LinkedIn uses it to recognise a conversion sent more than once.
    #[serde(rename = "eventId", default)]
    #[schemars(
        title = "Event ID",
        extend("x-field" = {"default": {"@path": "$.messageId"}})
    )]
    pub event_id: Option<String>,
    /// The user's email address. It is lower-cased and SHA-256 hashed before it is sent, unless it already is a SHA-256 hash.
    #[serde(default)]
    #[schemars(
        title = "Email",
        extend("x-field" = {"default": {"@path": "$.traits.email"}, "category": "hashedPII"})
    )]
    pub email: Option<String>,
    /// The first-party ads tracking UUID LinkedIn added to the ad click (`li_fat_id`).
    #[serde(rename = "linkedInUUID", default)]
    #[schemars(title = "LinkedIn First Party Ads Tracking UUID")]
    pub linkedin_uuid: Option<String>,
    /// The user's Acxiom ID.
    #[serde(rename = "acxiomID", default)]
    #[schemars(title = "Acxiom ID")]
    pub acxiom_id: Option<String>,
    /// The user's Oracle MOAT ID.
    #[serde(rename = "oracleID", default)]
    #[schemars(title = "Oracle ID")]
    pub oracle_id: Option<String>,
    /// The user's name and, optionally, company, job title and country. LinkedIn uses it to match users when no other identifier matches; first and last name are required when it is used.
    #[serde(rename = "userInfo", default)]
    #[schemars(
        title = "User Info",
        with = "Option<UserInfo>",
        extend("x-field" = {"defaultObjectUI": "keyvalue"})
    )]
    pub user_info: Option<Map<String, Value>>,
    /// An identifier of the user in your own systems. LinkedIn takes one, so only the first value is sent.
    #[serde(rename = "externalIds", default)]
    #[schemars(title = "External ID")]
    pub external_ids: Option<Vec<String>>,
    /// Send events to LinkedIn in batches.
    #[serde(default)]
    #[schemars(
        title = "Enable Batching",
        extend("x-field" = {"default": true, "unsafe_hidden": true})
    )]
    pub enable_batching: Option<bool>,
    /// The most events sent in one batch request.
    #[serde(default)]
    #[schemars(
        title = "Batch Size",
        extend("x-field" = {"default": 5000, "unsafe_hidden": true})
    )]
    pub batch_size: Option<f64>,
}

/// The shape of `conversionValue` (the payload keeps the mapped object as is, in its key order).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct ConversionValue {
    /// The ISO 4217 currency code, for example `USD`.
    #[serde(rename = "currencyCode")]
    #[schemars(title = "Currency Code")]
    pub currency_code: String,
    /// The amount as a decimal number, for example `50.0`.
    #[schemars(title = "Amount")]
    pub amount: String,
}

/// The shape of `userInfo` (the payload keeps the mapped object as is, in its key order).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct UserInfo {
    /// The user's first name.
    #[serde(rename = "firstName")]
    #[schemars(title = "First Name")]
    pub first_name: String,
    /// The user's last name.
    #[serde(rename = "lastName")]
    #[schemars(title = "Last Name")]
    pub last_name: String,
    /// The company the user works for.
    #[serde(rename = "companyName", default)]
    #[schemars(title = "Company Name")]
    pub company_name: Option<String>,
    /// The user's job title.
    #[serde(default)]
    #[schemars(title = "Title")]
    pub title: Option<String>,
    /// The user's country, as an ISO 3166-1 alpha-2 code (for example `US`).
    #[serde(rename = "countryCode", default)]
    #[schemars(title = "Country Code")]
    pub country_code: Option<String>,
}

/// The inputs of the `onMappingSave` hook.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct OnMappingSaveInputs {
    /// The ad account the conversion rule belongs to.
    #[serde(rename = "adAccountId", default)]
    #[schemars(
        title = "Ad Account",
        extend("x-field" = {"required": true, "dynamic": true})
    )]
    pub ad_account_id: Option<String>,
    /// Campaigns to attribute conversions of this rule to.
    #[serde(rename = "campaignId", default)]
    #[schemars(
        title = "Add Campaigns to Conversion",
        extend("x-field" = {"dynamic": true})
    )]
    pub campaign_id: Option<Vec<String>>,
    /// An existing conversion rule to use. Leave it empty to create a new rule from the fields below.
    #[serde(rename = "conversionRuleId", default)]
    #[schemars(
        title = "Existing Conversion Rule ID",
        extend("x-field" = {"dynamic": true})
    )]
    pub conversion_rule_id: Option<String>,
    /// The name of the new conversion rule.
    #[serde(default)]
    #[schemars(
        title = "Name",
        extend("x-field" = {"depends_on": {"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]}})
    )]
    pub name: Option<String>,
    /// What kind of conversion the new rule counts.
    #[serde(rename = "conversionType", default)]
    #[schemars(
        title = "Conversion Type",
        extend("x-field" = {
            "choices": [
                {"value": "ADD_TO_CART", "label": "Add to Cart"},
                {"value": "DOWNLOAD", "label": "Download"},
                {"value": "INSTALL", "label": "Install"},
                {"value": "KEY_PAGE_VIEW", "label": "Key Page View"},
                {"value": "LEAD", "label": "Lead"},
                {"value": "PURCHASE", "label": "Purchase"},
                {"value": "SIGN_UP", "label": "Sign Up"},
                {"value": "OTHER", "label": "Other"},
                {"value": "TALENT_LEAD", "label": "Talent Lead"},
                {"value": "JOB_APPLY", "label": "Job Apply"},
                {"value": "SAVE", "label": "Save"},
                {"value": "START_CHECKOUT", "label": "Start Checkout"},
                {"value": "SCHEDULE", "label": "Schedule"},
                {"value": "VIEW_CONTENT", "label": "View Content"},
                {"value": "VIEW_VIDEO", "label": "View Video"},
                {"value": "ADD_BILLING_INFO", "label": "Add Billing Info"},
                {"value": "BOOK_APPOINTMENT", "label": "Book Appointment"},
                {"value": "REQUEST_QUOTE", "label": "Request Quote"},
                {"value": "SEARCH", "label": "Search"},
                {"value": "SUBSCRIBE", "label": "Subscribe"},
                {"value": "AD_CLICK", "label": "Ad Click"},
                {"value": "AD_VIEW", "label": "Ad View"},
                {"value": "COMPLETE_SIGNUP", "label": "Complete Signup"},
                {"value": "SUBMIT_APPLICATION", "label": "Submit Application"},
                {"value": "PHONE_CALL", "label": "Phone Call"},
                {"value": "INVITE", "label": "Invite"},
                {"value": "LOGIN", "label": "Login"},
                {"value": "SHARE", "label": "Share"},
                {"value": "DONATE", "label": "Donate"},
                {"value": "ADD_TO_LIST", "label": "Add to List"},
                {"value": "RATE", "label": "Rate"},
                {"value": "START_TRIAL", "label": "Start Trial"},
                {"value": "OUTBOUND_CLICK", "label": "Outbound Click"},
                {"value": "CONTACT", "label": "Contact"},
                {"value": "MARKETING_QUALIFIED_LEAD", "label": "Marketing Qualified Lead"},
                {"value": "SALES_QUALIFIED_LEAD", "label": "Sales Qualified Lead"}
            ],
            "depends_on": {"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]}
        })
    )]
    pub conversion_type: Option<String>,
    /// How conversions are credited: to every campaign the user engaged with, or to the last one only.
    #[serde(default)]
    #[schemars(
        title = "Attribution Type",
        extend("x-field" = {
            "choices": [
                {"value": "LAST_TOUCH_BY_CAMPAIGN", "label": "Each Campaign"},
                {"value": "LAST_TOUCH_BY_CONVERSION", "label": "Single Campaign"}
            ],
            "depends_on": {"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]}
        })
    )]
    pub attribution_type: Option<String>,
    /// How many days after a click on an ad a conversion is still credited to it (1, 7, 30 or 90; 30 by default).
    #[serde(default)]
    #[schemars(
        title = "Post-Click Attribution Window Size",
        with = "Option<f64>",
        extend("x-field" = {
            "default": 30,
            "choices": [
                {"value": 1, "label": "1 day"},
                {"value": 7, "label": "7 days"},
                {"value": 30, "label": "30 days"},
                {"value": 90, "label": "90 days"}
            ],
            "depends_on": {"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]}
        })
    )]
    pub post_click_attribution_window_size: Option<Number>,
    /// How many days after an ad was viewed a conversion is still credited to it (1, 7, 30 or 90; 7 by default).
    #[serde(default)]
    #[schemars(
        title = "View-Through Attribution Window Size",
        with = "Option<f64>",
        extend("x-field" = {
            "default": 7,
            "choices": [
                {"value": 1, "label": "1 day"},
                {"value": 7, "label": "7 days"},
                {"value": 30, "label": "30 days"},
                {"value": 90, "label": "90 days"}
            ],
            "depends_on": {"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]}
        })
    )]
    pub view_through_attribution_window_size: Option<Number>,
}

impl OnMappingSaveInputs {
    /// The existing rule the inputs name, if any (non-empty).
    pub fn existing_rule_id(&self) -> Option<&str> {
        self.conversion_rule_id.as_deref().filter(|r| !r.is_empty())
    }

    /// The post-click window to create a rule with (`input || 30`).
    pub fn post_click_window(&self) -> Value {
        window_or(
            self.post_click_attribution_window_size.as_ref(),
            crate::api::DEFAULT_POST_CLICK_WINDOW,
        )
    }

    /// The view-through window to create a rule with (`input || 7`).
    pub fn view_through_window(&self) -> Value {
        window_or(
            self.view_through_attribution_window_size.as_ref(),
            crate::api::DEFAULT_VIEW_THROUGH_WINDOW,
        )
    }

    /// The labels of the fields a new rule needs but the inputs lack, in the reference's order.
    pub fn missing_for_new_rule(&self) -> Vec<&'static str> {
        let empty = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
        let mut missing = Vec::new();
        if empty(&self.name) {
            missing.push("Name");
        }
        if empty(&self.conversion_type) {
            missing.push("Conversion Type");
        }
        if empty(&self.attribution_type) {
            missing.push("Attribution Type");
        }
        missing
    }
}

fn window_or(input: Option<&Number>, default: u64) -> Value {
    match input {
        Some(n) if n.as_f64().is_some_and(|f| f != 0.0) => Value::Number(n.clone()),
        _ => Value::Number(default.into()),
    }
}

/// The hook's definition: label, description, input fields (derived from
/// [`OnMappingSaveInputs`]) and output types.
pub fn on_mapping_save_hook() -> Result<ActionHookDefinition, Error> {
    let input_fields = actions_core::fields::fields_of::<OnMappingSaveInputs>().map_err(|e| {
        Error::plain(format!(
            "the onMappingSave inputs could not be derived: {e}"
        ))
    })?;
    let output = |label: &str, description: &str, kind: &str| HookOutputType {
        label: label.to_string(),
        description: description.to_string(),
        kind: kind.to_string(),
        required: true,
    };
    Ok(ActionHookDefinition {
        key: HOOK_KEY.to_string(),
        label: "Create a Conversion Rule".to_string(),
        description: "When saving this mapping, we will create a conversion rule in LinkedIn using the fields you provided.\n To configure: either provide an existing conversion rule ID or fill in the fields below to create a new conversion rule.".to_string(),
        input_fields,
        output_types: [
            ("id", output("ID", "The ID of the conversion rule.", "string")),
            ("name", output("Name", "The name of the conversion rule.", "string")),
            (
                "conversionType",
                output("Conversion Type", "The type of the conversion rule.", "string"),
            ),
            (
                "attribution_type",
                output(
                    "Attribution Type",
                    "How the conversion rule attributes conversions to campaigns.",
                    "string",
                ),
            ),
            (
                "post_click_attribution_window_size",
                output(
                    "Post-Click Attribution Window Size",
                    "The post-click attribution window of the rule, in days.",
                    "number",
                ),
            ),
            (
                "view_through_attribution_window_size",
                output(
                    "View-Through Attribution Window Size",
                    "The view-through attribution window of the rule, in days.",
                    "number",
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    })
}

/// The conversion rule id saved by the hook (`mapping.onMappingSave.outputs.id`), when truthy.
pub fn conversion_rule_id(raw_mapping: &Value) -> Option<String> {
    let id = raw_mapping
        .get(HOOK_KEY)?
        .get("outputs")?
        .get("id")
        .filter(|v| truthy(Some(v)))?;
    scalar_text(id)
}

/// The reference's `validate`, after computing the conversion time: the time must be a date,
/// not older than 90 days before `now_ms`, and the payload must carry one identifier. Returns the
/// conversion time.
pub fn validate(
    payload: &StreamConversionPayload,
    time: Option<i64>,
    now_ms: i64,
) -> Result<i64, Error> {
    let time = time.ok_or_else(|| Error::payload_validation("Timestamp is not a valid date."))?;
    if time < now_ms.saturating_sub(NINETY_DAYS_MS) {
        return Err(Error::payload_validation(
            "Timestamp should be within the past 90 days.",
        ));
    }
    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if !(present(&payload.email)
        || present(&payload.linkedin_uuid)
        || present(&payload.acxiom_id)
        || present(&payload.oracle_id))
    {
        return Err(Error::payload_validation(
            "One of email or LinkedIn UUID or Acxiom ID or Oracle ID is required.",
        ));
    }
    Ok(time)
}

fn lowercase(s: &str) -> String {
    s.to_lowercase()
}

/// One conversion event as LinkedIn takes it (the body of a single POST, or one batch element),
/// keys in the reference's order; the mapped `conversionValue` and `userInfo` objects move in
/// unchanged (their key order is the mapping's).
///
/// ```
/// use linkedin_conversions::actions::stream_conversion::{conversion_element, validate};
/// use linkedin_conversions::timestamp::conversion_time;
///
/// let payload = serde_json::from_value(serde_json::json!({
///     "conversionHappenedAt": "1714813600000",
///     "email": "Nick@Twilio.com",
///     "conversionValue": {"currencyCode": "USD", "amount": "100"}
/// })).unwrap();
/// let now = 1_714_900_000_000;
/// let time = validate(&payload, conversion_time("1714813600000"), now).unwrap();
/// let element = conversion_element("1234", time, payload);
/// assert_eq!(element.to_string(), concat!(
///     r#"{"conversion":"urn:lla:llaPartnerConversion:1234","conversionHappenedAt":1714813600000,"#,
///     r#""conversionValue":{"currencyCode":"USD","amount":"100"},"#,
///     r#""user":{"userIds":[{"idType":"SHA256_EMAIL","#,
///     r#""idValue":"e290e11fef012fc831059c96e9186cda491dd0b259641815f23463cb4c54b7e1"}]}}"#));
/// ```
pub fn conversion_element(rule_id: &str, time: i64, payload: StreamConversionPayload) -> Value {
    let id = |kind: &str, value: String| json!({"idType": kind, "idValue": value});
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let mut user_ids = Vec::with_capacity(4);
    if let Some(email) = non_empty(payload.email) {
        user_ids.push(id("SHA256_EMAIL", process_hashing(&email, Some(lowercase))));
    }
    if let Some(v) = non_empty(payload.linkedin_uuid) {
        user_ids.push(id("LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", v));
    }
    if let Some(v) = non_empty(payload.acxiom_id) {
        user_ids.push(id("AXCIOM_ID", v));
    }
    if let Some(v) = non_empty(payload.oracle_id) {
        user_ids.push(id("ORACLE_MOAT_ID", v));
    }
    let mut user = Map::with_capacity(3);
    user.insert("userIds".into(), Value::Array(user_ids));
    if let Some(info) = payload.user_info {
        user.insert("userInfo".into(), Value::Object(info));
    }
    if let Some(first) = payload.external_ids.and_then(|ids| ids.into_iter().next()) {
        user.insert("externalIds".into(), json!([first]));
    }
    let mut element = Map::with_capacity(5);
    element.insert(
        "conversion".into(),
        Value::String(format!("{CONVERSION_URN}{rule_id}")),
    );
    element.insert("conversionHappenedAt".into(), Value::from(time));
    if let Some(value) = payload.conversion_value {
        element.insert("conversionValue".into(), Value::Object(value));
    }
    if let Some(event_id) = payload.event_id {
        element.insert("eventId".into(), Value::String(event_id));
    }
    element.insert("user".into(), Value::Object(user));
    Value::Object(element)
}

fn rule_id_required() -> Error {
    Error::payload_validation("Conversion Rule ID is required.")
}

/// The per-event `body` of a successful batch: LinkedIn's whole answer for every event, as in
/// the reference, while that stays within [`crate::api::BATCH_BODY_COPY_BUDGET`]; beyond it each
/// event gets its own element of the answer (or nothing when the answer has no such element).
fn batch_bodies(response: &Response, count: usize) -> Vec<Option<Value>> {
    let content = response.content();
    if content.len().saturating_mul(count) <= crate::api::BATCH_BODY_COPY_BUDGET {
        return vec![Some(Value::String(content.to_string())); count];
    }
    let parsed: Option<Value> = serde_json::from_str(content).ok();
    let own = parsed
        .as_ref()
        .and_then(|v| v.get("elements"))
        .and_then(Value::as_array);
    (0..count)
        .map(|k| {
            own.and_then(|elements| elements.get(k))
                .map(|e| Value::String(e.to_string()))
        })
        .collect()
}

/// The reference's `JSON.stringify(error)` stand-in for the association failure message.
fn error_summary(e: &Error) -> String {
    let mut m = Map::new();
    m.insert("name".into(), json!(e.class().name()));
    m.insert("message".into(), json!(e.message()));
    if let Some(status) = e.status().or_else(|| e.response().map(Response::status)) {
        m.insert("status".into(), json!(status));
    }
    Value::Object(m).to_string()
}

/// The `streamConversion` action.
///
/// ```
/// use actions_core::prelude::*;
/// use linkedin_conversions::{Settings, StreamConversion};
///
/// let definition = Action::<Settings>::definition(&StreamConversion);
/// assert_eq!(definition.key, "streamConversion");
/// assert_eq!(definition.default_subscription.as_deref(), Some("type = \"track\""));
/// assert!(Action::<Settings>::supports_batch(&StreamConversion));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamConversion;

#[async_trait]
impl Action<Settings> for StreamConversion {
    type Payload = StreamConversionPayload;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new(
            ACTION_KEY,
            "Stream Conversion Event",
            "Directly streams conversion events to a specific conversion rule.",
        )
        .default_subscription("type = \"track\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, StreamConversionPayload>,
    ) -> Result<Option<Value>, Error> {
        let time = conversion_time(&input.payload.conversion_happened_at);
        let time = validate(&input.payload, time, input.services.now_ms())?;
        let rule_id = conversion_rule_id(input.raw_mapping).ok_or_else(rule_id_required)?;
        let element = conversion_element(&rule_id, time, input.payload);
        let response = ConversionsApi::new(client)
            .stream_conversion_event(element)
            .await?;
        Ok(Some(response.result_data()))
    }

    fn supports_batch(&self) -> bool {
        true
    }

    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<StreamConversionPayload>>,
    ) -> Result<BatchResponse, Error> {
        let rule_id = conversion_rule_id(input.raw_mapping).ok_or_else(rule_id_required)?;
        let now = input.services.now_ms();
        let mut statuses = MultiStatusResponse::new();
        let mut elements = Vec::with_capacity(input.payload.len());
        let mut positions = Vec::with_capacity(input.payload.len());
        for (i, payload) in input.payload.into_iter().enumerate() {
            let time = conversion_time(&payload.conversion_happened_at);
            match validate(&payload, time, now) {
                Ok(time) => {
                    elements.push(conversion_element(&rule_id, time, payload));
                    positions.push(i);
                }
                Err(e) => statuses.set_at(
                    i,
                    MultiStatusEntry::Error {
                        status: 400,
                        errortype: Some(codes::PAYLOAD_VALIDATION_FAILED.to_string()),
                        errormessage: e.message().to_string(),
                        sent: None,
                        body: None,
                    },
                ),
            }
        }
        if elements.is_empty() {
            return Ok(BatchResponse::MultiStatus(statuses));
        }
        match ConversionsApi::new(client)
            .batch_conversion_add(&elements)
            .await
        {
            Ok(response) => {
                let bodies = batch_bodies(&response, elements.len());
                for ((i, element), body) in positions.into_iter().zip(elements).zip(bodies) {
                    statuses.set_at(
                        i,
                        MultiStatusEntry::Success {
                            status: response.status(),
                            sent: Some(element),
                            body,
                        },
                    );
                }
            }
            Err(e) if e.class() == ErrorClass::Http => {
                let (status, message) = match e.response() {
                    Some(r) if !r.content().is_empty() => (r.status(), r.content().to_string()),
                    Some(r) => (r.status(), e.message().to_string()),
                    None => (e.status().unwrap_or(500), e.message().to_string()),
                };
                for (i, element) in positions.into_iter().zip(elements) {
                    statuses.set_at(
                        i,
                        MultiStatusEntry::Error {
                            status,
                            errortype: None,
                            errormessage: message.clone(),
                            sent: Some(element),
                            body: None,
                        },
                    );
                }
            }
            // Token propagation, timeouts and connection failures fail the whole batch.
            Err(e) => return Err(e),
        }
        Ok(BatchResponse::MultiStatus(statuses))
    }

    fn hooks(&self) -> Vec<ActionHookDefinition> {
        // The derivation is checked by the crate's tests; a failure here would only hide the
        // hook, never fail events.
        on_mapping_save_hook().into_iter().collect()
    }

    async fn perform_hook(
        &self,
        client: &RequestClient,
        hook: &str,
        input: HookInput<'_, Settings>,
    ) -> Result<HookResult, Error> {
        if hook != HOOK_KEY {
            return Err(Error::integration(
                format!("Missing implementation for hook: {hook}."),
                codes::NOT_IMPLEMENTED,
                501,
            ));
        }
        let inputs = OnMappingSaveInputs::deserialize(input.hook_inputs)
            .map_err(|e| Error::payload_validation(format!("Invalid hook inputs: {e}")))?;
        let previous = input
            .hook_outputs
            .and_then(|o| o.get(HOOK_KEY))
            .and_then(|o| o.get("outputs"))
            .filter(|o| truthy(Some(o)));
        if inputs.existing_rule_id().is_none() && previous.is_none() {
            let missing = inputs.missing_for_new_rule();
            if !missing.is_empty() {
                return Ok(hook_error(
                    format!(
                        "Missing required fields for creating a new conversion rule: {}",
                        missing.join(", ")
                    ),
                    "MISSING_REQUIRED_FIELD",
                ));
            }
        }
        let api = ConversionsApi::new(client);
        let result = match previous {
            Some(outputs) => api.update_conversion_rule(&inputs, Some(outputs)).await,
            None => api.create_conversion_rule(&inputs).await,
        };
        if result.error.is_some() {
            return Ok(result);
        }
        let Some(rule_id) = result
            .saved_data
            .as_ref()
            .and_then(|d| d.get("id"))
            .and_then(scalar_text)
        else {
            return Ok(result);
        };
        let campaigns = inputs.campaign_id.as_deref().unwrap_or_default();
        if let Err(e) = api.bulk_associate_campaigns(&rule_id, campaigns).await {
            return Ok(hook_error(
                format!(
                    "Failed to associate campaigns to conversion rule, please try again: {}",
                    error_summary(&e)
                ),
                "ASSOCIATE_CAMPAIGN_TO_CONVERSION_ERROR",
            ));
        }
        Ok(result)
    }

    fn dynamic_fields(&self) -> Vec<String> {
        vec![
            "adAccountId".to_string(),
            "conversionRuleId".to_string(),
            "campaignId".to_string(),
        ]
    }

    async fn dynamic_field(
        &self,
        client: &RequestClient,
        key: &str,
        input: DynamicFieldInput<'_, Settings>,
    ) -> Result<DynamicFieldResponse, Error> {
        let api = ConversionsApi::new(client);
        let account = input.hook_inputs.get("adAccountId").and_then(Value::as_str);
        Ok(match key {
            "adAccountId" => api.get_ad_accounts().await,
            "conversionRuleId" => api.get_conversion_rules_list(account).await,
            "campaignId" => api.get_campaigns_list(account).await,
            other => missing_dynamic_field(other),
        })
    }
}
