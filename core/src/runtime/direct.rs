//! The entry points outside event delivery: action hooks, dynamic fields, test authentication,
//! audiences, GDPR deletion and the explicit token refresh. Hooks, dynamic fields and test
//! authentication run once with the settings' tokens; audiences and deletion run under the
//! OAuth retry policy (a 401 refreshes and runs once more).

use serde_json::{Map, Value, json};

use super::DestinationRuntime;
use super::auth_retry::{AuthorizedCall, CallContext};
use super::config::EventOptions;
use super::settings::validate_against;
use crate::action::{
    DynamicFieldInput, DynamicFieldResponse, HookInput, HookResult, missing_dynamic_field,
};
use crate::destination::{
    AuthContext, CreateAudienceInput, DeleteInput, Destination, GetAudienceInput,
};
use crate::error::{Error, codes};
use crate::oauth::{AuthTokens, RefreshedTokens};

/// A call to the partner outside actions (audiences, deletion).
enum PartnerCall<'a> {
    CreateAudience {
        audience_settings: &'a Value,
        audience_name: &'a str,
        personas: Option<&'a Value>,
    },
    GetAudience {
        audience_settings: &'a Value,
        external_id: &'a str,
    },
    Delete {
        event: &'a Value,
    },
}

impl<D: Destination> AuthorizedCall<D> for PartnerCall<'_> {
    type Output = Value;
    const HANDLES_PROPAGATION: bool = false;

    async fn run(
        &self,
        runtime: &DestinationRuntime<D>,
        a: &CallContext<'_, D::Settings>,
    ) -> Result<Value, Error> {
        let destination = &runtime.destination;
        match *self {
            PartnerCall::CreateAudience {
                audience_settings,
                audience_name,
                personas,
            } => destination
                .create_audience(
                    &a.client,
                    CreateAudienceInput {
                        settings: a.settings,
                        audience_settings,
                        audience_name,
                        personas,
                        auth: &a.auth,
                        services: &a.services,
                    },
                )
                .await?
                .map(|id| json!({ "externalId": id }))
                .ok_or_else(|| Error::plain("Unexpected call to createAudience")),
            PartnerCall::GetAudience {
                audience_settings,
                external_id,
            } => destination
                .get_audience(
                    &a.client,
                    GetAudienceInput {
                        settings: a.settings,
                        audience_settings,
                        external_id,
                        auth: &a.auth,
                        services: &a.services,
                    },
                )
                .await?
                .map(|id| json!({ "externalId": id }))
                .ok_or_else(|| Error::plain("Unexpected call to getAudience")),
            PartnerCall::Delete { event } => {
                let out = destination
                    .on_delete(
                        &a.client,
                        DeleteInput {
                            settings: a.settings,
                            user_id: event.get("userId").and_then(Value::as_str),
                            anonymous_id: event.get("anonymousId").and_then(Value::as_str),
                            auth: &a.auth,
                            services: &a.services,
                        },
                    )
                    .await?;
                Ok(out.unwrap_or_else(|| json!({"output": "no onDelete defined"})))
            }
        }
    }
}

/// Where a dynamic field's choices come from, per the reference's path grammar.
#[derive(Debug, PartialEq, Eq)]
struct DynamicFieldPath<'a> {
    /// The key the action's dynamic-field handler is registered under.
    lookup: String,
    /// `obj.key` → `key` (looked up as `obj.__values__`).
    selected_key: Option<&'a str>,
    /// `arr.[N].sub` → `N`.
    selected_index: Option<usize>,
}

impl<'a> DynamicFieldPath<'a> {
    /// Resolves `field` against the action's registered keys: `key`, `obj.key` (falls back to
    /// `obj.__values__` with the selected key), `obj.__keys__`, `arr.[N].sub`.
    fn resolve(field: &'a str, keys: &[String]) -> Self {
        let mut path = DynamicFieldPath {
            lookup: field.to_string(),
            selected_key: None,
            selected_index: None,
        };
        if keys.iter().any(|k| k == field) {
            return path;
        }
        if let Some((parent, rest)) = field.split_once(".[") {
            if let Some((n, sub)) = rest.split_once("].") {
                path.selected_index = n.parse::<usize>().ok();
                path.lookup = format!("{parent}.{sub}");
            }
        } else if let Some((parent, key)) = field.split_once('.')
            && key != "__keys__"
        {
            path.selected_key = Some(key);
            path.lookup = format!("{parent}.__values__");
        }
        path
    }
}

impl<D: Destination> DestinationRuntime<D> {
    /// Runs an action hook (`onMappingSave`): validates the hook inputs against the hook's
    /// input fields, then calls the hook with the destination's request client.
    pub async fn execute_hook(
        &self,
        action: &str,
        hook: &str,
        settings: &Value,
        hook_inputs: &Value,
        hook_outputs: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<HookResult, Error> {
        let entry = self.entry(action)?;
        if entry.hooks.is_empty() {
            return Err(Error::integration(
                "This action does not support any hooks.",
                codes::NOT_IMPLEMENTED,
                501,
            ));
        }
        let Some(def) = entry.hooks.iter().find(|h| h.key == hook) else {
            return Err(Error::integration(
                format!("Missing implementation for hook: {hook}."),
                codes::NOT_IMPLEMENTED,
                501,
            ));
        };
        let inputs = validate_against(&def.input_fields, &format!("hook {hook}"), hook_inputs)?;
        let typed = self.validate_settings(settings)?;
        let ctx = self.call_context(&typed, AuthTokens::from_settings(settings), opts);
        entry
            .action
            .perform_hook(
                &ctx.client,
                hook,
                HookInput {
                    settings: &typed,
                    hook_inputs: &inputs,
                    hook_outputs,
                    auth: &ctx.auth,
                    services: &ctx.services,
                },
            )
            .await
    }

    /// Fetches a dynamic field's choices. `field` follows the reference's grammar: `key`,
    /// `obj.key` (falls back to `obj.__values__` with the selected key), `obj.__keys__`,
    /// `arr.[N].sub`.
    pub async fn execute_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        let empty = Value::Object(Map::new());
        self.execute_hook_dynamic_field(action, field, settings, payload, &empty, opts)
            .await
    }

