//! What the action and its hook deserialize: the `streamConversion` payload
//! ([`StreamConversionPayload`], with the shapes of its objects) and the `onMappingSave` inputs
//! ([`OnMappingSaveInputs`]). The fields the UI shows are derived from these types: change a
//! field here.

use actions_core::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Number};

/// Default post-click attribution window of a new rule (days).
pub const DEFAULT_POST_CLICK_WINDOW: u64 = 30;
/// Default view-through attribution window of a new rule (days).
pub const DEFAULT_VIEW_THROUGH_WINDOW: u64 = 7;

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
        extend("x-field" = {"depends_on": new_rule_only()})
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
            "depends_on": new_rule_only()
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
            "depends_on": new_rule_only()
        })
    )]
    pub attribution_type: Option<String>,
    /// How many days after a click on an ad a conversion is still credited to it (1, 7, 30 or 90; 30 by default).
    #[serde(default)]
    #[schemars(
        title = "Post-Click Attribution Window Size",
        with = "Option<f64>",
        extend("x-field" = window_size_field(DEFAULT_POST_CLICK_WINDOW))
    )]
    pub post_click_attribution_window_size: Option<Number>,
    /// How many days after an ad was viewed a conversion is still credited to it (1, 7, 30 or 90; 7 by default).
    #[serde(default)]
    #[schemars(
        title = "View-Through Attribution Window Size",
        with = "Option<f64>",
        extend("x-field" = window_size_field(DEFAULT_VIEW_THROUGH_WINDOW))
    )]
    pub view_through_attribution_window_size: Option<Number>,
}

/// The `depends_on` of the fields that describe a new rule: shown only while no existing rule
/// is chosen.
fn new_rule_only() -> Value {
    json!({"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]})
}

/// The `x-field` of an attribution window size: its default, the windows LinkedIn offers (1, 7,
/// 30 or 90 days), shown only for a new rule.
fn window_size_field(default: u64) -> Value {
    let choices: Vec<Value> = [
        (1, "1 day"),
        (7, "7 days"),
        (30, "30 days"),
        (90, "90 days"),
    ]
    .into_iter()
    .map(|(value, label)| json!({"value": value, "label": label}))
    .collect();
    json!({"default": default, "choices": choices, "depends_on": new_rule_only()})
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
            DEFAULT_POST_CLICK_WINDOW,
        )
    }

    /// The view-through window to create a rule with (`input || 7`).
    pub fn view_through_window(&self) -> Value {
        window_or(
            self.view_through_attribution_window_size.as_ref(),
            DEFAULT_VIEW_THROUGH_WINDOW,
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

/// `input || default` for a window size.
fn window_or(input: Option<&Number>, default: u64) -> Value {
    match input {
        Some(n) if n.as_f64().is_some_and(|f| f != 0.0) => Value::Number(n.clone()),
        _ => Value::Number(default.into()),
    }
}
