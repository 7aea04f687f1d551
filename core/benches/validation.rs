//! Validation of a typical action payload: the LinkedIn Conversions `streamConversion` fields
//! (strings, a datetime, objects with properties, a multiple field, a multiple object field).
//!
//! `cargo bench -p actions-core --bench validation -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use actions_core::fields::{CompiledSchema, Fields, fields_to_json_schema, remove_empty_values};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn fields() -> Fields {
    serde_json::from_value(json!({
        "conversionHappenedAt": {"label": "Timestamp", "type": "datetime", "required": true,
            "default": {"@path": "$.timestamp"}},
        "conversionValue": {"label": "Conversion Value", "type": "object", "defaultObjectUI": "keyvalue:only",
            "default": {"currencyCode": {"@path": "$.properties.currency"}, "amount": {"@path": "$.properties.revenue"}},
            "properties": {
                "currencyCode": {"label": "Currency Code", "type": "string", "required": true},
                "amount": {"label": "Amount", "type": "string", "required": true}
            }},
        "eventId": {"label": "Event ID", "type": "string", "default": {"@path": "$.messageId"}},
        "email": {"label": "Email", "type": "string", "category": "hashedPII", "default": {"@path": "$.traits.email"}},
        "linkedInUUID": {"label": "LinkedIn First Party Ads Tracking UUID", "type": "string"},
        "acxiomID": {"label": "Acxiom ID", "type": "string"},
        "oracleID": {"label": "Oracle ID", "type": "string"},
        "userInfo": {"label": "User Info", "type": "object", "defaultObjectUI": "keyvalue",
            "properties": {
                "firstName": {"label": "First Name", "type": "string", "required": true},
                "lastName": {"label": "Last Name", "type": "string", "required": true},
                "companyName": {"label": "Company Name", "type": "string"},
                "title": {"label": "Title", "type": "string"},
                "countryCode": {"label": "Country Code", "type": "string"}
            }},
        "externalIds": {"label": "External ID", "type": "string", "multiple": true},
        "products": {"label": "Products", "type": "object", "multiple": true,
            "properties": {
                "id": {"label": "Product ID", "type": "string", "required": true},
                "quantity": {"label": "Quantity", "type": "integer"}
            }},
        "enable_batching": {"label": "Enable Batching", "type": "boolean", "default": true, "unsafe_hidden": true},
        "batch_size": {"label": "Batch Size", "type": "number", "default": 5000, "unsafe_hidden": true}
    }))
    .expect("valid fields")
}

/// A mapped event as the default mapping produces it (already of the right types).
fn typical_payload() -> Value {
    json!({
        "conversionHappenedAt": "2026-11-23T10:15:30.000Z",
        "conversionValue": {"currencyCode": "USD", "amount": "99.99"},
        "eventId": "ajs-next-1732357530000-abc123",
        "email": "jane.doe@example.com",
        "userInfo": {"firstName": "Jane", "lastName": "Doe", "companyName": "Acme", "title": "CTO", "countryCode": "US"},
        "externalIds": ["ext-1", "ext-2"],
        "products": [{"id": "p-1", "quantity": 2}, {"id": "p-2", "quantity": 1}],
        "enable_batching": true,
        "batch_size": 5000
    })
}

/// The same event needing AJV's coercions and removals.
fn coercing_payload() -> Value {
    json!({
        "conversionHappenedAt": 1732357530,
        "conversionValue": {"currencyCode": "USD", "amount": 99.99, "extra": true},
        "eventId": 12345,
        "email": "jane.doe@example.com",
        "userInfo": {"firstName": "Jane", "lastName": "Doe", "unknown": "x"},
        "externalIds": "ext-1",
        "products": {"id": 7, "quantity": "2"},
        "enable_batching": "true",
        "batch_size": "5000",
        "not_a_field": {"deep": [1, 2, 3]}
    })
}

fn invalid_payload() -> Value {
    json!({
        "conversionValue": {},
        "userInfo": {"firstName": {"a": 1}},
        "products": [{"quantity": "many"}]
    })
}

fn bench(c: &mut Criterion) {
    let fields = fields();
    let schema = fields_to_json_schema(&fields).expect("schema");
    let compiled = CompiledSchema::compile(&schema).expect("compiles");

    let mut group = c.benchmark_group("validation");
    let typical = typical_payload();
    // A valid payload of the right types comes out of validation unchanged, so the same value
    // can be validated again and again (no clone in the measurement).
    let mut reused = typical.clone();
    group.bench_function("validate typical 12-field payload", |b| {
        b.iter(|| {
            black_box(
                compiled
                    .validate(&mut reused, &["dynamicAuthSettings"])
                    .is_ok(),
            )
        })
    });
    assert_eq!(
        reused, typical,
        "validation leaves a valid payload unchanged"
    );
    let coercing = coercing_payload();
    group.bench_function("validate with coercions and removals", |b| {
        b.iter_batched_ref(
            || coercing.clone(),
            |p| black_box(compiled.validate(p, &[]).is_ok()),
            BatchSize::SmallInput,
        )
    });
    let invalid = invalid_payload();
    group.bench_function("validate invalid payload (6 errors)", |b| {
        b.iter_batched_ref(
            || invalid.clone(),
            |p| black_box(compiled.validate(p, &[]).err().map(|e| e.errors().len())),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(
        "removeEmptyValues + validate (action pipeline, compiled)",
        |b| {
            b.iter_batched(
                || typical.clone(),
                |p| {
                    let mut p = compiled.remove_empty_values(p, true).unwrap_or(Value::Null);
                    black_box(compiled.validate(&mut p, &[]).is_ok())
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.bench_function("remove_empty_values on the JSON schema", |b| {
        b.iter_batched(
            || typical.clone(),
            |p| black_box(remove_empty_values(p, &schema, true)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("CompiledSchema::remove_empty_values", |b| {
        b.iter_batched(
            || typical.clone(),
            |p| black_box(compiled.remove_empty_values(p, true)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(
        "clone of the payload (baseline of the batched setup)",
        |b| b.iter(|| black_box(typical.clone())),
    );
    // The floor: the jsonschema crate alone deciding validity (no coercion, no error texts).
    let plain = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .unwrap();
    group.bench_function("floor: jsonschema is_valid alone", |b| {
        b.iter(|| black_box(plain.is_valid(&typical)))
    });
    group.bench_function("validate one date-time field", |b| {
        b.iter(|| {
            black_box(
                compiled
                    .validate(
                        &mut json!({"conversionHappenedAt": "2026-11-23T10:15:30.000Z"}),
                        &[],
                    )
                    .is_ok(),
            )
        })
    });
    group.bench_function("validate an empty payload (fixed cost)", |b| {
        b.iter(|| black_box(compiled.validate(&mut json!({}), &[]).is_ok()))
    });
    group.bench_function("fields_to_json_schema", |b| {
        b.iter(|| black_box(fields_to_json_schema(&fields)))
    });
    group.bench_function("compile (once per action)", |b| {
        b.iter(|| black_box(CompiledSchema::compile(&schema).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