    /// [`execute_dynamic_field`](Self::execute_dynamic_field) for a hook's input field: the
    /// hook inputs chosen so far (`hookInputs` of the reference, e.g. the selected ad account)
    /// reach the dynamic field as [`DynamicFieldInput::hook_inputs`].
    pub async fn execute_hook_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        hook_inputs: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        let Some(entry) = self.actions.get(action) else {
            return Ok(DynamicFieldResponse::default());
        };
        let keys = entry.action.dynamic_fields();
        let path = DynamicFieldPath::resolve(field, &keys);
        if !keys.contains(&path.lookup) {
            return Ok(missing_dynamic_field(field));
        }
        let typed = self.validate_settings(settings)?;
        let ctx = self.call_context(&typed, AuthTokens::from_settings(settings), opts);
        entry
            .action
            .dynamic_field(
                &ctx.client,
                &path.lookup,
                DynamicFieldInput {
                    settings: &typed,
                    payload,
                    page: None,
                    hook_inputs,
                    selected_array_index: path.selected_index,
                    selected_key: path.selected_key,
                    query: None,
                    auth: &ctx.auth,
                    services: &ctx.services,
                },
            )
            .await
    }

    /// "Test connection": validates settings (errors surface unwrapped), then runs the
    /// destination's `test_authentication`; any error it raises becomes the reference's
    /// `Error("Credentials are invalid: <response status or ''> <message>")`.
    pub async fn test_authentication(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<(), Error> {
        let typed = self.validate_settings(settings)?;
        let ctx = self.call_context(&typed, AuthTokens::from_settings(settings), opts);
        self.destination
            .test_authentication(
                &ctx.client,
                AuthContext {
                    settings: &typed,
                    auth: &ctx.auth,
                    services: &ctx.services,
                },
            )
            .await
            .map_err(|e| {
                let status = e
                    .response()
                    .map(|r| r.status().to_string())
                    .unwrap_or_default();
                Error::plain(format!("Credentials are invalid: {status} {}", e.message()))
            })
    }

    /// Runs a partner call with the settings' tokens under the OAuth retry policy.
    async fn partner_call(
        &self,
        settings: &Value,
        call: PartnerCall<'_>,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        let typed = self.validate_settings(settings)?;
        self.with_auth_retry(&typed, AuthTokens::from_settings(settings), &call, opts)
            .await
    }

    /// Creates an audience at the partner (`createAudience`): validates the per-audience
    /// settings (when the destination declares audience fields), runs with the OAuth retry, and
    /// returns `{"externalId": …}`.
    pub async fn create_audience(
        &self,
        settings: &Value,
        audience_settings: &Value,
        audience_name: &str,
        personas: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        let audience_settings = self.validated_audience_settings(audience_settings)?;
        let call = PartnerCall::CreateAudience {
            audience_settings: &audience_settings,
            audience_name,
            personas,
        };
        self.partner_call(settings, call, opts).await
    }

    /// Reads an audience at the partner (`getAudience`); returns `{"externalId": …}`.
    pub async fn get_audience(
        &self,
        settings: &Value,
        audience_settings: &Value,
        external_id: &str,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        let audience_settings = self.validated_audience_settings(audience_settings)?;
        let call = PartnerCall::GetAudience {
            audience_settings: &audience_settings,
            external_id,
        };
        self.partner_call(settings, call, opts).await
    }

    /// GDPR deletion of the user of `event` (`onDelete`), with the OAuth retry. Without
    /// deletion support the result is `{"output": "no onDelete defined"}`.
    pub async fn on_delete(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        self.partner_call(settings, PartnerCall::Delete { event }, opts)
            .await
    }

    fn validated_audience_settings(&self, audience_settings: &Value) -> Result<Value, Error> {
        let fields = self.destination.audience_fields();
        validate_against(&fields, "the audience settings", audience_settings)
    }

    /// Refreshes the access token of `settings.oauth` (the reference's
    /// `refreshAccessToken`), single-flight, calling `on_token_refresh`.
    pub async fn refresh_access_token(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        let typed = self.validate_settings(settings)?;
        let auth = AuthTokens::from_settings(settings);
        let services = self.services(opts);
        self.refresh(&typed, &auth, &services, opts).await
    }
}

#[cfg(test)]
mod tests {
    use super::DynamicFieldPath;

    #[test]
    fn dynamic_field_paths() {
        let keys: Vec<String> = [
            "adAccountId",
            "obj.__values__",
            "obj.__keys__",
            "arr.sub",
            "a.b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let cases: &[(&str, &str, Option<&str>, Option<usize>)] = &[
            ("adAccountId", "adAccountId", None, None),
            ("a.b", "a.b", None, None),
            ("obj.color", "obj.__values__", Some("color"), None),
            ("obj.__keys__", "obj.__keys__", None, None),
            ("arr.[2].sub", "arr.sub", None, Some(2)),
            ("arr.[x].sub", "arr.sub", None, None),
            ("arr.[2]", "arr.[2]", None, None),
            ("plain", "plain", None, None),
        ];
        for (field, lookup, key, index) in cases {
            let path = DynamicFieldPath::resolve(field, &keys);
            assert_eq!(
                (path.lookup.as_str(), path.selected_key, path.selected_index),
                (*lookup, *key, *index),
                "{field}"
            );
        }
    }
}
