//! Field definitions, their JSON schemas and payload validation, with the semantics of the
//! reference framework (`@segment/actions-core` with AJV 8, `ajv-formats` and
//! `@segment/ajv-human-errors`):
//!
//! * [`InputField`] / [`Fields`]: an action's payload fields or a destination's settings;
//! * [`fields_to_json_schema`]: the JSON schema of the fields (`fieldsToJsonSchema`);
//! * [`CompiledSchema`]: a schema compiled once, validating payloads in place with AJV's
//!   coercions and removals, reporting [`SchemaValidationError`]s worded like the reference's;
//! * [`remove_empty_values`]: the clean-up run on a mapped payload before validation;
//! * [`fields_of`]: the fields of a Rust type deriving `schemars::JsonSchema`.
//!
//! ```
//! use actions_core::fields::{fields_to_json_schema, remove_empty_values, CompiledSchema, Fields};
//! use serde_json::json;
//!
//! let fields: Fields = serde_json::from_value(json!({
//!     "email": {"label": "Email", "type": "string", "format": "email", "required": true},
//!     "amount": {"label": "Amount", "type": "number"}
//! })).unwrap();
//! let schema = fields_to_json_schema(&fields).unwrap();
//! let compiled = CompiledSchema::compile(&schema).unwrap();
//!
//! let payload = remove_empty_values(json!({"email": "a@b.co", "amount": "", "x": 1}), &schema, true).unwrap();
//! let mut payload = payload;
//! compiled.validate(&mut payload, &[]).unwrap();
//! assert_eq!(payload, json!({"email": "a@b.co"}));
//! ```

mod compiled;
mod date_like;
mod error;
mod field;
mod formats;
mod human;
mod js;
mod js_regex;
mod remove_empty;
mod to_schema;
mod typed;

pub use compiled::CompiledSchema;
pub use error::{FieldsError, FieldsErrorKind, HumanError, SchemaValidationError};
pub use field::{
    Choice, Condition, ConditionMatch, DefaultObjectUi, DependsOnConditions, DisplayMode,
    FieldCategory, FieldType, Fields, GlobalSetting, InputField, InputMethod, Required,
};
pub use remove_empty::remove_empty_values;
pub use to_schema::fields_to_json_schema;
pub use typed::fields_of;
