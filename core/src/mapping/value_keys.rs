//! The event paths a mapping reads (the reference's `getFieldValueKeys`).

use serde_json::Value;

use super::liquid::liquid_keys;
use super::template::template_keys;
use super::validate::DIRECTIVES;

/// The reference's `value-keys` `isDirective`: an object with one of the 13 directive keys
/// (other keys allowed).
fn is_directive(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.keys().any(|k| DIRECTIVES.contains(&k.as_str())))
}

fn opt_has(v: Option<&Value>, key: &str) -> bool {
    matches!(v, Some(Value::Object(m)) if m.contains_key(key))
}

/// `getFieldValueKeys(value)`.
pub(crate) fn field_value_keys(v: &Value) -> Vec<String> {
    if is_directive(v) {
        directive_keys(v)
            .into_iter()
            .filter(|k| !k.is_empty())
            .collect()
    } else {
        match v {
            Value::Object(m) => m.values().flat_map(field_value_keys).collect(),
            Value::Array(a) => a.iter().flat_map(field_value_keys).collect(),
            _ => Vec::new(),
        }
    }
}

/// `getRawKeys(input)`.
fn raw_keys(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(v) => field_value_keys(v),
        None => Vec::new(),
    }
}

fn directive_keys(v: &Value) -> Vec<String> {
    let get = |k: &str| v.get(k);
    let inner = |d: &str, k: &str| get(d).and_then(|o| o.get(k));
    if let Some(Value::Array(items)) = get("@arrayPath") {
        return items.iter().flat_map(|i| raw_keys(Some(i))).collect();
    }
    if opt_has(get("@case"), "operator") {
        return raw_keys(inner("@case", "value"));
    }
    if opt_has(get("@if"), "exists") || opt_has(get("@if"), "blank") {
        let mut keys = raw_keys(inner("@if", "blank"));
        keys.extend(raw_keys(inner("@if", "exists")));
        keys.extend(raw_keys(inner("@if", "then")));
        keys.extend(raw_keys(inner("@if", "else")));
        return keys;
    }
    if get("@literal").is_some() {
        return Vec::new();
    }
    if let Some(p) = get("@path") {
        return p.as_str().map(|s| vec![s.to_owned()]).unwrap_or_default();
    }
    if opt_has(get("@replace"), "pattern") {
        return raw_keys(inner("@replace", "value"));
    }
    if let Some(t) = get("@template") {
        return t.as_str().map(template_keys).unwrap_or_default();
    }
    if opt_has(get("@json"), "value") {
        return raw_keys(inner("@json", "value"));
    }
    if opt_has(get("@flatten"), "value") {
        return raw_keys(inner("@flatten", "value"));
    }
    if get("@excludeWhenNull").is_some() {
        return Vec::new();
    }
    if let Some(Value::String(s)) = get("@liquid") {
        return liquid_keys(s);
    }
    // [quirk] `@merge` and `@transform` are not handled by the reference: no keys.
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_of_common_directives() {
        let m = json!({
            "a": {"@path": "$.properties.a"},
            "b": {"@template": "{{traits.name}} {{ userId }}"},
            "c": {"@if": {"exists": {"@path": "$.x"}, "then": {"@path": "$.y"}, "else": "z"}},
            "d": {"@arrayPath": ["$.products", {"id": {"@path": "$.id"}}]},
            "e": {"@literal": "lit"},
            "f": {"@merge": {"objects": [{"@path": "$.m"}], "direction": "left"}},
            "g": [{"@path": "$.in_array"}],
        });
        assert_eq!(
            field_value_keys(&m),
            vec![
                "$.properties.a",
                "traits.name",
                " userId ",
                "$.x",
                "$.y",
                "$.id",
                "$.in_array"
            ]
        );
    }
}
