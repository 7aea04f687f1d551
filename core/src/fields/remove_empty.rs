//! `removeEmptyValues`: strip `null` and `""` where the schema says they cannot be coerced.

use serde_json::Value;

use super::js::is_truthy;

/// Schema nesting beyond which values are returned untouched (protects the stack).
const MAX_DEPTH: usize = 128;

/// The reference's `removeEmptyValues(payload, schema, isRoot)`, run on a mapped payload before
/// validation.
///
/// Only values whose schema has a `type` or `enum` are touched: `null` is removed unless the type
/// allows `null`, `""` is removed unless the type includes `string`, and at the root (`is_root`)
/// `""` is removed whatever the field's type. Arrays drop the items that would be removed but keep
/// the other items exactly as they were; objects without `properties` are kept as they are.
/// `None` is the reference's `undefined` (the value itself is removed).
///
/// ```
/// use actions_core::fields::remove_empty_values;
/// use serde_json::json;
///
/// let schema = json!({"type": "object", "properties": {
///     "name": {"type": "string"}, "age": {"type": "number"}, "nick": {"type": ["string", "null"]}
/// }});
/// let out = remove_empty_values(json!({"name": "", "age": null, "nick": null}), &schema, true);
/// assert_eq!(out, Some(json!({"nick": null})));
/// ```
pub fn remove_empty_values(payload: Value, schema: &Value, is_root: bool) -> Option<Value> {
    remove(payload, schema, is_root, 0)
}

fn has_type_or_enum(schema: &Value) -> bool {
    schema.get("type").is_some_and(is_truthy) || schema.get("enum").is_some_and(is_truthy)
}

fn type_includes(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(s)) => s == name,
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

/// Whether a scalar is removed under this schema (arrays and objects never are).
fn drops(value: &Value, schema: &Value) -> bool {
    if !has_type_or_enum(schema) {
        return false;
    }
    match value {
        Value::Null => !type_includes(schema, "null"),
        Value::String(s) if s.is_empty() => !type_includes(schema, "string"),
        _ => false,
    }
}

fn remove(value: Value, schema: &Value, is_root: bool, depth: usize) -> Option<Value> {
    if !has_type_or_enum(schema) || depth > MAX_DEPTH {
        return Some(value);
    }
    match value {
        Value::Array(mut items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| is_truthy(s)) {
                // `filter`, not `map`: kept items are the original ones.
                items.retain(|item| !drops(item, item_schema));
            }
            Some(Value::Array(items))
        }
        Value::Object(mut map) => {
            if let Some(Value::Object(properties)) = schema.get("properties") {
                map.retain(|key, v| {
                    let cleaned = match properties.get(key) {
                        Some(prop_schema) => {
                            remove(std::mem::take(v), prop_schema, false, depth + 1)
                        }
                        None => Some(std::mem::take(v)),
                    };
                    keep_cleaned(v, cleaned, is_root)
                });
            }
            Some(Value::Object(map))
        }
        scalar => (!drops(&scalar, schema)).then_some(scalar),
    }
}

/// Puts a cleaned member back; `false` when it is removed (`undefined`, or `""` at the root).
pub(crate) fn keep_cleaned(slot: &mut Value, cleaned: Option<Value>, is_root: bool) -> bool {
    match cleaned {
        None => false,
        Some(Value::String(s)) if s.is_empty() && is_root => false,
        Some(v) => {
            *slot = v;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn root_removes_empty_strings_of_every_type_but_batch_keeps_strings() {
        let schema = json!({"type": "object", "properties": {"s": {"type": "string"}, "n": {"type": "number"}}});
        let payload = json!({"s": "", "n": ""});
        assert_eq!(
            remove_empty_values(payload.clone(), &schema, true),
            Some(json!({}))
        );
        assert_eq!(
            remove_empty_values(payload, &schema, false),
            Some(json!({"s": ""}))
        );
    }

    #[test]
    fn arrays_filter_but_do_not_clean_items() {
        let schema = json!({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "number"}}}});
        let out = remove_empty_values(json!([{"a": ""}, null, {}]), &schema, false);
        assert_eq!(out, Some(json!([{"a": ""}, {}])));
    }

    #[test]
    fn untyped_schemas_leave_values_alone() {
        assert_eq!(
            remove_empty_values(json!(null), &json!({}), true),
            Some(json!(null))
        );
        assert_eq!(
            remove_empty_values(json!(null), &json!({"enum": ["a"]}), false),
            None
        );
        assert_eq!(
            remove_empty_values(json!(""), &json!({"type": "number"}), false),
            None
        );
        assert_eq!(
            remove_empty_values(json!(""), &json!({"type": "string"}), false),
            Some(json!(""))
        );
        let nested = json!({"type": "object", "properties": {"o": {"type": "object"}}});
        assert_eq!(
            remove_empty_values(json!({"o": {"x": null, "y": ""}}), &nested, true),
            Some(json!({"o": {"x": null, "y": ""}}))
        );
    }
}
