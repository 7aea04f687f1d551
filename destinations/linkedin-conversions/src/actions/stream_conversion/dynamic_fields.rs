//! The dynamic fields of the hook's inputs: the ad accounts the token can see (`adAccountId`),
//! the enabled Conversions-API rules of the selected account (`conversionRuleId`) and its active
//! and draft campaigns (`campaignId`). Failures are answers with the reference's message and
//! code, never an `Err`.

use actions_core::action::missing_dynamic_field;
use actions_core::prelude::*;
use linkedin_common::scalar_text;

use crate::api::{ACCOUNT_URN, ConversionsApi, account_id, elements};
use crate::settings::Settings;

/// The keys of the dynamic fields, in the order the action lists them.
pub const DYNAMIC_FIELDS: [&str; 3] = ["adAccountId", "conversionRuleId", "campaignId"];

/// Answers the dynamic field `key` (the selected ad account is the hook input `adAccountId`).
pub async fn dynamic_field(
    client: &RequestClient,
    key: &str,
    input: DynamicFieldInput<'_, Settings>,
) -> DynamicFieldResponse {
    let api = ConversionsApi::new(client);
    let account = input.hook_inputs.get("adAccountId").and_then(Value::as_str);
    match key {
        "adAccountId" => ad_accounts(api).await,
        "conversionRuleId" => conversion_rules(api, account).await,
        "campaignId" => campaigns(api, account).await,
        other => missing_dynamic_field(other),
    }
}

/// The ad accounts the token can see, as choices valued with the account URN.
pub async fn ad_accounts(api: ConversionsApi<'_>) -> DynamicFieldResponse {
    let choices = api.get_ad_accounts().await.and_then(|response| {
        Ok(elements(&response)?
            .iter()
            .map(|item| {
                let id = item.get("id").and_then(scalar_text).unwrap_or_default();
                choice(item, Value::String(format!("{ACCOUNT_URN}{id}")))
            })
            .collect())
    });
    answer(
        choices,
        "An error occurred while fetching ad accounts.",
        "FETCH_AD_ACCOUNTS_ERROR",
    )
}

/// The enabled Conversions-API rules of an ad account, valued with their ids as LinkedIn returns
/// them.
pub async fn conversion_rules(
    api: ConversionsApi<'_>,
    account: Option<&str>,
) -> DynamicFieldResponse {
    let Some(account) = account.filter(|a| !a.is_empty()) else {
        return account_not_selected();
    };
    let choices = api
        .get_conversion_rules_list(account)
        .await
        .and_then(|response| {
            Ok(elements(&response)?
                .iter()
                .filter(|item| {
                    item.get("enabled") == Some(&Value::Bool(true))
                        && item.get("conversionMethod").and_then(Value::as_str)
                            == Some("CONVERSIONS_API")
                })
                .map(|item| choice(item, id_value(item)))
                .collect())
        });
    answer(choices, FETCH_CONVERSIONS_MESSAGE, FETCH_CONVERSIONS_CODE)
}

/// The active and draft campaigns of an ad account (given as URN or bare id), valued with their
/// ids.
pub async fn campaigns(api: ConversionsApi<'_>, account: Option<&str>) -> DynamicFieldResponse {
    let Some(id) = account.map(account_id).filter(|id| !id.is_empty()) else {
        return account_not_selected();
    };
    let choices = api.get_campaigns_list(id).await.and_then(|response| {
        Ok(elements(&response)?
            .iter()
            .map(|item| choice(item, id_value(item)))
            .collect())
    });
    // The reference reuses the conversion rules' error for campaigns.
    answer(choices, FETCH_CONVERSIONS_MESSAGE, FETCH_CONVERSIONS_CODE)
}

const FETCH_CONVERSIONS_MESSAGE: &str = "An error occurred while fetching conversion rules.";
const FETCH_CONVERSIONS_CODE: &str = "FETCH_CONVERSIONS_ERROR";

/// A choice labelled with the item's `name`.
fn choice(item: &Value, value: Value) -> DynamicChoice {
    DynamicChoice {
        label: item.get("name").and_then(scalar_text).unwrap_or_default(),
        value,
        description: None,
    }
}

/// The item's `id` as LinkedIn returns it.
fn id_value(item: &Value) -> Value {
    item.get("id").cloned().unwrap_or(Value::Null)
}

/// The choices, or the reference's catch-all: LinkedIn's JSON `message` / `code` when the error
/// carries such a response, else the fallbacks. Errors without a response (the token-propagation
/// error, timeouts, connection failures) get the fallbacks.
fn answer(
    choices: Result<Vec<DynamicChoice>, Error>,
    fallback_message: &str,
    fallback_code: &str,
) -> DynamicFieldResponse {
    let e = match choices {
        Ok(choices) => {
            return DynamicFieldResponse {
                choices,
                ..DynamicFieldResponse::default()
            };
        }
        Err(e) => e,
    };
    let data = e.response().and_then(|r| r.data());
    let text_of = |key: &str, fallback: &str| {
        data.and_then(|d| d.get(key))
            .filter(|v| !v.is_null())
            .map(|v| scalar_text(v).unwrap_or_else(|| v.to_string()))
            .unwrap_or_else(|| fallback.to_string())
    };
    field_error(
        text_of("message", fallback_message),
        text_of("code", fallback_code),
    )
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
