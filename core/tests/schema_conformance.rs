//! Runs every case of `conformance/schema/` (produced by running `@segment/actions-core` 3.170.0
//! with AJV 8.18) through `actions_core::fields` and compares as `conformance/README.md` says.
//! The comparison is the strict one: the whole error list (pointer, path, message, in order), the
//! joined message, and `payload_after` for invalid payloads too.

use std::path::PathBuf;

use actions_core::fields::{CompiledSchema, Fields, fields_to_json_schema, remove_empty_values};
use serde_json::Value;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/schema")
}

/// Deep JSON equality where `1` and `1.0` are equal but `true` and `1` are not.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
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
    let schema = match fields_to_json_schema(&fields) {
        Ok(s) => s,
        Err(e) => {
            if expected.get("json_schema_error").is_none() {
                diffs.push(format!("fields_to_json_schema failed: {e}"));
            }
            return diffs;
        }
    };
    if expected.get("json_schema_error").is_some() {
        return vec![format!(
            "expected fields_to_json_schema to fail, got {}",
            show(&schema)
        )];
    }
    if let Some(want) = case.get("json_schema")
        && !same(&schema, want)
    {
        diffs.push(format!("json_schema {} != {}", show(&schema), show(want)));
    }
    let compiled = match CompiledSchema::compile(&schema) {
        Ok(c) => c,
        Err(e) => {
            if expected.get("schema_error").is_none() {
                diffs.push(format!("compile failed: {e}"));
            }
            return diffs;
        }
    };
    if expected.get("schema_error").is_some() {
        diffs.push("expected the schema to be refused".into());
        return diffs;
    }

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
    let mut files: Vec<PathBuf> = std::fs::read_dir(schema_dir())
        .expect("conformance/schema exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 313, "the schema vectors are all present");

    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable case");
        let case: Value = serde_json::from_str(&text).expect("valid JSON case");
        let diffs = run_case(&case);
        if !diffs.is_empty() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
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
        files.len() - failures.len(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} schema cases fail (listed above)",
        failures.len(),
        files.len()
    );
}
