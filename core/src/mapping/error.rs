//! Errors of the mapping kit.

use std::fmt;

/// One problem found while validating a mapping.
///
/// [`message`](Self::message) is the reference's text, for example
/// `/a/@path should be a string or a mapping directive but it is a number.`;
/// [`pointer`](Self::pointer) is the JSON pointer (RFC 6901) of the offending node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationIssue {
    stack: Vec<String>,
    text: String,
    message: String,
}

impl ValidationIssue {
    /// An issue at `stack` (the keys leading to the node) with the reference's `text`
    /// (without the leading location and the trailing period).
    pub(crate) fn new(stack: &[String], text: impl Into<String>) -> Self {
        let text = text.into();
        let message = format!("/{} {}.", stack.join("/"), text);
        ValidationIssue {
            stack: stack.to_vec(),
            text,
            message,
        }
    }

    /// The full message as the reference words it (`/<path> <text>.`).
    ///
    /// ```
    /// let err = actions_core::mapping::Mapping::compile(&serde_json::json!({"a": {"@path": 1}}))
    ///     .unwrap_err();
    /// let issue = &err.issues()[0];
    /// assert_eq!(issue.message(), "/a/@path should be a string or a mapping directive but it is a number.");
    /// assert_eq!(issue.pointer(), "/a/@path");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The problem without its location, e.g. `should be a boolean but it is a string`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The keys from the mapping's root to the offending node.
    pub fn path(&self) -> &[String] {
        &self.stack
    }

    /// The JSON pointer (RFC 6901, `~` and `/` escaped) of the offending node; `""` is the root.
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for key in &self.stack {
            out.push('/');
            out.push_str(&key.replace('~', "~0").replace('/', "~1"));
        }
        out
    }
}

impl fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error from compiling or evaluating a mapping.
///
/// [`class`](Self::class) names the kind as the command-line contract does:
/// `ValidationError` (the mapping is invalid, every problem in [`errors`](Self::errors)),
/// `Error` (a directive failed while running) or `TemplateError` (a Liquid template error).
///
/// ```
/// use actions_core::mapping::{transform, MappingError};
/// use serde_json::json;
/// let err = transform(&json!({"a": {"@path": 1}, "b": {"@template": false}}), &json!({})).unwrap_err();
/// assert_eq!(err.class(), "ValidationError");
/// assert_eq!(err.errors(), vec![
///     "/a/@path should be a string or a mapping directive but it is a number.".to_string(),
///     "/b/@template should be a string or a mapping directive but it is a boolean.".to_string(),
/// ]);
/// let err = transform(&json!({"@path": {"@path": "$.n"}}), &json!({"n": 1})).unwrap_err();
/// assert_eq!(err.class(), "Error");
/// assert_eq!(err.message(), "@path: expected string, got number");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The mapping is invalid. `aggregate` is true where the reference throws an
    /// `AggregateError` (problems found under an object key) rather than a single
    /// `ValidationError` (a directive at the root).
    #[error("{}", join_issues(.issues))]
    Validation {
        /// Every problem, in the reference's order.
        issues: Vec<ValidationIssue>,
        /// Whether the reference reports them as an `AggregateError`.
        aggregate: bool,
    },
    /// A directive failed while running (or the input has the wrong type).
    #[error("{message}")]
    Runtime {
        /// The reference's message, e.g. `@path: expected string, got undefined`.
        message: String,
    },
    /// A Liquid template could not be parsed or rendered.
    #[error("{message}")]
    Template {
        /// The message; for the kit's own restrictions it is the reference's text
        /// (`tag "for" is disabled`, `filter "sort" is disabled`).
        message: String,
    },
}

fn join_issues(issues: &[ValidationIssue]) -> String {
    issues
        .iter()
        .map(ValidationIssue::message)
        .collect::<Vec<_>>()
        .join("\n")
}

impl MappingError {
    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        MappingError::Runtime {
            message: message.into(),
        }
    }

    pub(crate) fn template(message: impl Into<String>) -> Self {
        MappingError::Template {
            message: message.into(),
        }
    }

    /// `"ValidationError"`, `"Error"` or `"TemplateError"`.
    pub fn class(&self) -> &'static str {
        match self {
            MappingError::Validation { .. } => "ValidationError",
            MappingError::Runtime { .. } => "Error",
            MappingError::Template { .. } => "TemplateError",
        }
    }

    /// The message (for validation errors, every problem joined with `"\n"`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Every problem's message, in order (a single message for run-time errors).
    pub fn errors(&self) -> Vec<String> {
        match self {
            MappingError::Validation { issues, .. } => {
                issues.iter().map(|i| i.message().to_owned()).collect()
            }
            other => vec![other.to_string()],
        }
    }

    /// The validation problems (empty for run-time errors).
    pub fn issues(&self) -> &[ValidationIssue] {
        match self {
            MappingError::Validation { issues, .. } => issues,
            _ => &[],
        }
    }
}
