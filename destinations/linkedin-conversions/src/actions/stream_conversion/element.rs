//! Element building: the reference's validation of one payload and the conversion event LinkedIn
//! takes for it (the body of a single POST, or one element of a batch).

use actions_core::prelude::*;
use linkedin_common::process_hashing;
use serde_json::Map;

use super::payload::StreamConversionPayload;
use crate::api::CONVERSION_URN;
use crate::timestamp::NINETY_DAYS_MS;

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
