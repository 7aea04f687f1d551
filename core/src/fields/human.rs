//! The sentences of `@segment/ajv-human-errors` 2.16 (field labels from `title`).

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::formats;
use super::js::{number_to_string, stringify, utf16_len};

/// `the root value` / `the value at /a/0` / the schema's title.
pub(crate) fn preamble(parent: &Value, pointer: &str) -> String {
    match parent.get("title").and_then(Value::as_str) {
        Some(title) if !title.is_empty() => title.to_owned(),
        _ if pointer.is_empty() => "the root value".to_owned(),
        _ => format!("the value at {pointer}"),
    }
}

/// The final sentence: the message capitalized, with a full stop.
pub(crate) fn sentence(parent: &Value, pointer: &str, body: &str) -> String {
    let preamble = preamble(parent, pointer);
    let raw = match parent.get("errorMessage") {
        Some(custom) if super::js::is_truthy(custom) => {
            let custom = custom
                .as_str()
                .map_or_else(|| stringify(custom), str::to_owned);
            format!("{preamble} {custom}")
        }
        _ => format!("{preamble} {body}"),
    };
    let mut out = capitalize(raw);
    out.push('.');
    out
}

fn capitalize(mut s: String) -> String {
    match s.chars().next() {
        Some(first) if first.is_ascii_lowercase() => {
            if let Some(head) = s.get_mut(..1) {
                head.make_ascii_uppercase();
            }
            s
        }
        Some(first) if !first.is_uppercase() => {
            let rest = s.get(first.len_utf8()..).unwrap_or("");
            first.to_uppercase().chain(rest.chars()).collect()
        }
        _ => s,
    }
}

/// `a` or `an`, from the first letter.
fn article(s: &str) -> &'static str {
    match s.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// `a`, `a or b`, `a, b, or c`.
fn humanize_list(items: &[String], conjunction: &str) -> String {
    match items {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [a, b] => format!("{a} {conjunction} {b}"),
        [init @ .., last] => format!("{}, {conjunction} {last}", init.join(", ")),
    }
}

/// `typeof` in words: `a string`, `an object`, `an array`, `null`.
fn humanize_type_of(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Array(_)) => "an array".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
        Some(Value::String(_)) => "a string".to_owned(),
        Some(Value::Number(_)) => "a number".to_owned(),
        Some(Value::Bool(_)) => "a boolean".to_owned(),
    }
}

/// The type names of a schema's `type` keyword, as the message lists them.
pub(crate) fn type_names(schema_type: Option<&Value>) -> Vec<String> {
    match schema_type {
        Some(Value::Array(types)) => types
            .iter()
            .map(|t| t.as_str().map_or_else(|| stringify(t), str::to_owned))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        Some(other) => vec![stringify(other)],
        None => Vec::new(),
    }
}

/// `<preamble> must be a string or number but it was an object`.
pub(crate) fn type_body(types: &[String], data: Option<&Value>) -> String {
    let expected = humanize_list(types, "or");
    format!(
        "must be {} {expected} but it was {}",
        article(&expected),
        humanize_type_of(data)
    )
}

/// `$`, `$.a.b[0]` from a JSON pointer.
pub(crate) fn json_path(pointer: &str) -> String {
    let mut out = String::from("$");
    if pointer.is_empty() {
        return out;
    }
    for seg in pointer.get(1..).unwrap_or("").split('/') {
        let seg = seg
            .replace("~1", "/")
            .replace("~0", "~")
            .replace('.', "\\.");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&seg);
            out.push(']');
        } else {
            out.push('.');
            out.push_str(&seg);
        }
    }
    out
}

fn plural(word: &str, n: usize) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn limit_text(parent: &Value, keyword: &str, fallback: &Value) -> String {
    match parent.get(keyword).unwrap_or(fallback) {
        Value::Number(n) => number_to_string(super::js::as_f64(n)),
        other => stringify(other),
    }
}

