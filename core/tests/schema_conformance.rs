//! Runs every case of `conformance/schema/` (produced by running `@segment/actions-core` 3.170.0
//! with AJV 8.18) through `actions_core::fields` and compares as `conformance/README.md` says.
//! The comparison is the strict one: the whole error list (pointer, path, message, in order), the
//! joined message, and `payload_after` for invalid payloads too.

mod common;

use std::fmt::Display;

use actions_core::fields::{CompiledSchema, Fields, fields_to_json_schema, remove_empty_values};
use common::conformance::{same, show};
use serde_json::Value;

/// The outcome of a step that the case may expect to fail (`expected.<refusal>` present): the
/// step's value to go on with, or `Err` with the case's differences when the case ends here —
/// the step failed (a difference unless it was expected to) or succeeded although it was
/// expected to fail.
fn expect_step<T, E: Display>(
    expected: &Value,
    refusal: &str,
    step: &str,
    result: Result<T, E>,
    shown: impl Fn(&T) -> String,
) -> Result<T, Vec<String>> {
    match (result, expected.get(refusal).is_some()) {
        (Ok(value), false) => Ok(value),
        (Ok(value), true) => Err(vec![format!(
            "expected {step} to fail, got {}",
            shown(&value)
        )]),
        (Err(_), true) => Err(Vec::new()),
        (Err(e), false) => Err(vec![format!("{step} failed: {e}")]),
    }
}

/// Runs one case; returns the differences found (empty when the case passes).
fn run_case(case: &Value) -> Vec<String> {
    let expected = &case["expected"];
    let mut diffs = Vec::new();
    let kind = case["kind"].as_str().unwrap_or_default();

    if kind == "remove_empty_values" {
        let is_root = case["is_root"] == Value::Bool(true);
        let from_json = remove_empty_values(case["payload"].clone(), &case["json_schema"], is_root);
        let compiled = match CompiledSchema::compile(&case["json_schema"]) {
            Ok(c) => c.remove_empty_values(case["payload"].clone(), is_root),
            Err(e) => return vec![format!("schema does not compile: {e}")],
        };
        for (which, out) in [
            ("remove_empty_values", from_json),
            ("CompiledSchema::remove_empty_values", compiled),
        ] {
            match (out, expected.get("output")) {
                (None, None) if expected["undefined"] == Value::Bool(true) => {}
                (Some(got), Some(want)) if same(&got, want) => {}
                (got, _) => diffs.push(format!(
                    "{which}: {} != expected {}",
                    got.map_or("undefined".into(), |v| show(&v)),
                    show(expected)
                )),
            }
        }
        return diffs;
    }

    let fields: Fields = match serde_json::from_value(case["fields"].clone()) {
        Ok(f) => f,
        Err(e) => return vec![format!("fields do not deserialize: {e}")],
    };
    let schema = match expect_step(
        expected,
        "json_schema_error",
        "fields_to_json_schema",
        fields_to_json_schema(&fields),
        show,
    ) {
        Ok(schema) => schema,
        Err(end) => return end,
    };
    if let Some(want) = case.get("json_schema")
        && !same(&schema, want)
    {
        diffs.push(format!("json_schema {} != {}", show(&schema), show(want)));
    }
    let compiled = match expect_step(
        expected,
        "schema_error",
        "compile",
        CompiledSchema::compile(&schema),
        |_| "a compiled schema".to_owned(),
    ) {
        Ok(compiled) => compiled,
        Err(end) => {
            diffs.extend(end);
            return diffs;
        }
    };

    let mut payload = case["payload"].clone();
    if kind == "action_pipeline" {
        let via_plan = compiled
            .remove_empty_values(payload.clone(), true)
            .unwrap_or(Value::Null);
        payload = remove_empty_values(payload, &schema, true).unwrap_or(Value::Null);
        if !same(&payload, &via_plan) {
            diffs.push(format!(
                "CompiledSchema::remove_empty_values {} != {}",
                show(&via_plan),
                show(&payload)
            ));
        }
        let want = &case["expected"]["payload_after_remove_empty"];
        let want = if want.is_null() {
            &case["payload_after_remove_empty"]
        } else {
            want
        };
        if !same(&payload, want) {
            diffs.push(format!(
                "payload_after_remove_empty {} != {}",
                show(&payload),
                show(want)
            ));
        }
    }
    let exempt: Vec<&str> = case["exempt"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_str).collect());
    let result = compiled.validate(&mut payload, &exempt);
    let want_valid = expected["valid"] == Value::Bool(true);
    if result.is_ok() != want_valid {
        diffs.push(format!(
            "valid {} != {} ({})",
            result.is_ok(),
            want_valid,
            result
                .as_ref()
                .err()
                .map(|e| e.message().to_owned())
                .unwrap_or_default()
        ));
    }
    if !same(&payload, &expected["payload_after"]) {
        diffs.push(format!(
            "payload_after {} != {}",
            show(&payload),
            show(&expected["payload_after"])
        ));
    }
    if let Err(err) = &result {
        let got: Vec<Value> = err
            .errors()
            .iter()
            .map(
                |e| serde_json::json!({"pointer": e.pointer, "path": e.path, "message": e.message}),
            )
            .collect();
        let want = expected["errors"].as_array().cloned().unwrap_or_default();
        let mut got_messages: Vec<&str> =
            got.iter().filter_map(|e| e["message"].as_str()).collect();
        let mut want_messages: Vec<&str> =
            want.iter().filter_map(|e| e["message"].as_str()).collect();
        got_messages.sort_unstable();
        want_messages.sort_unstable();
        if got_messages != want_messages {
            diffs.push(format!(
                "error messages (as a multiset) {got_messages:?} != {want_messages:?}"
            ));
        } else if !same(&Value::Array(got.clone()), &Value::Array(want.clone())) {
            diffs.push(format!(
                "errors (strict, in order) {} != {}",
                show(&Value::Array(got)),
                show(&Value::Array(want))
            ));
        }
        if expected["message"].as_str() != Some(err.message()) {
            diffs.push(format!(
                "message {:?} != {:?}",
                err.message(),
                expected["message"]
            ));
        }
    }
    diffs
}

#[test]
fn every_schema_case_matches_the_reference() {
    let cases = common::conformance::cases("schema", |_| true);
    assert_eq!(cases.len(), 313, "the schema vectors are all present");

    let mut failures = Vec::new();
    for (name, case) in &cases {
        let diffs = run_case(case);
        if !diffs.is_empty() {
            failures.push(format!(
                "{name} {}\n    {}",
                case["name"].as_str().unwrap_or_default(),
                diffs.join("\n    ")
            ));
        }
    }
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "schema conformance: {}/{} pass",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} schema cases fail (listed above)",
        failures.len(),
        cases.len()
    );
}
