//! Field definitions: the reference's `InputField` / `GlobalSetting` (B.4, B.5, A.8).

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};

/// The fields of an action payload or of destination settings, in declaration order (the order
/// of `properties` in the JSON schema and of validation errors).
pub type Fields = IndexMap<String, InputField>;

/// A destination setting (authentication or audience field). The reference's `GlobalSetting` is
/// an `InputField` restricted to `boolean`, `string`, `password` and `number`; the same type
/// serves both.
pub type GlobalSetting = InputField;

/// Deserializes a member that is present (possibly `null`) into `Some`, so that an absent member
/// (JavaScript `undefined`) and an explicit `null` stay distinct.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// One field of an action payload or of destination settings, with every property of the
/// reference's `InputField` (JSON names in camelCase, as in the reference).
///
/// ```
/// use actions_core::fields::{FieldType, InputField};
///
/// let field: InputField = serde_json::from_value(serde_json::json!({
///     "label": "Email", "type": "string", "format": "email", "required": true
/// })).unwrap();
/// assert_eq!(field.field_type, FieldType::String);
/// assert_eq!(serde_json::to_value(&field).unwrap()["format"], "email");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputField {
    /// Human label; becomes the JSON-schema `title` and names the field in error messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Description shown to users; becomes the JSON-schema `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The field's type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// `true` (always required) or a conditional requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Required>,
    /// Default value: a literal or a mapping directive (prefills the mapping; not applied by
    /// validation). `Some(Value::Null)` is an explicit `null` default.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Value>,
    /// The field holds an array of `field_type` values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple: Option<bool>,
    /// `null` is an accepted value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_null: Option<bool>,
    /// The accepted values (plain strings or `{value, label}` pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
    /// Sub-fields of an `object` field (undeclared sub-keys are removed by validation unless
    /// `additional_properties` is `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Fields>,
    /// Keep undeclared sub-keys of an `object` field with `properties`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_properties: Option<bool>,
    /// A string format (`email`, `uri`, `date-time`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Minimum (numbers) or minimum length (strings); `0` is ignored, as in the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Number>,
    /// Maximum (numbers) or maximum length (strings); `0` is ignored, as in the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Number>,
    /// Choices are fetched from the destination's dynamic field handler (UI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
    /// Placeholder text (UI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// How the UI edits an object field.
    #[serde(
        rename = "defaultObjectUI",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub default_object_ui: Option<DefaultObjectUi>,
    /// Hidden from the UI.
    #[serde(
        rename = "unsafe_hidden",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsafe_hidden: Option<bool>,
    /// Not editable in the UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// When the UI shows the field (same shape as a conditional requirement; UI only).
    #[serde(
        rename = "depends_on",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub depends_on: Option<DependsOnConditions>,
    /// Category of the field (UI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<FieldCategory>,
    /// Initial display of the field (UI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_mode: Option<DisplayMode>,
    /// Mapping input methods the UI must not offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_input_methods: Option<Vec<InputMethod>>,
}

impl InputField {
    /// A field of the given type and label, every other property unset.
    ///
    /// ```
    /// use actions_core::fields::{FieldType, InputField};
    /// let f = InputField::new(FieldType::Number, "Amount");
    /// assert_eq!(f.label.as_deref(), Some("Amount"));
    /// ```
    pub fn new(field_type: FieldType, label: impl Into<String>) -> Self {
        InputField {
            label: Some(label.into()),
            field_type,
            ..InputField::default()
        }
    }

    /// Whether the field is unconditionally required.
    pub fn is_required(&self) -> bool {
        matches!(self.required, Some(Required::Bool(true)))
    }
}

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// A string.
    #[default]
    String,
    /// A long string (format `text`).
    Text,
    /// A number.
    Number,
    /// An integer.
    Integer,
    /// A date: a date-like string or a number (format `date-like`).
    Datetime,
    /// A boolean.
    Boolean,
    /// A secret string (format `password`).
    Password,
    /// An object.
    Object,
}

impl FieldType {
    /// The reference's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Datetime => "datetime",
            FieldType::Boolean => "boolean",
            FieldType::Password => "password",
            FieldType::Object => "object",
        }
    }
}

/// `required`: always (`true`) / never (`false`), or when conditions hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Required {
    /// `true` or `false`.
    Bool(bool),
    /// Required when the conditions hold (compiled to `if`/`then`).
    Conditional(DependsOnConditions),
}

/// One accepted value of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Choice {
    /// A plain string value.
    Value(String),
    /// A value with a display label.
    Labeled {
        /// The value (usually a string).
        value: Value,
        /// The label shown in the UI.
        label: String,
    },
}

impl Choice {
    /// The value that becomes part of the JSON-schema `enum`.
    pub fn value(&self) -> Value {
        match self {
            Choice::Value(s) => Value::String(s.clone()),
            Choice::Labeled { value, .. } => value.clone(),
        }
    }
}

