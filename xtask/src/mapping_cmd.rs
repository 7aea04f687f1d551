//! `cargo xtask mapping ...`: run the mapping kit from the command line
//! (contract: `conformance/CLI.md`).

use std::fs;
use std::process::ExitCode;

use actions_core::mapping::{MappingError, transform, transform_batch};
use serde_json::{Value, json};

/// Commands of this group.
#[derive(clap::Subcommand)]
pub enum MappingCmd {
    /// Evaluate a mapping against a payload and print one JSON line:
    /// `{"ok": true, "output": V}`, `{"ok": true, "undefined": true}` or
    /// `{"ok": false, "error": {"class", "message", "errors"}}`.
    Eval {
        /// A conformance case file (`mapping`, `payload`, optional `batch`).
        #[arg(long, conflicts_with_all = ["mapping", "payload"])]
        case: Option<String>,
        /// A file holding the mapping (with `--payload`).
        #[arg(long, requires = "payload")]
        mapping: Option<String>,
        /// A file holding the event (an array of events for a batch case).
        #[arg(long, requires = "mapping")]
        payload: Option<String>,
        /// Print JSON (the only output format; accepted for the contract).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a command of this group.
pub fn run(cmd: MappingCmd) -> ExitCode {
    match cmd {
        MappingCmd::Eval {
            case,
            mapping,
            payload,
            json: _,
        } => match load(case, mapping, payload) {
            Ok((mapping, payload, batch)) => {
                println!("{}", evaluate(&mapping, &payload, batch));
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("xtask mapping eval: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

fn read_json(path: &str) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not valid JSON: {e}"))
}

/// (mapping, payload, batch) from a case file or from two files.
fn load(
    case: Option<String>,
    mapping: Option<String>,
    payload: Option<String>,
) -> Result<(Value, Value, bool), String> {
    match (case, mapping, payload) {
        (Some(case), _, _) => {
            let mut c = read_json(&case)?;
            let batch = c.get("batch") == Some(&Value::Bool(true));
            let mapping = c
                .get_mut("mapping")
                .map(Value::take)
                .ok_or_else(|| format!("{case} has no \"mapping\""))?;
            let payload = c.get_mut("payload").map(Value::take).unwrap_or(json!({}));
            Ok((mapping, payload, batch))
        }
        (None, Some(m), Some(p)) => {
            let payload = read_json(&p)?;
            Ok((read_json(&m)?, payload, false))
        }
        _ => Err("give --case FILE, or --mapping FILE and --payload FILE".to_owned()),
    }
}

fn error_json(e: &MappingError) -> Value {
    json!({"ok": false, "error": {"class": e.class(), "message": e.message(), "errors": e.errors()}})
}

/// The answer line for one evaluation.
fn evaluate(mapping: &Value, payload: &Value, batch: bool) -> Value {
    if batch {
        return match transform_batch(mapping, payload) {
            Ok(out) => json!({"ok": true, "output": out}),
            Err(e) => error_json(&e),
        };
    }
    match transform(mapping, payload) {
        Ok(Some(out)) => json!({"ok": true, "output": out}),
        Ok(None) => json!({"ok": true, "undefined": true}),
        Err(e) => error_json(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_the_contract() {
        assert_eq!(
            evaluate(&json!({"a": {"@path": "$.x"}}), &json!({"x": 1}), false),
            json!({"ok": true, "output": {"a": 1}})
        );
        assert_eq!(
            evaluate(&json!({"@path": "$.x"}), &json!({}), false),
            json!({"ok": true, "undefined": true})
        );
        assert_eq!(
            evaluate(&json!({"a": {"@path": 1}}), &json!({}), false),
            json!({"ok": false, "error": {
                "class": "ValidationError",
                "message": "/a/@path should be a string or a mapping directive but it is a number.",
                "errors": ["/a/@path should be a string or a mapping directive but it is a number."]
            }})
        );
        assert_eq!(
            evaluate(&json!({"@path": "$.x"}), &json!([{"x": 1}, {}]), true),
            json!({"ok": true, "output": [1, null]})
        );
    }
}
