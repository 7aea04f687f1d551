//! Fields derived from a Rust type (`serde::Deserialize` + `schemars::JsonSchema`), so that a
//! destination's payload struct is the one source of truth for its fields.

use serde_json::{Map, Value};

use super::error::FieldsError;
use super::field::{Choice, FieldType, Fields, InputField, Required};
use super::formats::{self, FormatCheck};
use super::to_schema::MAX_FIELD_DEPTH;

/// The extension key whose object overrides or adds [`InputField`] properties.
const EXTENSION: &str = "x-field";

/// The fields of a struct, derived from its `schemars` schema.
///
/// Each property becomes one field, in declaration order: the doc comment is the
/// `description`, `#[schemars(title = "...")]` the `label` (the key otherwise); `String` is a
/// `string`, floats a `number`, integers an `integer`, `bool` a `boolean`, `Vec<T>` a `multiple`
/// field of `T`'s type, a struct an `object` with `properties` (a `serde_json::Map` a free-form
/// object), a unit-only enum a `string` with `choices`. A field is `required` unless it is an
/// `Option` or has a serde default (`Option` alone does not make it `allowNull`).
/// `#[schemars(extend("x-field" = {...}))]` overlays any `InputField` property (in its JSON
/// form): types Rust cannot express (`datetime`, `password`, `text`), defaults (mapping
/// directives), conditional requirements, choice labels, UI metadata. Numeric `format`s and the
/// automatic bounds of integer types are not carried over (the reference ignores both).
///
/// ```
/// use actions_core::fields::{fields_of, FieldType};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Payload {
///     /// The user's email.
///     #[schemars(title = "Email")]
///     email: String,
///     amount: Option<f64>,
///     #[schemars(extend("x-field" = {"type": "datetime", "default": {"@path": "$.timestamp"}}))]
///     timestamp: String,
/// }
///
/// let fields = fields_of::<Payload>().unwrap();
/// assert_eq!(fields["email"].label.as_deref(), Some("Email"));
/// assert!(fields["email"].is_required());
/// assert_eq!(fields["amount"].field_type, FieldType::Number);
/// assert_eq!(fields["timestamp"].field_type, FieldType::Datetime);
/// ```
///
/// # Errors
/// `T` is not a struct with named fields, a property's type has no field equivalent (tuples,
/// nested arrays, data-carrying enums) and no `x-field` type, an `x-field` is not a valid partial
/// `InputField`, or the type nests deeper than 64 levels (recursive types).
pub fn fields_of<T: schemars::JsonSchema>() -> Result<Fields, FieldsError> {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let defs = root.get("$defs").or_else(|| root.get("definitions"));
    let converter = Converter { defs };
    let resolved = converter.resolve(root, 0)?;
    converter.object_fields(resolved, "", 0)
}

struct Converter<'a> {
    defs: Option<&'a Value>,
}

/// A property's schema with `Option`'s `null` removed.
struct Shape<'a> {
    schema: &'a Value,
    types: Vec<&'a str>,
}