/// A set of conditions (`DependsOnConditions`), used by conditional `required` and `depends_on`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DependsOnConditions {
    /// `any` or `all` (the default) of the conditions.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub match_mode: Option<ConditionMatch>,
    /// The conditions.
    pub conditions: Vec<Condition>,
}

/// How conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditionMatch {
    /// At least one condition holds.
    Any,
    /// Every condition holds.
    All,
}

/// One condition: on another field's value (`fieldKey`, possibly `parent.child`) or, for UI
/// visibility only, on the sync mode (`type: "syncMode"`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Condition {
    /// The field the condition is about (`parent.child` reaches into an object field).
    #[serde(rename = "fieldKey", default, skip_serializing_if = "Option::is_none")]
    pub field_key: Option<String>,
    /// `is` or `is_not` (other values are kept as written).
    pub operator: String,
    /// The compared value; `None` (absent) means "the field is empty".
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// `field` (the default) or `syncMode`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub condition_type: Option<String>,
}

impl Condition {
    /// A condition on a field's value (`value: None` tests for an empty field).
    ///
    /// ```
    /// use actions_core::fields::Condition;
    /// let c = Condition::field("kind", "is", Some("special".into()));
    /// assert_eq!(c.field_key.as_deref(), Some("kind"));
    /// ```
    pub fn field(
        field_key: impl Into<String>,
        operator: impl Into<String>,
        value: Option<Value>,
    ) -> Self {
        Condition {
            field_key: Some(field_key.into()),
            operator: operator.into(),
            value,
            condition_type: None,
        }
    }
}

/// How the UI edits an object field (`defaultObjectUI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultObjectUi {
    /// `keyvalue`
    #[serde(rename = "keyvalue")]
    KeyValue,
    /// `object`
    #[serde(rename = "object")]
    Object,
    /// `keyvalue:only`
    #[serde(rename = "keyvalue:only")]
    KeyValueOnly,
    /// `object:only`
    #[serde(rename = "object:only")]
    ObjectOnly,
    /// `arrayeditor`
    #[serde(rename = "arrayeditor")]
    ArrayEditor,
}

/// Category of a field (`category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldCategory {
    /// `identifier`
    #[serde(rename = "identifier")]
    Identifier,
    /// `data`
    #[serde(rename = "data")]
    Data,
    /// `internal`
    #[serde(rename = "internal")]
    Internal,
    /// `config`
    #[serde(rename = "config")]
    Config,
    /// `sync`
    #[serde(rename = "sync")]
    Sync,
    /// `hashedPII`
    #[serde(rename = "hashedPII")]
    HashedPii,
}

/// Initial display of a field (`displayMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayMode {
    /// `expanded`
    Expanded,
    /// `normal`
    Normal,
    /// `collapsed`
    Collapsed,
}

/// A mapping input method (`disabledInputMethods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMethod {
    /// `literal`
    Literal,
    /// `variable`
    Variable,
    /// `function`
    Function,
    /// `enrichment`
    Enrichment,
    /// `freeform`
    Freeform,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_property_round_trips_with_reference_names() {
        let json = json!({
            "label": "L", "description": "D", "type": "object", "required": {"match": "any",
            "conditions": [{"fieldKey": "a.b", "operator": "is", "value": null},
                           {"type": "syncMode", "operator": "is", "value": "upsert"}]},
            "default": {"@path": "$.x"}, "multiple": true, "allowNull": true,
            "choices": ["a", {"value": 2, "label": "Two"}],
            "properties": {"p": {"type": "string"}}, "additionalProperties": true,
            "format": "uri", "minimum": 1, "maximum": 2.5, "dynamic": true, "placeholder": "P",
            "defaultObjectUI": "keyvalue:only", "unsafe_hidden": true, "readOnly": false,
            "depends_on": {"conditions": [{"fieldKey": "a", "operator": "is_not", "value": ["x", "y"]}]},
            "category": "hashedPII", "displayMode": "collapsed",
            "disabledInputMethods": ["literal", "freeform"]
        });
        let field: InputField = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(field.field_type, FieldType::Object);
        assert_eq!(field.default_object_ui, Some(DefaultObjectUi::KeyValueOnly));
        let Some(Required::Conditional(c)) = &field.required else {
            panic!("conditional requirement expected")
        };
        assert_eq!(
            c.conditions[0].value,
            Some(Value::Null),
            "an explicit null stays a value"
        );
        assert_eq!(c.conditions[1].value, Some(json!("upsert")));
        assert_eq!(serde_json::to_value(&field).unwrap(), json);
    }

    #[test]
    fn absent_and_null_values_differ() {
        let c: Condition =
            serde_json::from_value(json!({"fieldKey": "a", "operator": "is"})).unwrap();
        assert_eq!(c.value, None);
        let f: InputField =
            serde_json::from_value(json!({"type": "string", "default": null})).unwrap();
        assert_eq!(f.default, Some(Value::Null));
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"type": "string", "default": null})
        );
    }
}
