//! Reading LinkedIn's JSON answers the way both destinations need. JavaScript value semantics
//! (truthiness, `String(number)`, …) are not re-written here: call [`actions_core::js`].

use actions_core::request::Response;
use serde_json::Value;

/// The text a template literal gives a scalar (`"x"`, `123`, `true`), as the reference puts ids
/// and OAuth error codes into messages and URLs; `None` for `null`, arrays and objects (the
/// reference would write `null`, `a,b` or `[object Object]`). Numbers are written as
/// `serde_json` prints them.
///
/// ```
/// use linkedin_common::scalar_text;
/// use serde_json::json;
/// assert_eq!(scalar_text(&json!(789123)).as_deref(), Some("789123"));
/// assert_eq!(scalar_text(&json!(true)).as_deref(), Some("true"));
/// assert_eq!(scalar_text(&json!({"id": 1})), None);
/// ```
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// An id as text: [`scalar_text`] of a string or a number; `None` for anything else (a boolean
/// is no id).
///
/// ```
/// use linkedin_common::id_text;
/// use serde_json::json;
/// assert_eq!(id_text(&json!(546109929)).as_deref(), Some("546109929"));
/// assert_eq!(id_text(&json!(true)), None);
/// ```
pub fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::Bool(_) => None,
        other => scalar_text(other),
    }
}

/// A member of a JSON object answer, parsed whatever the content type (LinkedIn's OAuth and
/// profile answers do not always say `application/json`).
///
/// ```
/// use actions_core::request::Response;
/// use linkedin_common::answer_field;
/// let answer = Response::new(200, "u", vec![], r#"{"id":"abc"}"#);
/// assert_eq!(answer_field(&answer, "id"), Some(serde_json::json!("abc")));
/// assert_eq!(answer_field(&answer, "role"), None);
/// ```
pub fn answer_field(response: &Response, key: &str) -> Option<Value> {
    match response.data().filter(|d| d.is_object()) {
        Some(data) => data.get(key).cloned(),
        None => response.json().ok()?.get(key).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_become_text_and_ids_are_strings_or_numbers() {
        assert_eq!(scalar_text(&json!(789123)).as_deref(), Some("789123"));
        assert_eq!(scalar_text(&json!("r1")).as_deref(), Some("r1"));
        assert_eq!(scalar_text(&json!({"a": 1})), None);
        assert_eq!(scalar_text(&json!(false)).as_deref(), Some("false"));
        assert_eq!(scalar_text(&json!(null)), None);
        assert_eq!(scalar_text(&json!([1])), None);
        assert_eq!(
            id_text(&json!("dmp_segment_id")).as_deref(),
            Some("dmp_segment_id")
        );
        assert_eq!(id_text(&Value::Null), None);
        assert_eq!(id_text(&json!({"id": 1})), None);
    }

    #[test]
    fn answer_fields_are_read_from_json_whatever_the_content_type() {
        let typed = Response::new(
            200,
            "u",
            vec![("content-type".into(), "application/json".into())],
            r#"{"access_token":"t"}"#,
        );
        assert_eq!(answer_field(&typed, "access_token"), Some(json!("t")));
        let untyped = Response::new(200, "u", vec![], r#"{"access_token":"t"}"#);
        assert_eq!(answer_field(&untyped, "access_token"), Some(json!("t")));
        let text = Response::new(200, "u", vec![], "not json");
        assert_eq!(answer_field(&text, "access_token"), None);
    }
}
