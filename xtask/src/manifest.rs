//! `cargo xtask manifest`: a JSON manifest of every destination, shaped like the reference's
//! definitions / metadata payload (`generate:metadata-payload`), plus each action's JSON Schema
//! and default mapping.

use std::path::PathBuf;
use std::process::ExitCode;

use actions_core::destination::{AudienceMode, Preset};
use actions_core::fields::{Fields, fields_to_json_schema};
use destination_registry::{ActionInfo, DestinationInfo, Registry, default_mapping};
use serde_json::{Map, Value, json};

use crate::util::Failure;

/// The arguments of `manifest`.
#[derive(clap::Args, Debug)]
pub struct ManifestArgs {
    /// Write the manifest to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only this destination (crate slug or `actions-…` slug).
    #[arg(long)]
    pub destination: Option<String>,
}

/// Runs the command.
pub fn run(args: &ManifestArgs, registry: &Registry) -> Result<ExitCode, Failure> {
    let manifest = build(registry, args.destination.as_deref())?;
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Failure::new(format!("cannot serialise the manifest: {e}")))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "xtask manifest: wrote {} destination{} to {}",
                manifest.as_object().map_or(0, Map::len),
                if manifest.as_object().map_or(0, Map::len) == 1 {
                    ""
                } else {
                    "s"
                },
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The manifest: `{<crate slug>: <destination>}` for every destination (or only `only`).
pub fn build(registry: &Registry, only: Option<&str>) -> Result<Value, Failure> {
    let entries = match only {
        Some(slug) => vec![
            *registry
                .get(slug)
                .map_err(|e| Failure::new(e.to_string()))?,
        ],
        None => registry.entries().to_vec(),
    };
    let mut out = Map::new();
    for entry in entries {
        let info = entry.describe().map_err(|e| {
            Failure::new(format!(
                "{}: cannot read the destination: {}",
                entry.crate_slug(),
                e.message()
            ))
        })?;
        out.insert(
            entry.crate_slug().to_string(),
            destination_json(entry.crate_slug(), &info)?,
        );
    }
    Ok(Value::Object(out))
}

fn fields_json(fields: &Fields) -> Result<Value, String> {
    serde_json::to_value(fields).map_err(|e| e.to_string())
}

/// One destination in the reference's metadata shape.
pub fn destination_json(crate_slug: &str, info: &DestinationInfo) -> Result<Value, Failure> {
    let def = &info.definition;
    let at = |what: &str, e: String| Failure::new(format!("{crate_slug}: {what}: {e}"));
    let mut m = Map::new();
    m.insert("name".into(), json!(def.name));
    m.insert("slug".into(), json!(def.slug));
    m.insert("mode".into(), json!(def.mode));
    m.insert("description".into(), json!(def.description));
    m.insert(
        "authentication".into(),
        json!({
            "scheme": def.scheme.name(),
            "fields": fields_json(&info.settings_fields).map_err(|e| at("settings", e))?,
        }),
    );
    if let Some(header) = &def.idempotency_key_header {
        // Not in the reference's metadata: this project's declaration that retries are safe.
        m.insert("idempotencyKeyHeader".into(), json!(header));
    }
    if def.audience_mode.is_some() || !info.audience_fields.is_empty() {
        let mode = match &def.audience_mode {
            Some(AudienceMode::Realtime) => json!({"type": "realtime"}),
            Some(AudienceMode::Synced { full_audience_sync }) => {
                json!({"type": "synced", "full_audience_sync": full_audience_sync})
            }
            None => Value::Null,
        };
        m.insert(
            "audienceConfig".into(),
            json!({
                "mode": mode,
                "audienceFields": fields_json(&info.audience_fields)
                    .map_err(|e| at("audience settings", e))?,
            }),
        );
    }
    let mut actions = Map::new();
    for action in &info.actions {
        actions.insert(
            action.definition.key.clone(),
            action_json(action).map_err(|e| at(&action.definition.key, e))?,
        );
    }
    m.insert("actions".into(), Value::Object(actions));
    let mut presets = Vec::new();
    for preset in &def.presets {
        presets.push(preset_json(preset, info));
    }
    m.insert("presets".into(), Value::Array(presets));
    Ok(Value::Object(m))
}

