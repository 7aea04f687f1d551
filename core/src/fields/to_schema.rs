//! `fieldsToJsonSchema`: the JSON schema of a set of fields, exactly as the reference builds it.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::error::FieldsError;
use super::field::{Condition, ConditionMatch, DependsOnConditions, FieldType, Fields, Required};
use super::js::is_truthy;

/// Nesting depth of `properties` beyond which fields are refused (protects the stack).
pub(crate) const MAX_FIELD_DEPTH: usize = 64;

const SCHEMA_URI: &str = "http://json-schema.org/schema#";

/// The reference's `fieldsToJsonSchema(fields)`: the JSON schema that validates a payload of these
/// fields (key order as the reference produces it).
///
/// ```
/// use actions_core::fields::{fields_to_json_schema, Fields, FieldType, InputField};
/// use serde_json::json;
///
/// let mut fields = Fields::new();
/// fields.insert("email".into(), InputField { required: Some(true.into()), ..InputField::new(FieldType::String, "Email") });
/// fields.insert("when".into(), InputField::new(FieldType::Datetime, "When"));
/// assert_eq!(fields_to_json_schema(&fields).unwrap(), json!({
///     "$schema": "http://json-schema.org/schema#",
///     "type": "object",
///     "additionalProperties": false,
///     "properties": {
///         "email": {"title": "Email", "type": "string"},
///         "when": {"title": "When", "type": ["string", "number"], "format": "date-like"}
///     },
///     "required": ["email"]
/// }));
/// ```
///
/// # Errors
/// The reference throws (and so does this function) for a conditional requirement with an
/// operator other than `is`/`is_not` in a single condition, or for a condition without a
/// `fieldKey`; fields nested deeper than 64 levels are refused as well.
pub fn fields_to_json_schema(fields: &Fields) -> Result<Value, FieldsError> {
    object_schema(fields, false, false, 0).map(Value::Object)
}

impl From<bool> for Required {
    fn from(b: bool) -> Self {
        Required::Bool(b)
    }
}

impl From<DependsOnConditions> for Required {
    fn from(c: DependsOnConditions) -> Self {
        Required::Conditional(c)
    }
}

fn schema_type(t: FieldType) -> Value {
    match t {
        FieldType::String | FieldType::Text | FieldType::Password => json!("string"),
        FieldType::Datetime => json!(["string", "number"]),
        FieldType::Number => json!("number"),
        FieldType::Integer => json!("integer"),
        FieldType::Boolean => json!("boolean"),
        FieldType::Object => json!("object"),
    }
}

