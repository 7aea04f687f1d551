//! Errors of the fields module.

use serde::Serialize;
use std::fmt;

/// Why fields or a schema could not be turned into a validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldsErrorKind {
    /// `fieldsToJsonSchema` threw (for example an unsupported conditional operator).
    JsonSchema,
    /// The JSON schema was refused by the validator compiler (AJV in the reference).
    Compile,
    /// A Rust type could not be described as fields ([`fields_of`](super::fields_of)).
    TypedFields,
}

/// Fields could not be turned into a JSON schema, or a JSON schema could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsError {
    kind: FieldsErrorKind,
    message: String,
}

impl FieldsError {
    pub(crate) fn new(kind: FieldsErrorKind, message: impl Into<String>) -> Self {
        FieldsError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn json_schema(message: impl Into<String>) -> Self {
        Self::new(FieldsErrorKind::JsonSchema, message)
    }

    pub(crate) fn compile(message: impl Into<String>) -> Self {
        Self::new(FieldsErrorKind::Compile, message)
    }

    pub(crate) fn typed(message: impl Into<String>) -> Self {
        Self::new(FieldsErrorKind::TypedFields, message)
    }

    /// What failed.
    pub fn kind(&self) -> FieldsErrorKind {
        self.kind
    }

    /// The error message (for [`FieldsErrorKind::JsonSchema`] the reference's own text, such as
    /// `Unsupported conditionally required field operator: contains`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FieldsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldsError {}

/// One human-readable validation error, as `@segment/ajv-human-errors` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HumanError {
    /// JSON pointer of the offending value (`""` for the payload itself, `/items/0/id`).
    pub pointer: String,
    /// The same location as a JSON path (`$`, `$.items[0].id`).
    pub path: String,
    /// The sentence, e.g. `Email must be a string but it was a number.`
    pub message: String,
}

/// The payload did not validate (the reference's `AggregateAjvError`). `Display` is the joined
/// message; the reference reports it with HTTP status 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaValidationError {
    errors: Vec<HumanError>,
    message: String,
}

impl SchemaValidationError {
    pub(crate) fn new(errors: Vec<HumanError>) -> Self {
        let message = errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        SchemaValidationError { errors, message }
    }

    /// Every error's sentence joined with a space, in the reference's evaluation order.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The individual errors, in the reference's evaluation order.
    pub fn errors(&self) -> &[HumanError] {
        &self.errors
    }

    /// The HTTP status the reference attaches to a validation failure.
    pub fn status(&self) -> u16 {
        400
    }
}

impl fmt::Display for SchemaValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SchemaValidationError {}
