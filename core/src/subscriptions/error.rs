//! The error type of the subscription language.

use std::fmt;

/// What kind of problem an [`FqlError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FqlErrorKind {
    /// The lexer rejected the input (a character it does not know, an unterminated
    /// string, `total>40`, ...). The reference swallows lexer errors and then fails with a
    /// JavaScript `TypeError`; the message here is our own and names the position.
    Lex,
    /// One of the reference parser's own errors, with its exact text:
    /// `Operator token is missing`, `Value token is missing`,
    /// `contains() is missing a 1st argument`, `match() is missing a 2nd argument`, ...
    Parser,
    /// The input yields no usable condition: nothing recognisable at all, an unclosed
    /// or nested parenthesis, or an empty group `()`. The reference fails with a
    /// JavaScript `TypeError` (or, for an empty group next to other conditions, produces
    /// an AST whose evaluation always throws); the message here is our own.
    Structure,
    /// Rejected only by [`Subscription::parse_strict`](super::Subscription::parse_strict):
    /// an ambiguous `and`/`or` mix without parentheses, or an ignored token.
    Strict,
    /// Input the reference accepts but whose result cannot be represented faithfully
    /// (a `match()` pattern that would be cut inside a UTF-16 surrogate pair).
    Unsupported,
    /// [`generate_fql`](super::generate_fql) met a condition type it cannot print
    /// (the reference's `Unknown condition type`).
    Generate,
    /// The AST itself carried an error (the reference's `{error}` parse result), which
    /// [`generate_fql`](super::generate_fql) re-raises.
    ErrorAst,
    /// Evaluation failed where the reference's `validate` throws a `TypeError`
    /// (the event is `null`, or a property path has no segment at all).
    Evaluate,
    /// [`Ast::from_reference_json`](super::Ast::from_reference_json) was given a value
    /// that is not in the reference's AST shape.
    InvalidAst,
}

/// An error from parsing, printing, evaluating or converting a subscription.
///
/// [`message`](FqlError::message) is the reference's text wherever the reference has one
/// of its own (so the runtime can report `Invalid subscription : <message>` exactly as
/// the reference does); [`position`](FqlError::position) and
/// [`expected`](FqlError::expected) add what the reference does not say.
///
/// ```
/// use actions_core::subscriptions::{FqlErrorKind, Subscription};
///
/// let err = Subscription::parse("type").unwrap_err();
/// assert_eq!(err.message(), "Value token is missing");
/// assert_eq!(err.kind(), FqlErrorKind::Parser);
/// assert_eq!(err.position(), Some(4)); // where the value should be
/// assert_eq!(err.to_string(), "Value token is missing (at byte 4; expected a value (a quoted string, a number, true, false or null) after the operator)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FqlError {
    kind: FqlErrorKind,
    message: String,
    position: Option<usize>,
    expected: Option<String>,
    class: Option<String>,
}

impl FqlError {
    pub(crate) fn new(kind: FqlErrorKind, message: impl Into<String>) -> Self {
        FqlError {
            kind,
            message: message.into(),
            position: None,
            expected: None,
            class: None,
        }
    }

    pub(crate) fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    pub(crate) fn expecting(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub(crate) fn with_class(mut self, class: impl Into<String>) -> Self {
        self.class = Some(class.into());
        self
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> FqlErrorKind {
        self.kind
    }

    /// The message: the reference's exact text for its own parser errors
    /// (`Value token is missing`, ...), a descriptive message of ours otherwise.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset in the FQL source where the problem was found, when there is one.
    pub fn position(&self) -> Option<usize> {
        self.position
    }

    /// What the parser expected at [`position`](FqlError::position), when known.
    pub fn expected(&self) -> Option<&str> {
        self.expected.as_deref()
    }

    /// The JavaScript error class the reference reports for the same input:
    /// `Error` for its own parser messages, `TypeError` where it fails inside the
    /// JavaScript engine, the recorded class for an error carried by an AST.
    pub fn reference_class(&self) -> &str {
        if let Some(class) = &self.class {
            return class;
        }
        match self.kind {
            FqlErrorKind::Parser | FqlErrorKind::Generate | FqlErrorKind::ErrorAst => "Error",
            FqlErrorKind::Lex
            | FqlErrorKind::Structure
            | FqlErrorKind::Evaluate
            | FqlErrorKind::Unsupported => "TypeError",
            FqlErrorKind::Strict | FqlErrorKind::InvalidAst => "Error",
        }
    }
}

impl fmt::Display for FqlError {
    /// The message; for the reference parser's own (terse) messages, followed by the
    /// position and what was expected. Our own messages already name both.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if self.kind != FqlErrorKind::Parser {
            return Ok(());
        }
        if let Some(position) = self.position {
            write!(f, " (at byte {position}")?;
            if let Some(expected) = &self.expected {
                write!(f, "; expected {expected}")?;
            }
            f.write_str(")")?;
        } else if let Some(expected) = &self.expected {
            write!(f, " (expected {expected})")?;
        }
        Ok(())
    }
}

impl std::error::Error for FqlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_adds_position_and_expectation_to_the_message() {
        let e = FqlError::new(FqlErrorKind::Parser, "Value token is missing")
            .at(5)
            .expecting("a value");
        assert_eq!(e.message(), "Value token is missing");
        assert_eq!(
            e.to_string(),
            "Value token is missing (at byte 5; expected a value)"
        );
        let e = FqlError::new(FqlErrorKind::Lex, "unterminated string at byte 3")
            .at(3)
            .expecting("a closing quote");
        assert_eq!(e.to_string(), "unterminated string at byte 3");
        let e = FqlError::new(FqlErrorKind::Generate, "Unknown condition type");
        assert_eq!(e.to_string(), "Unknown condition type");
        assert_eq!(e.reference_class(), "Error");
    }

    #[test]
    fn reference_class_follows_the_kind_unless_recorded() {
        assert_eq!(
            FqlError::new(FqlErrorKind::Lex, "x").reference_class(),
            "TypeError"
        );
        assert_eq!(
            FqlError::new(FqlErrorKind::ErrorAst, "bad")
                .with_class("RangeError")
                .reference_class(),
            "RangeError"
        );
    }
}