fn object_schema(
    fields: &Fields,
    additional_properties: bool,
    omit_required: bool,
    depth: usize,
) -> Result<Map<String, Value>, FieldsError> {
    if depth > MAX_FIELD_DEPTH {
        return Err(FieldsError::json_schema(format!(
            "fields are nested deeper than {MAX_FIELD_DEPTH} levels"
        )));
    }
    let mut required = Vec::new();
    let mut properties = Map::new();
    let mut conditions: IndexMap<String, &DependsOnConditions> = IndexMap::new();

    for (key, field) in fields {
        let base_type = schema_type(field.field_type);
        let mut schema = Map::new();
        if let Some(label) = &field.label {
            schema.insert("title".into(), Value::String(label.clone()));
        }
        if let Some(description) = &field.description {
            schema.insert("description".into(), Value::String(description.clone()));
        }
        schema.insert("type".into(), base_type.clone());
        let format = match field.field_type {
            FieldType::Datetime => Some("date-like".to_owned()),
            FieldType::Password => Some("password".to_owned()),
            FieldType::Text => Some("text".to_owned()),
            _ => field.format.clone(),
        };
        if let Some(format) = format {
            schema.insert("format".into(), Value::String(format));
        }
        if let Some(default) = &field.default {
            schema.insert("default".into(), default.clone());
        }
        // minimum/maximum apply only when truthy, and only to strings (as lengths) and numbers.
        let (min_key, max_key) = match field.field_type {
            FieldType::String => (Some("minLength"), Some("maxLength")),
            FieldType::Number => (Some("minimum"), Some("maximum")),
            _ => (None, None),
        };
        for (bound_key, bound) in [(min_key, &field.minimum), (max_key, &field.maximum)] {
            if let (Some(k), Some(n)) = (bound_key, bound) {
                let v = Value::Number(n.clone());
                if is_truthy(&v) {
                    schema.insert(k.into(), v);
                }
            }
        }
        if let Some(choices) = &field.choices {
            schema.insert(
                "enum".into(),
                Value::Array(choices.iter().map(|c| c.value()).collect()),
            );
        }
        if field.allow_null == Some(true) {
            let mut types = match &base_type {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            types.push(json!("null"));
            schema.insert("type".into(), Value::Array(types));
            if let Some(Value::Array(values)) = schema.get_mut("enum") {
                values.push(Value::Null);
            }
        }
        let is_multi = field.multiple == Some(true);
        if is_multi {
            let mut items = Map::new();
            items.insert("type".into(), base_type.clone());
            schema.insert("items".into(), Value::Object(items));
            schema.insert("type".into(), json!("array"));
            if let Some(values) = schema.shift_remove("enum")
                && let Some(Value::Object(items)) = schema.get_mut("items")
            {
                items.insert("enum".into(), values);
            }
        }
        if field.field_type == FieldType::Object
            && let Some(props) = &field.properties
        {
            let has_conditional_children = props
                .values()
                .any(|f| matches!(f.required, Some(Required::Conditional(_))));
            let nested = object_schema(
                props,
                field.additional_properties == Some(true),
                has_conditional_children,
                depth + 1,
            )?;
            if is_multi {
                schema.insert("items".into(), Value::Object(nested));
            } else {
                // `{...schema, ...nested}`: existing keys keep their position.
                for (k, v) in nested {
                    schema.insert(k, v);
                }
            }
            for (child_key, child) in props {
                if let Some(Required::Conditional(c)) = &child.required {
                    conditions.insert(format!("{key}.{child_key}"), c);
                }
            }
        }
        properties.insert(key.clone(), Value::Object(schema));
        match &field.required {
            Some(Required::Bool(true)) => required.push(Value::String(key.clone())),
            Some(Required::Conditional(c)) => {
                conditions.insert(key.clone(), c);
            }
            _ => {}
        }
    }

    let mut out = Map::new();
    out.insert("$schema".into(), json!(SCHEMA_URI));
    out.insert("type".into(), json!("object"));
    out.insert(
        "additionalProperties".into(),
        Value::Bool(additional_properties),
    );
    out.insert("properties".into(), Value::Object(properties));
    if omit_required {
        return Ok(out);
    }
    out.insert("required".into(), Value::Array(required));
    let mut all_of = Vec::with_capacity(conditions.len());
    for (field_key, condition) in &conditions {
        all_of.push(field_conditions(field_key, condition)?);
    }
    if !all_of.is_empty() {
        out.insert("allOf".into(), Value::Array(all_of));
    }
    Ok(out)
}

fn unsupported(operator: &str) -> FieldsError {
    FieldsError::json_schema(format!(
        "Unsupported conditionally required field operator: {operator}"
    ))
}

fn dependency_key(condition: &Condition) -> Result<&str, FieldsError> {
    condition.field_key.as_deref().ok_or_else(|| {
        // What the reference's `fieldKey.split('.')` throws for a condition without a field.
        FieldsError::json_schema("Cannot read properties of undefined (reading 'split')")
    })
}

/// `fieldKey.split('.')` destructured into its first two parts.
fn split_dotted(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.split('.');
    let parent = parts.next()?;
    let child = parts.next()?;
    Some((parent, child))
}

fn then_statement(field_key: &str) -> Value {
    match split_dotted(field_key) {
        Some((parent, child)) => {
            json!({"required": [parent], "properties": {parent: {"required": [child]}}})
        }
        None => json!({"required": [field_key]}),
    }
}

fn value_test(value: Option<&Value>, is: bool) -> Value {
    let mut constant = Map::new();
    if let Some(v) = value {
        constant.insert("const".into(), v.clone());
    }
    if is {
        Value::Object(constant)
    } else {
        json!({"not": constant})
    }
}

fn undefined_value_condition(
    dependency: &str,
    field_key: &str,
    operator: &str,
    multiple: bool,
) -> Result<Value, FieldsError> {
    let is = match operator {
        "is" => true,
        "is_not" => false,
        other => return Err(unsupported(other)),
    };
    let inside = if is {
        json!({"not": {"required": [dependency]}})
    } else {
        json!({"required": [dependency]})
    };
    if multiple {
        return Ok(inside);
    }
    let is_null = json!({"properties": {dependency: {"type": "null"}}});
    Ok(if is {
        json!({"if": {"anyOf": [inside, is_null]}, "then": then_statement(field_key)})
    } else {
        json!({"if": {"allOf": [inside, {"not": is_null}]}, "then": then_statement(field_key)})
    })
}

fn simple_condition(
    dependency: &str,
    field_key: &str,
    value: Option<&Value>,
    is: bool,
    multiple: bool,
) -> Value {
    let test = value_test(value, is);
    if multiple {
        json!({"properties": {dependency: test}, "required": [dependency]})
    } else {
        json!({"if": {"required": [dependency], "properties": {dependency: test}}, "then": then_statement(field_key)})
    }
}

fn object_condition(
    parent: &str,
    child: &str,
    field_key: &str,
    value: Option<&Value>,
    is: bool,
    multiple: bool,
) -> Value {
    let test = value_test(value, is);
    let inner = json!({
        "properties": {parent: {"properties": {child: test}, "required": [child]}},
        "required": [parent]
    });
    if multiple {
        inner
    } else {
        json!({"if": inner, "then": then_statement(field_key)})
    }
}

fn single_condition(condition: &Condition, field_key: &str) -> Result<Value, FieldsError> {
    let dependency = dependency_key(condition)?;
    let is = match condition.operator.as_str() {
        "is" => true,
        "is_not" => false,
        other => return Err(unsupported(other)),
    };
    if let Some((parent, child)) = split_dotted(dependency) {
        return Ok(object_condition(
            parent,
            child,
            field_key,
            condition.value.as_ref(),
            is,
            false,
        ));
    }
    match &condition.value {
        None => undefined_value_condition(dependency, field_key, &condition.operator, false),
        Some(v) => Ok(simple_condition(dependency, field_key, Some(v), is, false)),
    }
}

fn field_conditions(
    field_key: &str,
    conditions: &DependsOnConditions,
) -> Result<Value, FieldsError> {
    if let [only] = conditions.conditions.as_slice() {
        return single_condition(only, field_key);
    }
    let mut inner = Vec::with_capacity(conditions.conditions.len());
    for condition in &conditions.conditions {
        let dependency = dependency_key(condition)?;
        // With several conditions, any operator other than `is` behaves as `is_not`.
        let is = condition.operator == "is";
        if let Some((parent, child)) = split_dotted(dependency) {
            inner.push(object_condition(
                parent,
                child,
                field_key,
                condition.value.as_ref(),
                is,
                true,
            ));
            continue;
        }
        match &condition.value {
            None => inner.push(undefined_value_condition(
                dependency,
                field_key,
                &condition.operator,
                true,
            )?),
            Some(v) => inner.push(simple_condition(dependency, field_key, Some(v), is, true)),
        }
    }
    let combined = if conditions.match_mode == Some(ConditionMatch::Any) {
        json!({"anyOf": inner})
    } else {
        json!({"allOf": inner})
    };
    Ok(json!({"if": combined, "then": {"required": [field_key]}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::field::{Choice, InputField};

    fn field(v: Value) -> InputField {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn key_order_follows_the_reference() {
        let mut fields = Fields::new();
        fields.insert(
            "c".into(),
            field(json!({"type": "string", "label": "C", "choices": ["x"], "allowNull": true, "multiple": true, "description": "d"})),
        );
        let schema = fields_to_json_schema(&fields).unwrap();
        let keys: Vec<_> = schema["properties"]["c"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["title", "description", "type", "items"]);
        assert_eq!(
            schema["properties"]["c"]["items"],
            json!({"type": "string", "enum": ["x", null]})
        );
        let root_keys: Vec<_> = schema.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            root_keys,
            [
                "$schema",
                "type",
                "additionalProperties",
                "properties",
                "required"
            ]
        );
    }

    #[test]
    fn min_max_quirks() {
        let mut fields = Fields::new();
        fields.insert(
            "s".into(),
            field(json!({"type": "string", "minimum": 2, "maximum": 0})),
        );
        fields.insert(
            "n".into(),
            field(json!({"type": "number", "minimum": 0, "maximum": 1.5})),
        );
        fields.insert(
            "i".into(),
            field(json!({"type": "integer", "minimum": 1, "maximum": 9})),
        );
        let s = fields_to_json_schema(&fields).unwrap();
        assert_eq!(
            s["properties"]["s"],
            json!({"type": "string", "minLength": 2})
        );
        assert_eq!(
            s["properties"]["n"],
            json!({"type": "number", "maximum": 1.5})
        );
        assert_eq!(s["properties"]["i"], json!({"type": "integer"}));
    }

    #[test]
    fn allow_null_is_lost_on_objects_with_properties() {
        let mut fields = Fields::new();
        fields.insert(
            "o".into(),
            field(json!({"type": "object", "allowNull": true, "properties": {"a": {"type": "string"}}})),
        );
        let s = fields_to_json_schema(&fields).unwrap();
        assert_eq!(s["properties"]["o"]["type"], json!("object"));
        assert_eq!(s["properties"]["o"]["additionalProperties"], json!(false));
    }

    #[test]
    fn conditional_children_are_hoisted_and_omit_the_nested_required() {
        let mut fields = Fields::new();
        fields.insert("a".into(), field(json!({"type": "string"})));
        fields.insert(
            "obj".into(),
            field(json!({"type": "object", "properties": {
                "id": {"type": "string", "required": {"conditions": [{"fieldKey": "a", "operator": "is", "value": "v"}]}},
                "k": {"type": "string", "required": true}
            }})),
        );
        let s = fields_to_json_schema(&fields).unwrap();
        assert!(s["properties"]["obj"].get("required").is_none());
        assert_eq!(
            s["allOf"],
            json!([{"if": {"required": ["a"], "properties": {"a": {"const": "v"}}},
                    "then": {"required": ["obj"], "properties": {"obj": {"required": ["id"]}}}}])
        );
    }

    #[test]
    fn unsupported_single_operator_throws_like_the_reference() {
        let mut fields = Fields::new();
        fields.insert(
            "b".into(),
            field(json!({"type": "string", "required": {"conditions": [{"fieldKey": "a", "operator": "contains", "value": "x"}]}})),
        );
        let err = fields_to_json_schema(&fields).unwrap_err();
        assert_eq!(
            err.message(),
            "Unsupported conditionally required field operator: contains"
        );
    }

    #[test]
    fn choice_values() {
        assert_eq!(Choice::Value("a".into()).value(), json!("a"));
        assert_eq!(
            Choice::Labeled {
                value: json!(1),
                label: "one".into()
            }
            .value(),
            json!(1)
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut f = field(json!({"type": "string"}));
        for _ in 0..=MAX_FIELD_DEPTH + 1 {
            let mut props = Fields::new();
            props.insert("x".into(), f);
            f = InputField {
                properties: Some(props),
                ..InputField::new(FieldType::Object, "o")
            };
        }
        let mut fields = Fields::new();
        fields.insert("root".into(), f);
        assert!(fields_to_json_schema(&fields).is_err());
    }
}