impl<'a> Converter<'a> {
    /// Follows `$ref` to `#/$defs/...` (or `#/definitions/...`).
    fn resolve(&self, schema: &'a Value, depth: usize) -> Result<&'a Value, FieldsError> {
        let mut current = schema;
        let mut hops = 0;
        while let Some(reference) = current.get("$ref").and_then(Value::as_str) {
            let name = reference
                .strip_prefix("#/$defs/")
                .or_else(|| reference.strip_prefix("#/definitions/"))
                .ok_or_else(|| FieldsError::typed(format!("unsupported $ref {reference}")))?;
            current = self
                .defs
                .and_then(|d| d.get(name))
                .ok_or_else(|| FieldsError::typed(format!("unresolved $ref {reference}")))?;
            hops += 1;
            if hops + depth > MAX_FIELD_DEPTH {
                return Err(FieldsError::typed(
                    "type nests too deeply (recursive type?)",
                ));
            }
        }
        Ok(current)
    }

    /// Resolves references and strips the `null` alternative `Option<T>` adds.
    fn shape(&self, schema: &'a Value, depth: usize) -> Result<Shape<'a>, FieldsError> {
        let mut schema = self.resolve(schema, depth)?;
        if let Some(Value::Array(alternatives)) =
            schema.get("anyOf").or_else(|| schema.get("oneOf"))
        {
            let non_null: Vec<&Value> = alternatives
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if let [only] = non_null.as_slice()
                && non_null.len() < alternatives.len()
            {
                schema = self.resolve(only, depth)?;
            }
        }
        let types = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => Vec::new(),
        };
        Ok(Shape { schema, types })
    }

    fn object_fields(
        &self,
        schema: &'a Value,
        path: &str,
        depth: usize,
    ) -> Result<Fields, FieldsError> {
        if depth > MAX_FIELD_DEPTH {
            return Err(FieldsError::typed(
                "type nests too deeply (recursive type?)",
            ));
        }
        let Some(Value::Object(properties)) = schema.get("properties") else {
            // A struct without fields (`struct NoSettings {}`) has no `properties`.
            if schema.get("type").and_then(Value::as_str) == Some("object")
                && schema.get("additionalProperties").is_none()
            {
                return Ok(Fields::new());
            }
            return Err(FieldsError::typed(format!(
                "{} is not a struct with named fields",
                if path.is_empty() { "the type" } else { path }
            )));
        };
        let required: Vec<&str> = match schema.get("required") {
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut fields = Fields::new();
        for (key, property) in properties {
            let field_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let field = self.property_field(
                key,
                property,
                required.contains(&key.as_str()),
                &field_path,
                depth,
            )?;
            fields.insert(key.clone(), field);
        }
        Ok(fields)
    }

    fn property_field(
        &self,
        key: &str,
        property: &'a Value,
        required: bool,
        path: &str,
        depth: usize,
    ) -> Result<InputField, FieldsError> {
        let shape = self.shape(property, depth)?;
        let text = |k: &str| property.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut field = InputField {
            label: Some(text("title").unwrap_or_else(|| key.to_owned())),
            description: text("description"),
            required: required.then_some(Required::Bool(true)),
            ..InputField::default()
        };
        let derived = self.derive_type(&shape, &mut field, path, depth)?;
        let Some(overlay) = property.get(EXTENSION) else {
            return if derived {
                Ok(field)
            } else {
                Err(FieldsError::typed(format!(
                    "{path}: its type has no field equivalent; give it an x-field type"
                )))
            };
        };
        let Value::Object(overlay) = overlay else {
            return Err(FieldsError::typed(format!(
                "{path}: x-field must be an object"
            )));
        };
        if !derived && !overlay.contains_key("type") {
            return Err(FieldsError::typed(format!(
                "{path}: its type has no field equivalent; give it an x-field type"
            )));
        }
        let mut merged = match serde_json::to_value(&field) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (k, v) in overlay {
            merged.insert(k.clone(), v.clone());
        }
        serde_json::from_value(Value::Object(merged))
            .map_err(|e| FieldsError::typed(format!("{path}: invalid x-field: {e}")))
    }

    /// Fills type, multiple, choices, properties, format and bounds; `false` when the schema has
    /// no field equivalent.
    fn derive_type(
        &self,
        shape: &Shape<'a>,
        field: &mut InputField,
        path: &str,
        depth: usize,
    ) -> Result<bool, FieldsError> {
        let schema = shape.schema;
        if let Some(choices) = enum_choices(schema) {
            field.field_type = FieldType::String;
            field.choices = Some(choices);
            return Ok(true);
        }
        let [single] = shape.types.as_slice() else {
            return Ok(false);
        };
        match *single {
            "array" => {
                let Some(items) = schema.get("items") else {
                    return Ok(false);
                };
                let item = self.shape(items, depth + 1)?;
                if item.types.contains(&"array") {
                    return Ok(false);
                }
                field.multiple = Some(true);
                self.derive_type(&item, field, path, depth + 1)
            }
            "object" => {
                field.field_type = FieldType::Object;
                if schema.get("properties").is_some() {
                    field.properties = Some(self.object_fields(schema, path, depth + 1)?);
                }
                Ok(true)
            }
            "string" => {
                field.field_type = FieldType::String;
                field.format = schema
                    .get("format")
                    .and_then(Value::as_str)
                    .filter(|f| matches!(formats::lookup(f), Some(FormatCheck::Str(_))))
                    .map(str::to_owned);
                field.minimum = number(schema, "minLength");
                field.maximum = number(schema, "maxLength");
                Ok(true)
            }
            "number" => {
                field.field_type = FieldType::Number;
                field.minimum = number(schema, "minimum");
                field.maximum = number(schema, "maximum");
                Ok(true)
            }
            "integer" => {
                field.field_type = FieldType::Integer;
                Ok(true)
            }
            "boolean" => {
                field.field_type = FieldType::Boolean;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

fn number(schema: &Value, key: &str) -> Option<serde_json::Number> {
    schema.get(key).and_then(Value::as_number).cloned()
}

/// The values of a unit-only enum (`enum: [...]`, or `oneOf` of `const`s when variants are
/// documented).
fn enum_choices(schema: &Value) -> Option<Vec<Choice>> {
    let values: Vec<&Value> = match (schema.get("enum"), schema.get("oneOf")) {
        (Some(Value::Array(values)), _) => values.iter().collect(),
        (None, Some(Value::Array(variants))) => variants
            .iter()
            .map(|v| v.get("const"))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    values
        .into_iter()
        .map(|v| v.as_str().map(|s| Choice::Value(s.to_owned())))
        .collect()
}

#[cfg(test)]
mod empty_struct_tests {
    use super::*;

    #[derive(schemars::JsonSchema)]
    struct Nothing {}

    #[test]
    fn a_struct_without_fields_has_no_fields() {
        assert!(fields_of::<Nothing>().unwrap().is_empty());
        assert!(
            fields_of::<crate::destination::NoSettings>()
                .unwrap()
                .is_empty()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{CompiledSchema, fields_to_json_schema};
    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::json;

    /// A postal address.
    #[derive(Debug, PartialEq, Deserialize, JsonSchema)]
    struct Address {
        /// Street line.
        street: String,
        city: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize, JsonSchema)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    enum Operation {
        Add,
        Remove,
    }

    #[derive(Debug, PartialEq, Deserialize, JsonSchema)]
    struct Conversion {
        /// The user's email address.
        #[schemars(title = "Email", email)]
        email: String,
        /// Value of the conversion.
        amount: Option<f64>,
        /// Identifiers in external systems.
        #[schemars(title = "External IDs")]
        external_ids: Vec<String>,
        /// Shipping address.
        address: Address,
        /// What to do with the user.
        #[schemars(extend("x-field" = {"choices": [{"value": "ADD", "label": "Add"}, {"value": "REMOVE", "label": "Remove"}]}))]
        operation: Operation,
        /// When it happened.
        #[schemars(title = "Timestamp")]
        #[schemars(extend("x-field" = {"type": "datetime", "default": {"@path": "$.timestamp"}}))]
        timestamp: String,
        /// Why the user is removed.
        #[serde(default)]
        #[schemars(extend("x-field" = {"required": {"conditions": [{"fieldKey": "operation", "operator": "is", "value": "REMOVE"}]}}))]
        reason: Option<String>,
        #[serde(default)]
        #[schemars(extend("x-field" = {"unsafe_hidden": true, "default": true}))]
        enable_batching: bool,
    }

    #[test]
    fn fields_come_from_the_type() {
        let fields = fields_of::<Conversion>().unwrap();
        let expected: Fields = serde_json::from_value(json!({
            "email": {"label": "Email", "description": "The user's email address.", "type": "string",
                      "required": true, "format": "email"},
            "amount": {"label": "amount", "description": "Value of the conversion.", "type": "number"},
            "external_ids": {"label": "External IDs", "description": "Identifiers in external systems.",
                             "type": "string", "required": true, "multiple": true},
            "address": {"label": "address", "description": "Shipping address.", "type": "object", "required": true,
                        "properties": {
                            "street": {"label": "street", "description": "Street line.", "type": "string", "required": true},
                            "city": {"label": "city", "type": "string"}
                        }},
            "operation": {"label": "operation", "description": "What to do with the user.", "type": "string",
                          "required": true,
                          "choices": [{"value": "ADD", "label": "Add"}, {"value": "REMOVE", "label": "Remove"}]},
            "timestamp": {"label": "Timestamp", "description": "When it happened.", "type": "datetime",
                          "required": true, "default": {"@path": "$.timestamp"}},
            "reason": {"label": "reason", "description": "Why the user is removed.", "type": "string",
                       "required": {"conditions": [{"fieldKey": "operation", "operator": "is", "value": "REMOVE"}]}},
            "enable_batching": {"label": "enable_batching", "type": "boolean", "unsafe_hidden": true, "default": true}
        }))
        .unwrap();
        assert_eq!(fields, expected);
        let order: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            order,
            [
                "email",
                "amount",
                "external_ids",
                "address",
                "operation",
                "timestamp",
                "reason",
                "enable_batching"
            ]
        );

        assert_eq!(
            fields_to_json_schema(&fields).unwrap(),
            json!({
                "$schema": "http://json-schema.org/schema#",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "email": {"title": "Email", "description": "The user's email address.", "type": "string", "format": "email"},
                    "amount": {"title": "amount", "description": "Value of the conversion.", "type": "number"},
                    "external_ids": {"title": "External IDs", "description": "Identifiers in external systems.",
                                     "type": "array", "items": {"type": "string"}},
                    "address": {"title": "address", "description": "Shipping address.", "type": "object",
                                "$schema": "http://json-schema.org/schema#", "additionalProperties": false,
                                "properties": {
                                    "street": {"title": "street", "description": "Street line.", "type": "string"},
                                    "city": {"title": "city", "type": "string"}
                                },
                                "required": ["street"]},
                    "operation": {"title": "operation", "description": "What to do with the user.", "type": "string",
                                  "enum": ["ADD", "REMOVE"]},
                    "timestamp": {"title": "Timestamp", "description": "When it happened.", "type": ["string", "number"],
                                  "format": "date-like", "default": {"@path": "$.timestamp"}},
                    "reason": {"title": "reason", "description": "Why the user is removed.", "type": "string"},
                    "enable_batching": {"title": "enable_batching", "type": "boolean", "default": true}
                },
                "required": ["email", "external_ids", "address", "operation", "timestamp"],
                "allOf": [{"if": {"required": ["operation"], "properties": {"operation": {"const": "REMOVE"}}},
                           "then": {"required": ["reason"]}}]
            })
        );
    }

    #[test]
    fn a_validated_payload_deserializes_into_the_type() {
        let schema = CompiledSchema::from_fields(&fields_of::<Conversion>().unwrap()).unwrap();
        let mut payload = json!({
            "email": "jane@example.com",
            "amount": "12.5",
            "external_ids": "x-1",
            "address": {"street": "1 Main St", "unknown": true},
            "operation": "ADD",
            "timestamp": "2024-01-02T03:04:05.000Z",
            "enable_batching": "true",
            "not_a_field": 1
        });
        schema.validate(&mut payload, &[]).unwrap();
        let conversion: Conversion = serde_json::from_value(payload).unwrap();
        assert_eq!(
            conversion,
            Conversion {
                email: "jane@example.com".into(),
                amount: Some(12.5),
                external_ids: vec!["x-1".into()],
                address: Address {
                    street: "1 Main St".into(),
                    city: None
                },
                operation: Operation::Add,
                timestamp: "2024-01-02T03:04:05.000Z".into(),
                reason: None,
                enable_batching: true,
            }
        );

        let mut removal = json!({
            "email": "not an email", "external_ids": [], "address": {"street": "s"},
            "operation": "REMOVE", "timestamp": "yesterday"
        });
        let err = schema.validate(&mut removal, &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "The root value is missing the required field 'reason'. The root value must match \"then\" schema. \
             Email must be a valid email address string but it was not. \
             Timestamp must be a valid date-like string but it was not."
        );
    }

    #[test]
    fn types_without_a_field_equivalent_are_refused() {
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Tuple(String, u8);
        assert!(fields_of::<Tuple>().is_err());

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Nested {
            grid: Vec<Vec<String>>,
        }
        let err = fields_of::<Nested>().unwrap_err();
        assert!(err.message().starts_with("grid:"), "{err}");

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Recursive {
            children: Vec<Recursive>,
        }
        assert!(fields_of::<Recursive>().is_err());
    }
}
