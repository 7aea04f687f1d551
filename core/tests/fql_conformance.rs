//! Runs every case of `conformance/fql/` (produced by running
//! `@segment/destination-subscriptions` 3.37.0) through `actions_core::subscriptions` and
//! compares as `conformance/README.md` prescribes:
//!
//! * kind `fql`: `matches` exactly; the AST deep-equal to `ast` (via `to_reference_json`);
//!   `generated_fql` exactly; `generated_fql_reparses_equal` agrees with re-parsing our
//!   printed FQL; parse errors: the exact message for the parser's own messages, and
//!   "is a parse error that the reference reports as a `TypeError`" for the others.
//! * kind `validate_ast`: `Ast::from_reference_json(ast_input)`, then `validate` against
//!   `event` (absent = `undefined`): `matches` exactly, or an error of the recorded class.
//! * kind `generate_fql`: `generate_fql` of the input AST: `fql` exactly, or the recorded
//!   error; and the recorded re-parse of that FQL (`reparse.ast` or a parse error).
//!
//! Every case passes; there is no list of tolerated differences.

mod common;

use actions_core::subscriptions::{Ast, FqlError, Subscription, generate_fql, validate};
use common::conformance::same;
use serde_json::Value;

/// The cases of `conformance/fql` (their files are named after their number).
fn load_cases() -> Vec<(String, Value)> {
    common::conformance::cases("fql", |name| name.starts_with(|c: char| c.is_ascii_digit()))
}

fn describe_error(e: &FqlError) -> String {
    format!("{:?} [{}] {}", e.kind(), e.reference_class(), e.message())
}

/// Checks a parse failure against the recorded one.
fn check_parse_error(err: &FqlError, message: &str, class: &str) -> Result<(), String> {
    if err.reference_class() != class {
        return Err(format!(
            "parse error class: got {}, expected {class} ({message:?})",
            describe_error(err)
        ));
    }
    // The reference parser's own messages are compared exactly; TypeErrors are engine
    // texts, so only "it is a parse error" (of the same class) is required.
    if class != "TypeError" && err.message() != message {
        return Err(format!(
            "parse error message: got {:?}, expected {message:?}",
            err.message()
        ));
    }
    Ok(())
}

