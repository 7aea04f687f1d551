//! The `onMappingSave` hook: when a mapping is saved it verifies the existing conversion rule the
//! inputs name, or creates a rule (first save) or updates the saved one (later saves), then
//! associates the chosen campaigns with it. Every failure is a [`HookResult`] error with the
//! reference's code, never an `Err`.

use actions_core::action::object_without_nones;
use actions_core::js;
use actions_core::prelude::*;
use serde::Deserialize;
use serde_json::Map;

use super::HOOK_KEY;
use super::payload::{DEFAULT_POST_CLICK_WINDOW, DEFAULT_VIEW_THROUGH_WINDOW, OnMappingSaveInputs};
use crate::api::ConversionsApi;
use crate::settings::Settings;
use linkedin_common::scalar_text;

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

/// Runs the hook: checks the inputs a new rule needs, creates or updates the rule (or verifies
/// the existing one), then associates the campaigns.
pub async fn on_mapping_save(
    client: &RequestClient,
    input: HookInput<'_, Settings>,
) -> Result<HookResult, Error> {
    let inputs = OnMappingSaveInputs::deserialize(input.hook_inputs)
        .map_err(|e| Error::payload_validation(format!("Invalid hook inputs: {e}")))?;
    let previous = input
        .hook_outputs
        .and_then(|o| o.get(HOOK_KEY))
        .and_then(|o| o.get("outputs"))
        .filter(|o| js::truthy(o));
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
        Some(outputs) => update_rule(api, &inputs, Some(outputs)).await,
        None => create_rule(api, &inputs).await,
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

/// The rule's fields, in the order of the saved data: (key in the hook's saved data, key on
/// LinkedIn's wire).
const RULE_FIELDS: [(&str, &str); 5] = [
    ("name", "name"),
    ("conversionType", "type"),
    ("attribution_type", "attributionType"),
    (
        "post_click_attribution_window_size",
        "postClickAttributionWindowSize",
    ),
    (
        "view_through_attribution_window_size",
        "viewThroughAttributionWindowSize",
    ),
];

/// The inputs' values of the [`RULE_FIELDS`], in their order.
fn input_values(inputs: &OnMappingSaveInputs) -> [Option<Value>; 5] {
    [
        inputs.name.clone().map(Value::String),
        inputs.conversion_type.clone().map(Value::String),
        inputs.attribution_type.clone().map(Value::String),
        inputs
            .post_click_attribution_window_size
            .clone()
            .map(Value::Number),
        inputs
            .view_through_attribution_window_size
            .clone()
            .map(Value::Number),
    ]
}

/// `a || b` on JSON values.
fn or(a: Option<&Value>, b: impl FnOnce() -> Value) -> Value {
    match a {
        Some(v) if js::truthy(v) => v.clone(),
        _ => b(),
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
fn hook_error(message: impl Into<String>, code: &str) -> HookResult {
    HookResult {
        success_message: None,
        saved_data: None,
        error: Some(HookError {
            message: message.into(),
            code: code.to_string(),
        }),
    }
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

/// Verifies an existing conversion rule: its fields become the hook's saved data (missing
/// values get the reference's placeholders and defaults).
pub async fn verify_rule(api: ConversionsApi<'_>, ad_account: &str, rule_id: &str) -> HookResult {
    let response = match api.get_conversion_rule(ad_account, rule_id).await {
        Ok(r) => r,
        Err(e) => {
            return hook_error(
                format!("Failed to verify conversion rule: {}", e.message()),
                "CONVERSION_RULE_VERIFICATION_FAILURE",
            );
        }
    };
    let data = response.data();
    let placeholder = |what: &str| Value::String(format!("No {what} returned for rule: {rule_id}"));
    let defaults = [
        placeholder("name"),
        placeholder("type"),
        placeholder("attribution type"),
        json!(DEFAULT_POST_CLICK_WINDOW),
        json!(DEFAULT_VIEW_THROUGH_WINDOW),
    ];
    let mut saved = Map::new();
    saved.insert("id".into(), Value::String(rule_id.to_string()));
    for ((saved_key, wire_key), default) in RULE_FIELDS.into_iter().zip(defaults) {
        let value = data.and_then(|d| d.get(wire_key));
        saved.insert(saved_key.into(), or(value, || default));
    }
    HookResult {
        success_message: Some(format!("Using existing Conversion Rule: {rule_id} ")),
        saved_data: Some(Value::Object(saved)),
        error: None,
    }
}

/// What creating and updating a rule start with: without a selected ad account, the reference's
/// "No Ad Account selected" failure to `what` the rule; with an existing rule named in the
/// inputs, that rule verified. Both are `Err(the hook's result)`; otherwise the ad account.
async fn account_unless_existing_rule<'a>(
    api: ConversionsApi<'_>,
    inputs: &'a OnMappingSaveInputs,
    what: &str,
    code: &str,
) -> Result<&'a str, HookResult> {
    let Some(ad_account) = inputs.ad_account_id.as_deref().filter(|a| !a.is_empty()) else {
        return Err(hook_error(
            format!("Failed to {what} conversion rule: No Ad Account selected."),
            code,
        ));
    };
    match inputs.existing_rule_id() {
        Some(rule_id) => Err(verify_rule(api, ad_account, rule_id).await),
        None => Ok(ad_account),
    }
}

/// Creates a conversion rule from the inputs (its fields become the saved data), or verifies the
/// existing rule the inputs name.
pub async fn create_rule(api: ConversionsApi<'_>, inputs: &OnMappingSaveInputs) -> HookResult {
    const CODE: &str = "CONVERSION_RULE_CREATION_FAILURE";
    let ad_account = match account_unless_existing_rule(api, inputs, "create", CODE).await {
        Ok(ad_account) => ad_account,
        Err(done) => return done,
    };
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
    let response = match api.create_conversion_rule(body).await {
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
    let mut saved = vec![("id", get("id").cloned())];
    for (saved_key, wire_key) in RULE_FIELDS {
        let value = get(wire_key).cloned();
        saved.push(match saved_key {
            "attribution_type" => (saved_key, Some(or(value.as_ref(), || json!("UNKNOWN")))),
            _ => (saved_key, value),
        });
    }
    let saved = object_without_nones(saved);
    HookResult {
        success_message: Some(format!("Conversion rule {id} created successfully!")),
        saved_data: Some(saved),
        error: None,
    }
}

/// Updates the rule saved in `outputs` with what changed in the inputs (`PARTIAL_UPDATE`,
/// always sent, even when nothing changed — the reference's "no changes" branch is dead), or
/// verifies the existing rule the inputs name.
pub async fn update_rule(
    api: ConversionsApi<'_>,
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
    let Some(outputs) = outputs.filter(|o| js::truthy(o)) else {
        return no_rule();
    };
    let ad_account = match account_unless_existing_rule(api, inputs, "update", CODE).await {
        Ok(ad_account) => ad_account,
        Err(done) => return done,
    };
    // Saved outputs without an id would put the text `undefined` in the URL.
    let Some(id) = outputs.get("id").and_then(scalar_text) else {
        return no_rule();
    };
    let previous = |k: &str| outputs.get(k);
    let mut changed = Map::new();
    for ((saved_key, wire_key), input) in RULE_FIELDS.into_iter().zip(input_values(inputs)) {
        if let Some(v) = input.filter(|v| js::truthy(v) && differs(v, previous(saved_key))) {
            changed.insert(wire_key.to_string(), v);
        }
    }
    // What the rule is after the update: the changed values, else the saved ones.
    let saved_of = |changed: &Map<String, Value>| {
        let mut saved = vec![("id", previous("id").cloned())];
        for (saved_key, wire_key) in RULE_FIELDS {
            let value = match changed.get(wire_key) {
                Some(v) if js::truthy(v) => Some(v.clone()),
                _ => previous(saved_key).cloned(),
            };
            saved.push((saved_key, value));
        }
        object_without_nones(saved)
    };
    let saved = saved_of(&changed);
    let result = api.update_conversion_rule(ad_account, &id, changed).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthiness_and_strict_equality() {
        assert!(!js::truthy(&json!(0)));
        assert!(!js::truthy(&json!("")));
        assert!(!js::truthy(&json!(null)));
        assert!(js::truthy(&json!({})));
        assert!(js::truthy(&json!("0")));
        assert!(!differs(&json!(30), Some(&json!(30.0))));
        assert!(differs(&json!(30), Some(&json!("30"))));
        assert!(differs(&json!("a"), None));
    }
}
