//! The destination's definition as the reference declares it (section 3): identity, settings,
//! the action's fields with their defaults, the hook's inputs and outputs, the dynamic fields.
//! Descriptions are this port's own words and are not compared.

use actions_core::prelude::*;
use linkedin_conversions::LinkedInConversions;

/// Every field without its `description` (also inside `properties`).
fn without_descriptions(fields: &Fields) -> Value {
    let mut v = serde_json::to_value(fields).expect("fields serialise");
    fn strip(v: &mut Value) {
        if let Value::Object(fields) = v {
            for field in fields.values_mut() {
                if let Value::Object(f) = field {
                    assert!(
                        f.remove("description")
                            .and_then(|d| d.as_str().map(|s| !s.is_empty()))
                            .unwrap_or(false),
                        "every field has a description"
                    );
                    if let Some(p) = f.get_mut("properties") {
                        strip(p);
                    }
                }
            }
        }
    }
    strip(&mut v);
    v
}

#[test]
fn identity_and_scheme() {
    let d = LinkedInConversions::new().definition();
    assert_eq!(d.name, "LinkedIn Conversions API");
    assert_eq!(d.slug, "actions-linkedin-conversions");
    assert_eq!(d.mode, "cloud");
    assert_eq!(d.scheme, AuthScheme::OAuth2);
    assert!(d.presets.is_empty());
    let actions = LinkedInConversions::new().actions();
    assert_eq!(actions.len(), 1);
    let a = actions[0].definition();
    assert_eq!(a.key, "streamConversion");
    assert_eq!(a.title, "Stream Conversion Event");
    assert_eq!(
        a.description,
        "Directly streams conversion events to a specific conversion rule."
    );
    assert_eq!(a.default_subscription.as_deref(), Some("type = \"track\""));
    assert!(actions[0].supports_batch());
    assert_eq!(
        actions[0].dynamic_fields(),
        ["adAccountId", "conversionRuleId", "campaignId"]
    );
}

#[test]
fn settings_are_two_optional_passwords() {
    let fields = LinkedInConversions::new()
        .settings_fields()
        .expect("settings fields");
    assert_eq!(
        without_descriptions(&fields),
        json!({
            "client_id": {"label": "OAuth Client ID (optional)", "type": "password"},
            "client_secret": {"label": "OAuth Client Secret (optional)", "type": "password"}
        })
    );
}

#[test]
fn stream_conversion_fields_match_the_reference() {
    let fields = LinkedInConversions::new().actions()[0]
        .fields()
        .expect("fields");
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "conversionHappenedAt",
            "conversionValue",
            "eventId",
            "email",
            "linkedInUUID",
            "acxiomID",
            "oracleID",
            "userInfo",
            "externalIds",
            "enable_batching",
            "batch_size"
        ]
    );
    assert_eq!(
        without_descriptions(&fields),
        json!({
            "conversionHappenedAt": {"label": "Timestamp", "type": "string", "required": true,
                                     "default": {"@path": "$.timestamp"}},
            "conversionValue": {"label": "Conversion Value", "type": "object",
                                "defaultObjectUI": "keyvalue:only",
                                "default": {"currencyCode": {"@path": "$.properties.currency"},
                                            "amount": {"@path": "$.properties.revenue"}},
                                "properties": {
                                    "currencyCode": {"label": "Currency Code", "type": "string", "required": true},
                                    "amount": {"label": "Amount", "type": "string", "required": true}
                                }},
            "eventId": {"label": "Event ID", "type": "string", "default": {"@path": "$.messageId"}},
            "email": {"label": "Email", "type": "string", "default": {"@path": "$.traits.email"},
                      "category": "hashedPII"},
            "linkedInUUID": {"label": "LinkedIn First Party Ads Tracking UUID", "type": "string"},
            "acxiomID": {"label": "Acxiom ID", "type": "string"},
            "oracleID": {"label": "Oracle ID", "type": "string"},
            "userInfo": {"label": "User Info", "type": "object", "defaultObjectUI": "keyvalue",
                         "properties": {
                             "firstName": {"label": "First Name", "type": "string", "required": true},
                             "lastName": {"label": "Last Name", "type": "string", "required": true},
                             "companyName": {"label": "Company Name", "type": "string"},
                             "title": {"label": "Title", "type": "string"},
                             "countryCode": {"label": "Country Code", "type": "string"}
                         }},
            "externalIds": {"label": "External ID", "type": "string", "multiple": true},
            "enable_batching": {"label": "Enable Batching", "type": "boolean", "default": true,
                                "unsafe_hidden": true},
            "batch_size": {"label": "Batch Size", "type": "number", "default": 5000,
                           "unsafe_hidden": true}
        })
    );
}

#[test]
fn on_mapping_save_hook_matches_the_reference() {
    let hooks = LinkedInConversions::new().actions()[0].hooks();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.key, "onMappingSave");
    assert_eq!(hook.label, "Create a Conversion Rule");
    let inputs = without_descriptions(&hook.input_fields);
    let depends_on =
        json!({"match": "all", "conditions": [{"fieldKey": "conversionRuleId", "operator": "is"}]});
    let windows = json!([
        {"value": 1, "label": "1 day"}, {"value": 7, "label": "7 days"},
        {"value": 30, "label": "30 days"}, {"value": 90, "label": "90 days"}
    ]);
    assert_eq!(
        inputs["adAccountId"],
        json!({"label": "Ad Account", "type": "string", "required": true, "dynamic": true})
    );
    assert_eq!(
        inputs["campaignId"],
        json!({"label": "Add Campaigns to Conversion", "type": "string", "multiple": true, "dynamic": true})
    );
    assert_eq!(
        inputs["conversionRuleId"],
        json!({"label": "Existing Conversion Rule ID", "type": "string", "dynamic": true})
    );
    assert_eq!(
        inputs["name"],
        json!({"label": "Name", "type": "string", "depends_on": depends_on})
    );
    let types = inputs["conversionType"]["choices"]
        .as_array()
        .expect("choices");
    assert_eq!(types.len(), 36);
    assert_eq!(
        types[0],
        json!({"value": "ADD_TO_CART", "label": "Add to Cart"})
    );
    assert_eq!(
        types[35],
        json!({"value": "SALES_QUALIFIED_LEAD", "label": "Sales Qualified Lead"})
    );
    assert_eq!(inputs["conversionType"]["depends_on"], depends_on);
    assert_eq!(
        inputs["attribution_type"]["choices"],
        json!([
            {"value": "LAST_TOUCH_BY_CAMPAIGN", "label": "Each Campaign"},
            {"value": "LAST_TOUCH_BY_CONVERSION", "label": "Single Campaign"}
        ])
    );
    assert_eq!(
        inputs["post_click_attribution_window_size"],
        json!({"label": "Post-Click Attribution Window Size", "type": "number", "default": 30,
               "choices": windows, "depends_on": depends_on})
    );
    assert_eq!(
        inputs["view_through_attribution_window_size"],
        json!({"label": "View-Through Attribution Window Size", "type": "number", "default": 7,
               "choices": windows, "depends_on": depends_on})
    );
    let outputs: Vec<(&str, &str, bool)> = hook
        .output_types
        .iter()
        .map(|(k, t)| (k.as_str(), t.kind.as_str(), t.required))
        .collect();
    assert_eq!(
        outputs,
        [
            ("id", "string", true),
            ("name", "string", true),
            ("conversionType", "string", true),
            ("attribution_type", "string", true),
            ("post_click_attribution_window_size", "number", true),
            ("view_through_attribution_window_size", "number", true)
        ]
    );
    assert_eq!(hook.output_types["id"].label, "ID");
}