fn action_json(action: &ActionInfo) -> Result<Value, String> {
    let def = &action.definition;
    let mut m = Map::new();
    m.insert("title".into(), json!(def.title));
    m.insert("description".into(), json!(def.description));
    m.insert("platform".into(), json!(def.platform));
    if let Some(fql) = &def.default_subscription {
        m.insert("defaultSubscription".into(), json!(fql));
    }
    m.insert("hidden".into(), json!(def.hidden));
    m.insert("hasPerformBatch".into(), json!(action.supports_batch));
    if let Some(sync) = &def.sync_mode {
        m.insert(
            "syncMode".into(),
            json!({
                "default": sync.default,
                "label": sync.label,
                "description": sync.description,
                "choices": sync.choices.iter()
                    .map(|(label, value)| json!({"label": label, "value": value}))
                    .collect::<Vec<_>>(),
            }),
        );
    }
    let mut hooks = Map::new();
    for hook in &action.hooks {
        hooks.insert(
            hook.key.clone(),
            json!({
                "label": hook.label,
                "description": hook.description,
                "inputFields": fields_json(&hook.input_fields)?,
                "outputTypes": serde_json::to_value(&hook.output_types).map_err(|e| e.to_string())?,
            }),
        );
    }
    m.insert("hooks".into(), Value::Object(hooks));
    m.insert("dynamicFields".into(), json!(action.dynamic_fields));
    m.insert("fields".into(), fields_json(&action.fields)?);
    let schema = if action.fields.is_empty() {
        json!({"$schema": "http://json-schema.org/schema#", "type": "object", "additionalProperties": false, "properties": {}})
    } else {
        fields_to_json_schema(&action.fields).map_err(|e| format!("the fields are invalid: {e}"))?
    };
    m.insert("schema".into(), schema);
    m.insert("defaultMapping".into(), action.default_mapping());
    Ok(Value::Object(m))
}

fn preset_json(preset: &Preset, info: &DestinationInfo) -> Value {
    let defaults = || {
        info.action(preset.partner_action())
            .map(|a| default_mapping(&a.fields))
            .unwrap_or_else(|| json!({}))
    };
    match preset {
        Preset::Automatic {
            name,
            partner_action,
            subscribe,
            mapping,
        } => json!({
            "name": name,
            "partnerAction": partner_action,
            "subscribe": subscribe,
            "mapping": mapping.clone().unwrap_or_else(defaults),
            "type": "automatic",
        }),
        Preset::SpecificEvent {
            name,
            partner_action,
            mapping,
            event_slug,
        } => json!({
            "name": name,
            "partnerAction": partner_action,
            "mapping": mapping.clone().unwrap_or_else(defaults),
            "eventSlug": event_slug,
            "type": "specificEvent",
        }),
    }
}

#[cfg(test)]
mod tests {
    use actions_core::action::ActionDefinition;
    use actions_core::destination::{AuthScheme, DestinationDefinition};
    use actions_core::fields::{FieldType, InputField};

    use super::*;

    #[test]
    fn the_destination_has_the_reference_shape() {
        let mut settings = Fields::new();
        settings.insert(
            "api_key".into(),
            InputField::new(FieldType::Password, "API Key"),
        );
        let mut fields = Fields::new();
        let mut name = InputField::new(FieldType::String, "Name");
        name.default = Some(json!({"@path": "$.event"}));
        name.required = Some(true.into());
        fields.insert("name".into(), name);
        let info = DestinationInfo {
            definition: DestinationDefinition::new("Acme", "actions-acme", AuthScheme::OAuth2)
                .description("Sends to Acme.")
                .preset(Preset::Automatic {
                    name: "Track".into(),
                    partner_action: "send".into(),
                    subscribe: "type = \"track\"".into(),
                    mapping: None,
                }),
            settings_fields: settings,
            audience_fields: Fields::new(),
            actions: vec![ActionInfo {
                definition: ActionDefinition::new("send", "Send", "Sends.")
                    .default_subscription("type = \"track\""),
                fields,
                supports_batch: true,
                hooks: Vec::new(),
                dynamic_fields: vec!["name".into()],
            }],
        };
        let v = destination_json("acme", &info).unwrap();
        assert_eq!(v["slug"], "actions-acme");
        assert_eq!(v["authentication"]["scheme"], "oauth2");
        assert_eq!(v["authentication"]["fields"]["api_key"]["type"], "password");
        assert!(v.get("audienceConfig").is_none());
        let send = &v["actions"]["send"];
        assert_eq!(send["hasPerformBatch"], true);
        assert_eq!(send["defaultSubscription"], "type = \"track\"");
        assert_eq!(send["dynamicFields"], json!(["name"]));
        assert_eq!(
            send["defaultMapping"],
            json!({"name": {"@path": "$.event"}})
        );
        assert_eq!(send["schema"]["required"], json!(["name"]));
        assert_eq!(send["schema"]["properties"]["name"]["title"], "Name");
        assert_eq!(
            v["presets"],
            json!([{"name": "Track", "partnerAction": "send", "subscribe": "type = \"track\"",
                    "mapping": {"name": {"@path": "$.event"}}, "type": "automatic"}])
        );
    }
}
