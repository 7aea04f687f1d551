//! `cargo xtask schema ...`: field schemas — run a conformance case through the fields module.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use actions_core::fields::{CompiledSchema, Fields, fields_to_json_schema, remove_empty_values};
use serde_json::{Value, json};

/// Commands of this group.
#[derive(clap::Subcommand)]
pub enum SchemaCmd {
    /// Runs a schema conformance case (kinds `validate`, `action_pipeline`,
    /// `remove_empty_values`) and prints the outcome as one JSON line (`conformance/CLI.md`).
    Eval {
        /// The case file (its `expected` member is ignored).
        #[arg(long)]
        case: PathBuf,
        /// Print JSON (the only output format; accepted for the CLI contract).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a command of this group.
pub fn run(cmd: SchemaCmd) -> ExitCode {
    match cmd {
        SchemaCmd::Eval { case, json: _ } => match load(&case) {
            Ok(case) => {
                println!("{}", eval_case(&case));
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("xtask schema eval: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn failure(message: impl Into<String>) -> Value {
    json!({"ok": false, "error": {"message": message.into()}})
}

/// The outcome of one case, in the shape `conformance/CLI.md` describes.
fn eval_case(case: &Value) -> Value {
    let kind = case
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("validate");
    if kind == "remove_empty_values" {
        let is_root = case
            .get("is_root")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let payload = case.get("payload").cloned().unwrap_or(Value::Null);
        let schema = case
            .get("json_schema")
            .cloned()
            .unwrap_or_else(|| json!({}));
        return match remove_empty_values(payload, &schema, is_root) {
            Some(output) => json!({"ok": true, "output": output}),
            None => json!({"ok": true, "undefined": true}),
        };
    }

    let fields: Fields =
        match serde_json::from_value(case.get("fields").cloned().unwrap_or_else(|| json!({}))) {
            Ok(fields) => fields,
            Err(e) => return failure(format!("invalid fields: {e}")),
        };
    let schema = match fields_to_json_schema(&fields) {
        Ok(schema) => schema,
        Err(e) => return failure(e.message()),
    };
    let compiled = match CompiledSchema::compile(&schema) {
        Ok(compiled) => compiled,
        Err(e) => return failure(e.message()),
    };

    let mut out = serde_json::Map::new();
    out.insert("ok".into(), Value::Bool(true));
    out.insert("json_schema".into(), schema.clone());
    let mut payload = case.get("payload").cloned().unwrap_or(Value::Null);
    if kind == "action_pipeline" {
        payload = remove_empty_values(payload, &schema, true).unwrap_or(Value::Null);
        out.insert("payload_after_remove_empty".into(), payload.clone());
    }
    let exempt: Vec<&str> = case
        .get("exempt")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |list| {
            list.iter().filter_map(Value::as_str).collect()
        });
    let result = compiled.validate(&mut payload, &exempt);
    out.insert("valid".into(), Value::Bool(result.is_ok()));
    out.insert("payload_after".into(), payload);
    if let Err(err) = result {
        out.insert("message".into(), Value::String(err.message().to_owned()));
        out.insert(
            "errors".into(),
            Value::Array(
                err.errors()
                    .iter()
                    .map(|e| Value::String(e.message.clone()))
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_case_reports_the_outcome() {
        let case = json!({
            "kind": "validate",
            "fields": {"n": {"label": "N", "type": "number", "required": true}},
            "payload": {"n": "x", "junk": 1}
        });
        let out = eval_case(&case);
        assert_eq!(out["ok"], json!(true));
        assert_eq!(out["valid"], json!(false));
        assert_eq!(out["payload_after"], json!({"n": "x"}));
        assert_eq!(
            out["errors"],
            json!(["N must be a number but it was a string."])
        );
        assert_eq!(out["json_schema"]["required"], json!(["n"]));
    }

    #[test]
    fn pipeline_and_remove_empty_cases() {
        let case = json!({
            "kind": "action_pipeline",
            "fields": {"s": {"label": "S", "type": "string"}, "n": {"label": "N", "type": "number"}},
            "payload": {"s": "", "n": null}
        });
        let out = eval_case(&case);
        assert_eq!(out["payload_after_remove_empty"], json!({}));
        assert_eq!(out["valid"], json!(true));

        let removed = eval_case(
            &json!({"kind": "remove_empty_values", "json_schema": {"type": "string"}, "payload": null}),
        );
        assert_eq!(removed, json!({"ok": true, "undefined": true}));
    }

    #[test]
    fn fields_that_cannot_become_a_schema_are_an_error_outcome() {
        let case = json!({"kind": "validate", "fields": {"b": {"type": "string", "required": {
            "conditions": [{"fieldKey": "a", "operator": "contains", "value": "x"}]}}}, "payload": {}});
        assert_eq!(
            eval_case(&case),
            json!({"ok": false, "error": {"message": "Unsupported conditionally required field operator: contains"}})
        );
    }
}