fn check_fql(case: &Value) -> Result<(), String> {
    let fql = case["fql"].as_str().ok_or("case has no `fql` string")?;
    let expected = &case["expected"];
    let parsed = Subscription::parse(fql);
    if let Some(message) = expected.get("parse_error").and_then(Value::as_str) {
        let class = expected["parse_error_class"].as_str().unwrap_or("Error");
        return match parsed {
            Ok(sub) => Err(format!(
                "expected parse error {message:?}, got AST {}",
                sub.ast().to_reference_json()
            )),
            Err(err) => check_parse_error(&err, message, class),
        };
    }
    let sub = parsed.map_err(|e| format!("unexpected parse error: {}", describe_error(&e)))?;
    let mut problems = Vec::new();
    let ast = sub.ast().to_reference_json();
    if !same(&ast, &case["ast"]) {
        problems.push(format!(
            "ast:\n      got      {ast}\n      expected {}",
            case["ast"]
        ));
    }
    let printed = sub.to_fql();
    if Some(printed.as_str()) != case["generated_fql"].as_str() {
        problems.push(format!(
            "generated_fql: got {printed:?}, expected {}",
            case["generated_fql"]
        ));
    }
    if let Some(flag) = case
        .get("generated_fql_reparses_equal")
        .and_then(Value::as_bool)
    {
        let reparsed = Subscription::parse(&printed)
            .map(|s| same(&s.ast().to_reference_json(), &ast))
            .unwrap_or(false);
        if reparsed != flag {
            problems.push(format!(
                "generated_fql_reparses_equal: got {reparsed}, expected {flag}"
            ));
        }
    }
    let want = expected["matches"].as_bool().ok_or("no expected.matches")?;
    let got = match case.get("event") {
        None => validate(sub.ast(), None),
        Some(event) => sub.try_matches(event),
    };
    match got {
        Ok(m) if m == want => {}
        Ok(m) => problems.push(format!("matches: got {m}, expected {want}")),
        Err(e) => problems.push(format!(
            "matches: evaluation failed: {}",
            describe_error(&e)
        )),
    }
    if let Some(event) = case.get("event")
        && sub.matches(event) != want
    {
        problems.push("matches() disagrees with try_matches()".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

fn input_ast(case: &Value) -> Result<Ast, String> {
    Ast::from_reference_json(&case["ast_input"])
        .map_err(|e| format!("ast_input rejected: {}", describe_error(&e)))
}

fn check_validate_ast(case: &Value) -> Result<(), String> {
    let ast = input_ast(case)?;
    let expected = &case["expected"];
    let got = validate(&ast, case.get("event"));
    if let Some(error) = expected.get("error") {
        let class = error["class"].as_str().unwrap_or("Error");
        return match got {
            Ok(m) => Err(format!("expected {class} from validate, got matches = {m}")),
            Err(e) if e.reference_class() == class => Ok(()),
            Err(e) => Err(format!(
                "expected a {class} from validate, got {}",
                describe_error(&e)
            )),
        };
    }
    let want = expected["matches"].as_bool().ok_or("no expected.matches")?;
    match got {
        Ok(m) if m == want => {}
        Ok(m) => return Err(format!("matches: got {m}, expected {want}")),
        Err(e) => return Err(format!("validate failed: {}", describe_error(&e))),
    }
    // The compiled form agrees wherever a Subscription can be built from the AST.
    if let (Ok(sub), Some(event)) = (Subscription::from_ast(ast), case.get("event"))
        && sub.matches(event) != want
    {
        return Err(format!(
            "Subscription::matches disagrees with validate (expected {want})"
        ));
    }
    Ok(())
}

fn check_generate_fql(case: &Value) -> Result<(), String> {
    let ast = input_ast(case)?;
    let expected = &case["expected"];
    let got = generate_fql(&ast);
    if let Some(error) = expected.get("error") {
        let class = error["class"].as_str().unwrap_or("Error");
        let message = error["message"].as_str().unwrap_or_default();
        return match got {
            Ok(fql) => Err(format!("expected error {message:?}, got {fql:?}")),
            Err(e) if e.reference_class() == class && e.message() == message => Ok(()),
            Err(e) => Err(format!(
                "expected {class} {message:?}, got {}",
                describe_error(&e)
            )),
        };
    }
    let want = expected["fql"].as_str().ok_or("no expected.fql")?;
    let fql = got.map_err(|e| format!("generate_fql failed: {}", describe_error(&e)))?;
    if fql != want {
        return Err(format!("fql: got {fql:?}, expected {want:?}"));
    }
    let reparse = &case["reparse"];
    match (Subscription::parse(&fql), reparse.get("ast")) {
        (Ok(sub), Some(ast)) => {
            let got = sub.ast().to_reference_json();
            if !same(&got, ast) {
                return Err(format!(
                    "reparse ast:\n      got      {got}\n      expected {ast}"
                ));
            }
        }
        (Ok(sub), None) => {
            return Err(format!(
                "reparse: expected a parse error, got {}",
                sub.ast().to_reference_json()
            ));
        }
        (Err(e), Some(_)) => {
            return Err(format!("reparse failed: {}", describe_error(&e)));
        }
        (Err(e), None) => {
            let message = reparse["parse_error"].as_str().unwrap_or_default();
            let class = reparse["parse_error_class"].as_str().unwrap_or("Error");
            check_parse_error(&e, message, class).map_err(|d| format!("reparse: {d}"))?;
        }
    }
    Ok(())
}

#[test]
fn every_fql_conformance_case_passes() {
    let cases = load_cases();
    assert_eq!(
        cases.len(),
        680,
        "expected the 680 cases of conformance/fql"
    );
    let mut failures = Vec::new();
    let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (file, case) in &cases {
        let kind = case["kind"].as_str().unwrap_or("?").to_string();
        let result = match kind.as_str() {
            "fql" => check_fql(case),
            "validate_ast" => check_validate_ast(case),
            "generate_fql" => check_generate_fql(case),
            other => Err(format!("unknown kind {other:?}")),
        };
        let entry = counts.entry(kind).or_default();
        entry.1 += 1;
        match result {
            Ok(()) => entry.0 += 1,
            Err(diff) => failures.push(format!(
                "{file} [{}] {}\n    {diff}",
                case["kind"].as_str().unwrap_or("?"),
                case["name"].as_str().unwrap_or("?")
            )),
        }
    }
    for (kind, (pass, total)) in &counts {
        println!("fql conformance {kind}: {pass}/{total} pass");
    }
    assert!(
        failures.is_empty(),
        "{} of {} FQL conformance cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_comparison_helper_treats_integers_and_floats_alike() {
    assert!(same(&serde_json::json!(42), &serde_json::json!(42.0)));
    assert!(!same(&serde_json::json!(true), &serde_json::json!(1)));
    assert!(!same(
        &serde_json::json!({"a": 1}),
        &serde_json::json!({"a": 1, "b": 2})
    ));
}
