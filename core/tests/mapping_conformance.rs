//! Runs every case of `conformance/mapping/` (vectors produced by the reference,
//! `@segment/actions-core` 3.170.0) and compares as `conformance/README.md` says.

mod common;

use std::collections::BTreeMap;

use actions_core::mapping::{MappingError, transform, transform_batch};
use common::conformance::same;
use serde_json::Value;

/// Cases that cannot pass, with the reason, and the output we produce for them (checked, so
/// the list cannot rot: if the behaviour changes the test fails and the entry must be revisited).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[(
    "0577.json",
    "liquid-rust's grammar has no range literal `(1..3)` outside `for` (which the reference \
     disables), so `{{ (1..3) | join }}` does not parse",
    "error TemplateError [\"--> 1:4 | 1 | {{ (1..3) | join: \\\",\\\" }} | ^--- | = expected Value\"]",
)];

/// `{"$undefined": true}` array items become `null`, as when the reference's output is
/// serialised.
fn undef_to_null(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 1 && m.get("$undefined") == Some(&Value::Bool(true)) => {
            Value::Null
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), undef_to_null(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(undef_to_null).collect()),
        other => other.clone(),
    }
}

fn run(case: &Value) -> Result<Option<Value>, MappingError> {
    let mapping = &case["mapping"];
    let payload = &case["payload"];
    if case.get("batch") == Some(&Value::Bool(true)) {
        transform_batch(mapping, payload).map(|v| Some(Value::Array(v)))
    } else {
        transform(mapping, payload)
    }
}

fn describe(result: &Result<Option<Value>, MappingError>) -> String {
    match result {
        Ok(Some(v)) => format!("output {v}"),
        Ok(None) => "undefined".to_owned(),
        Err(e) => format!("error {} {:?}", e.class(), e.errors()),
    }
}

/// `None` when the result matches the expectation, else a description of the difference.
fn compare(case: &Value, result: &Result<Option<Value>, MappingError>) -> Option<String> {
    let expected = &case["expected"];
    let got = describe(result);
    if let Some(out) = expected.get("output") {
        let want = undef_to_null(out);
        return match result {
            Ok(Some(v)) if same(v, &want) => None,
            _ => Some(format!("expected output {want}\n      got {got}")),
        };
    }
    if expected.get("undefined").is_some() {
        return match result {
            Ok(None) => None,
            _ => Some(format!("expected undefined\n      got {got}")),
        };
    }
    let err = &expected["error"];
    let class = err["class"].as_str().unwrap_or_default();
    let message = err["message"].as_str().unwrap_or_default();
    let Err(e) = result else {
        return Some(format!(
            "expected error {class}: {message}\n      got {got}"
        ));
    };
    let ok = match class {
        "ValidationError" | "AggregateError" => {
            let want: Vec<String> = match err.get("errors").and_then(Value::as_array) {
                Some(list) => list
                    .iter()
                    .map(|x| x["message"].as_str().unwrap_or_default().to_owned())
                    .collect(),
                None => vec![message.to_owned()],
            };
            let aggregate = matches!(
                e,
                MappingError::Validation {
                    aggregate: true,
                    ..
                }
            );
            e.class() == "ValidationError"
                && e.errors() == want
                && aggregate == (class == "AggregateError")
        }
        "Error" => e.class() == "Error" && e.message() == message,
        // JavaScript engine messages: "some error" is the check.
        "TypeError" => true,
        _ => {
            let core = err["message_core"].as_str().unwrap_or_default();
            e.class() == "TemplateError"
                && (!core.contains("disabled") || e.message().contains(core))
        }
    };
    if ok {
        None
    } else {
        Some(format!(
            "expected error {class}: {message}\n      got {got}"
        ))
    }
}

#[test]
fn every_mapping_vector_matches_the_reference() {
    let cases = common::conformance::cases("mapping", |_| true);
    assert_eq!(cases.len(), 642, "expected the 642 mapping vectors");

    let known: BTreeMap<&str, (&str, &str)> = KNOWN_DIFFERENCES
        .iter()
        .map(|(f, reason, got)| (*f, (*reason, *got)))
        .collect();
    let mut failures = Vec::new();
    let mut passed = 0usize;
    for (name, case) in &cases {
        let result = run(case);
        let diff = compare(case, &result);
        match (known.get(name.as_str()), diff) {
            (None, None) => passed += 1,
            (None, Some(d)) => failures.push(format!("{name} {}:\n      {d}", case["name"])),
            (Some((_, got)), Some(_)) if describe(&result) == *got => {}
            (Some((reason, got)), Some(_)) => failures.push(format!(
                "{name} (known difference: {reason}) changed:\n      listed {got}\n      now    {}",
                describe(&result)
            )),
            (Some((reason, _)), None) => failures.push(format!(
                "{name} (known difference: {reason}) now passes: remove it from the list"
            )),
        }
    }
    println!(
        "mapping conformance: {passed} passed, {} known differences, {} failed",
        known.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