/// The sentence bodies for one `jsonschema` error (several for `additionalProperties`, which
/// AJV reports once per property). `parent` is the schema holding the failing keyword.
pub(crate) fn bodies(kind: &ValidationErrorKind, parent: &Value, instance: &Value) -> Vec<String> {
    let one = |s: String| vec![s];
    match kind {
        ValidationErrorKind::Type { .. } => {
            one(type_body(&type_names(parent.get("type")), Some(instance)))
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = match parent.get("enum").unwrap_or(options) {
                Value::Array(values) => values.iter().map(stringify).collect(),
                other => vec![stringify(other)],
            };
            one(format!("must be one of: {}", humanize_list(&allowed, "or")))
        }
        ValidationErrorKind::Constant { .. } => one("must be equal to constant".to_owned()),
        ValidationErrorKind::Format { format } => one(format!(
            "must be a valid {} string but it was not",
            formats::label(format)
        )),
        ValidationErrorKind::MinLength { limit } | ValidationErrorKind::MaxLength { limit } => {
            let actual = instance.as_str().map_or(0, utf16_len);
            let limit_s = limit_text(parent, kind.keyword(), &Value::from(*limit));
            let limit_n = usize::try_from(*limit).unwrap_or(usize::MAX);
            let side = if matches!(kind, ValidationErrorKind::MinLength { .. }) {
                "more"
            } else {
                "fewer"
            };
            one(format!(
                "must be {limit_s} {} or {side} but it was {actual} {}",
                plural("character", limit_n),
                plural("character", actual)
            ))
        }
        ValidationErrorKind::Minimum { limit } => one(format!(
            "must be equal to or greater than {}",
            limit_text(parent, "minimum", limit)
        )),
        ValidationErrorKind::Maximum { limit } => one(format!(
            "must be equal to or less than {}",
            limit_text(parent, "maximum", limit)
        )),
        ValidationErrorKind::ExclusiveMinimum { limit } => one(format!(
            "must be greater than {}",
            limit_text(parent, "exclusiveMinimum", limit)
        )),
        ValidationErrorKind::ExclusiveMaximum { limit } => one(format!(
            "must be less than {}",
            limit_text(parent, "exclusiveMaximum", limit)
        )),
        ValidationErrorKind::MultipleOf { .. } => one(format!(
            "must be a multiple of {}",
            limit_text(parent, "multipleOf", &Value::Null)
        )),
        ValidationErrorKind::Pattern { .. } => {
            match parent.get("patternLabel").and_then(Value::as_str) {
                Some(label) if !label.is_empty() => one(format!("must be {label} but it was not")),
                _ => one("is an invalid string".to_owned()),
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| stringify(property), str::to_owned);
            one(format!("is missing the required field '{name}'"))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = parent
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            unexpected
                .iter()
                .map(|found| {
                    format!("has an unexpected property, {found}, which is not in the list of allowed properties ({allowed})")
                })
                .collect()
        }
        ValidationErrorKind::MinProperties { limit } => one(format!(
            "must have {limit} or more properties but it has {}",
            instance.as_object().map_or(0, serde_json::Map::len)
        )),
        ValidationErrorKind::MaxProperties { limit } => one(format!(
            "must have {limit} or fewer properties but it has {}",
            instance.as_object().map_or(0, serde_json::Map::len)
        )),
        ValidationErrorKind::MinItems { limit } => one(format!(
            "must have {limit} or more items but it has {}",
            instance.as_array().map_or(0, Vec::len)
        )),
        ValidationErrorKind::MaxItems { limit } => one(format!(
            "must have {limit} or fewer items but it has {}",
            instance.as_array().map_or(0, Vec::len)
        )),
        ValidationErrorKind::UniqueItems => {
            let (i, j) = duplicate_indices(instance);
            one(format!(
                "must be unique but elements {j} and {i} are the same"
            ))
        }
        ValidationErrorKind::Not { .. } => one("must NOT be valid".to_owned()),
        ValidationErrorKind::AnyOf { .. } => one("must match a schema in anyOf".to_owned()),
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. } => {
            one("must match exactly one schema in oneOf".to_owned())
        }
        ValidationErrorKind::Contains => one("must contain at least 1 valid item(s)".to_owned()),
        ValidationErrorKind::FalseSchema => one("boolean schema is false".to_owned()),
        ValidationErrorKind::PropertyNames { error } => {
            let name = error.instance();
            one(format!("has an invalid property name {}", stringify(name)))
        }
        other => one(format!("{other:?}")),
    }
}

/// AJV's `uniqueItems` indices: the last item `i` that repeats an earlier item `j`.
fn duplicate_indices(instance: &Value) -> (usize, usize) {
    let Some(items) = instance.as_array() else {
        return (0, 0);
    };
    for i in (0..items.len()).rev() {
        for j in (0..i).rev() {
            if items.get(i) == items.get(j) {
                return (i, j);
            }
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_preambles() {
        assert_eq!(json_path(""), "$");
        assert_eq!(json_path("/items/0/a.b"), "$.items[0].a\\.b");
        assert_eq!(json_path("/a~1b/c~0"), "$.a/b.c~");
        assert_eq!(preamble(&json!({"title": "Email"}), "/email"), "Email");
        assert_eq!(preamble(&json!({"title": ""}), "/x"), "the value at /x");
        assert_eq!(preamble(&json!({}), ""), "the root value");
    }

    #[test]
    fn type_and_list_wording() {
        let names = type_names(Some(&json!(["string", "number"])));
        assert_eq!(
            type_body(&names, Some(&json!({}))),
            "must be a string or number but it was an object"
        );
        let names = type_names(Some(&json!("integer")));
        assert_eq!(
            type_body(&names, Some(&json!(null))),
            "must be an integer but it was null"
        );
        let list: Vec<String> = ["\"a\"", "\"b\"", "\"c\""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(humanize_list(&list, "or"), "\"a\", \"b\", or \"c\"");
        assert_eq!(
            sentence(
                &json!({"title": "F", "errorMessage": "is bad"}),
                "/f",
                "ignored"
            ),
            "F is bad."
        );
    }
}
