//! `cargo xtask subscription ...`: the subscription language (FQL) from the command line.
//!
//! `subscription eval` runs one conformance case (`--case FILE`) or an FQL string against
//! an event file (`--fql STRING [--event FILE]`) and prints exactly one JSON line, as
//! `conformance/CLI.md` specifies:
//!
//! * kind `fql` / `--fql`: `{"ok": true, "matches": bool, "ast": <reference-shaped AST>,
//!   "generated_fql": "..."}`, or `{"ok": false, "error": {"message", ...}}` when the FQL
//!   does not parse (or when evaluation fails where the reference's `validate` throws);
//! * kind `validate_ast`: `{"ok": true, "matches": bool}`;
//! * kind `generate_fql`: `{"ok": true, "fql": "..."}`.
//!
//! Errors also carry `class` (the reference's JavaScript error class), `kind`, and the
//! byte `position` and `expected` text when known. The exit status is 0 whenever the case
//! ran, non-zero only when it could not be run (unreadable file, not JSON, no `fql`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use actions_core::subscriptions::{Ast, FqlError, Subscription, generate_fql, validate};
use serde_json::{Value, json};

/// Commands of this group.
#[derive(clap::Subcommand)]
pub enum SubscriptionCmd {
    /// Parse a subscription and match it against an event; print one JSON line.
    Eval {
        /// A conformance case file (kinds `fql`, `validate_ast`, `generate_fql`).
        #[arg(long, conflicts_with_all = ["fql", "event"])]
        case: Option<PathBuf>,
        /// An FQL string (instead of `--case`).
        #[arg(long, required_unless_present = "case")]
        fql: Option<String>,
        /// A JSON file holding the event to match `--fql` against (absent: `undefined`).
        #[arg(long, requires = "fql")]
        event: Option<PathBuf>,
        /// Print JSON (the only output format; accepted for the CLI contract).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a command of this group.
pub fn run(cmd: SubscriptionCmd) -> ExitCode {
    match cmd {
        SubscriptionCmd::Eval {
            case,
            fql,
            event,
            json: _,
        } => {
            let answer = match (case, fql) {
                (Some(path), _) => read_json(&path).and_then(|case| answer_case(&case)),
                (None, Some(fql)) => match event.as_deref().map(read_json).transpose() {
                    Ok(event) => Ok(answer_fql(&fql, event.as_ref())),
                    Err(e) => Err(e),
                },
                (None, None) => Err("give --case FILE or --fql STRING".to_string()),
            };
            match answer {
                Ok(value) => {
                    println!("{value}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("xtask subscription eval: {message}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn error_json(error: &FqlError, stage: &str) -> Value {
    let mut body = json!({
        "message": error.message(),
        "class": error.reference_class(),
        "kind": format!("{:?}", error.kind()),
        "stage": stage,
    });
    if let Some(position) = error.position() {
        body["position"] = json!(position);
    }
    if let Some(expected) = error.expected() {
        body["expected"] = json!(expected);
    }
    json!({"ok": false, "error": body})
}

/// Answers one conformance case.
fn answer_case(case: &Value) -> Result<Value, String> {
    let event = case.get("event");
    match case.get("kind").and_then(Value::as_str).unwrap_or("fql") {
        "fql" => {
            let fql = case
                .get("fql")
                .and_then(Value::as_str)
                .ok_or("the case has no `fql` string")?;
            Ok(answer_fql(fql, event))
        }
        "validate_ast" => Ok(match reference_ast(case) {
            Err(answer) => answer,
            Ok(ast) => match validate(&ast, event) {
                Ok(matches) => json!({"ok": true, "matches": matches}),
                Err(e) => error_json(&e, "validate"),
            },
        }),
        "generate_fql" => Ok(match reference_ast(case) {
            Err(answer) => answer,
            Ok(ast) => match generate_fql(&ast) {
                Ok(fql) => json!({"ok": true, "fql": fql}),
                Err(e) => error_json(&e, "generate"),
            },
        }),
        other => Err(format!("unknown case kind {other:?}")),
    }
}

fn reference_ast(case: &Value) -> Result<Ast, Value> {
    let input = case.get("ast_input").unwrap_or(&Value::Null);
    Ast::from_reference_json(input).map_err(|e| error_json(&e, "ast"))
}

/// Parses `fql` and matches it against `event` (`None`: `undefined`, which never matches).
fn answer_fql(fql: &str, event: Option<&Value>) -> Value {
    let sub = match Subscription::parse(fql) {
        Ok(sub) => sub,
        Err(e) => return error_json(&e, "parse"),
    };
    let matches = match event {
        None => Ok(false),
        Some(event) => sub.try_matches(event),
    };
    match matches {
        Ok(matches) => json!({
            "ok": true,
            "matches": matches,
            "ast": sub.ast().to_reference_json(),
            "generated_fql": sub.to_fql(),
        }),
        Err(e) => error_json(&e, "validate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fql_case_answers_with_ast_and_printed_fql() {
        let case = json!({"kind": "fql", "fql": "type = \"track\" AND event = \"x\"",
                          "event": {"type": "track", "event": "x"}});
        let answer = answer_case(&case).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["matches"], true);
        assert_eq!(
            answer["generated_fql"],
            "type = \"track\" and event = \"x\""
        );
        assert_eq!(answer["ast"]["children"][1]["type"], "event");
    }

    #[test]
    fn parse_errors_carry_message_class_and_position() {
        let answer = answer_fql("type", None);
        assert_eq!(answer["ok"], false);
        assert_eq!(answer["error"]["message"], "Value token is missing");
        assert_eq!(answer["error"]["class"], "Error");
        assert_eq!(answer["error"]["position"], 4);
        let answer = answer_fql("properties.total>40", Some(&json!({})));
        assert_eq!(answer["error"]["class"], "TypeError");
        assert_eq!(answer["error"]["position"], 16);
    }

    #[test]
    fn an_absent_event_never_matches() {
        assert_eq!(answer_fql("userId = null", None)["matches"], false);
        assert_eq!(
            answer_fql("userId = null", Some(&json!({})))["matches"],
            true
        );
    }

    #[test]
    fn ast_input_kinds() {
        let ast = json!({"type": "group", "operator": "and", "children": [
            {"type": "event-property", "name": "a", "operator": "number_equals", "value": "7"}]});
        let v = answer_case(
            &json!({"kind": "validate_ast", "ast_input": ast, "event": {"properties": {"a": 7}}}),
        );
        assert_eq!(v.ok(), Some(json!({"ok": true, "matches": true})));
        let g = answer_case(&json!({"kind": "generate_fql", "ast_input": ast}));
        assert_eq!(g.ok(), Some(json!({"ok": true, "fql": "properties.a = 7"})));
        let null_event =
            answer_case(&json!({"kind": "validate_ast", "ast_input": ast, "event": null}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(null_event["ok"], false);
        assert_eq!(null_event["error"]["class"], "TypeError");
        let bad = answer_case(&json!({"kind": "generate_fql", "ast_input": [1]}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad["error"]["stage"], "ast");
        assert!(answer_case(&json!({"kind": "fql"})).is_err());
        assert!(answer_case(&json!({"kind": "other"})).is_err());
    }
}
