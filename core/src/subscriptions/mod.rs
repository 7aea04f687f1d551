//! The subscription language (FQL): which events an action receives.
//!
//! A subscription such as `type = "track" and event = "Order Completed"` is parsed once
//! into a [`Subscription`] and then matched against many events with
//! [`Subscription::matches`], which allocates nothing. The results are those of
//! Segment's `@segment/destination-subscriptions` 3.37.0 (`parseFql`, `validate`,
//! `generateFql`, lexer `@segment/fql-ts` 1.10.1), checked against the conformance
//! vectors in `conformance/fql/`.
//!
//! ```
//! use actions_core::subscriptions::Subscription;
//! use serde_json::json;
//!
//! let sub = Subscription::parse(r#"type = "track" and properties.revenue > 10"#)?;
//! assert!(sub.matches(&json!({"type": "track", "properties": {"revenue": 12.5}})));
//! assert!(!sub.matches(&json!({"type": "track", "properties": {"revenue": "12.5"}})));
//! assert_eq!(sub.to_fql(), r#"type = "track" and properties.revenue > 10"#);
//! # Ok::<(), actions_core::subscriptions::FqlError>(())
//! ```
//!
//! # Grammar, as implemented by the reference
//!
//! ```text
//! query      := term (conj term)*                     conj := and | or
//! term       := comparison | func | '!' func | '(' query ')'
//! comparison := field op value                        op := = | != | < | <= | > | >=
//! field      := type | event | name | userId | properties.<path> | traits.<path> | context.<path>
//! value      := "string" | number | true | false | null
//! func       := contains '(' field ',' "text" ')' | match '(' field ',' "pattern" ')'
//! ```
//!
//! # Quirks reproduced on purpose
//!
//! The reference's behaviour is reproduced exactly, including where it surprises:
//!
//! * **No precedence.** All terms of one parenthesis level are joined by the *last*
//!   `and`/`or` seen at that level: `a and b or c` is `a or b or c`. Use parentheses
//!   (and [`Subscription::parse_strict`] to reject the ambiguous form).
//! * **A group ends at the first `)`**, so groups do not nest: `((a))` and
//!   `(a or (b and c))` are errors, and `(contains(event, "x") or b)` closes the group
//!   after `"x"`. A lone parenthesised condition `(a)` is just `a`.
//! * **Unknown words are skipped**: `typo`, and upper-case `AND`/`OR`, which are not
//!   conjunctions (`a OR b` is `a and b`). A missing conjunction means `and`. A word
//!   that JavaScript objects inherit (`constructor`, `toString`, ...) takes the next two
//!   tokens with it. If nothing is left, the input is an error.
//! * **Lexing**: `!=`, `>`, ... must be separated from an identifier by a space
//!   (`properties.total>40` is an error); `and`/`or`/`null` need whitespace (or `,`, `)`,
//!   `]`, the end) after them; `=` is always one token (`type == "x"` compares with
//!   `"="`); a backslash escapes any character in a path (`properties.a\ b`); `\r` is not
//!   whitespace. See the [lexer notes](self#lexer).
//! * **Whatever token stands in the operator or value place is taken**: `type = ` compares
//!   with `"eos"`, `type "track"` has the operator `"track"` (and never matches).
//! * **Strings** run to the next quote of the same kind, without escapes;
//!   **single-quoted strings keep their quotes** (`event = 'x'` compares with `'x'`).
//! * **Typed values on `properties`/`traits`/`context`**: `= 42` becomes
//!   `number_equals` and matches only the number 42, `= "42"` only the string; `= true`,
//!   `= false`, `= null`, `!= null` become `is_true`, `is_false`, `not_exists`, `exists`.
//!   `properties.total = -` compares with `NaN`.
//! * **On `type`, `event`, `name` and `userId` every value is a string**: `userId = 123`
//!   does not match a numeric `userId`, `event != null` compares with the text `"null"`.
//!   `name` knows `= null`/`!= null`; `userId` knows those and `= true`/`= false`.
//! * **Comparisons**: `=` needs a string actual value equal to `String(expected)`; `!=`
//!   is its negation, so it holds for a missing field; `<`, `<=`, `>`, `>=`,
//!   `number_equals` and `number_not_equals` need a number (missing: false, even for
//!   `number_not_equals`); `contains`, `match` and their negations need a string (missing:
//!   false, even when negated); `is_true`/`is_false` need a real boolean.
//! * **`match()` patterns**: a pattern ending in `*` means "starts with" the rest; any
//!   other pattern means "ends with" the pattern *minus its first character*, so
//!   `match(x, "*abc")` is "ends with `abc`" and `match(x, "abc")` is "ends with `bc`".
//!   `contains()` and `match()` accept `event`, `name`, `userId` and paths, not `type`.
//! * **Paths** split on `.`, `[` and `]` and are read like JavaScript: a falsy value on
//!   the way (`0`, `""`, `false`, `null`) is the result (`properties.a.b != null` holds
//!   when `a` is `0`), strings and arrays have `length` and indices (strings by UTF-16
//!   code unit), inherited members such as `constructor` exist.
//!
//! # Lexer
//!
//! `and`/`or`/`null` that run into the end of the input lose the characters read ahead
//! (`type = an` compares with `"a"`); a string whose closing quote is followed by
//! something other than whitespace, `,`, `)` or `]` lends that quote to a following
//! string; numbers stop at the first character that is neither digit nor `.`
//! (`1e5` is `1` followed by the ignored word `e5`); tokens are limited to 100 000
//! UTF-16 code units.
//!
//! # Deliberate differences
//!
//! * An **empty group** `()` is an error ([`FqlErrorKind::Structure`]). The reference
//!   keeps it as an `undefined` child on which `validate` and `generateFql` throw.
//! * A **`match()` pattern without `*` starting with a character outside the Basic
//!   Multilingual Plane** is an error ([`FqlErrorKind::Unsupported`]); the reference cuts
//!   the character in half.
//! * The printer escapes a path character outside the BMP as one character; the
//!   reference escapes each half of its surrogate pair.
//! * Functions inherited from a prototype (`properties.toString`) exist but are opaque:
//!   reading further into them gives `undefined`.
//!
//! Errors carry the reference's message where it has one ([`FqlError::message`]) and,
//! for inputs where the reference fails inside JavaScript (`TypeError`), a message of
//! our own naming the byte position and what was expected.

#![warn(missing_docs)]

mod ast;
mod error;
mod js;
mod lexer;
mod matcher;
mod parser;
mod printer;

use std::str::FromStr;

use serde_json::Value;

pub use ast::{
    Ast, AstError, Condition, Field, Group, GroupOperator, Leaf, Literal, MAX_AST_DEPTH, Operator,
};
pub use error::{FqlError, FqlErrorKind};

use matcher::Node;

/// A parsed subscription: parse once, match many times.
///
/// ```
/// use actions_core::subscriptions::Subscription;
/// use serde_json::json;
///
/// let sub = Subscription::parse(r#"event = "Order Completed" or contains(properties.sku, "GIFT")"#)?;
/// assert!(sub.matches(&json!({"event": "Order Completed"})));
/// assert!(sub.matches(&json!({"event": "Cart Viewed", "properties": {"sku": "GIFT-1"}})));
/// assert!(!sub.matches(&json!({"event": "Cart Viewed"})));
///
/// let err = Subscription::parse("properties.total>40").unwrap_err();
/// assert_eq!(err.position(), Some(16));
/// # Ok::<(), actions_core::subscriptions::FqlError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Subscription {
    ast: Ast,
    program: Node,
}

// The runtime shares subscriptions between threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Subscription>();
};

impl Subscription {
    /// Parses FQL exactly as the reference's `parseFql` does.
    ///
    /// Errors carry the reference's message where it has one (`Value token is missing`,
    /// `Operator token is missing`, `contains() is missing a 1st argument`, ...), plus
    /// the byte [`position`](FqlError::position) and what was
    /// [`expected`](FqlError::expected); for inputs where the reference fails with a
    /// JavaScript `TypeError` (nothing recognisable, a lexer error, unclosed or nested
    /// parentheses) the message is ours and names the position.
    ///
    /// ```
    /// use actions_core::subscriptions::Subscription;
    ///
    /// let sub = Subscription::parse(r#"type = "track" and event = "Nope" or type = "identify""#)?;
    /// // No precedence: the last conjunction applies to the whole level.
    /// assert_eq!(sub.to_fql(), r#"type = "track" or event = "Nope" or type = "identify""#);
    ///
    /// assert_eq!(Subscription::parse("type").unwrap_err().message(), "Value token is missing");
    /// assert!(Subscription::parse("typo").is_err());
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn parse(fql: &str) -> Result<Subscription, FqlError> {
        Self::from_group(parser::parse(fql, false)?)
    }

    /// Parses like [`parse`](Subscription::parse) but also rejects what the reference
    /// silently reinterprets: `and` and `or` mixed at one level without parentheses,
    /// tokens it would skip (unknown words such as `OR`, a stray `)`), a comparison whose
    /// operator or value is not one, single-quoted strings, and `match()` patterns
    /// without `*`. What it accepts means the same as under `parse`.
    ///
    /// ```
    /// use actions_core::subscriptions::{FqlErrorKind, Subscription};
    ///
    /// let fql = r#"type = "track" and event = "A" or event = "B""#;
    /// assert!(Subscription::parse(fql).is_ok());
    /// let err = Subscription::parse_strict(fql).unwrap_err();
    /// assert_eq!(err.kind(), FqlErrorKind::Strict);
    /// assert!(Subscription::parse_strict(r#"type = "track" and (event = "A" or event = "B")"#).is_ok());
    /// ```
    pub fn parse_strict(fql: &str) -> Result<Subscription, FqlError> {
        Self::from_group(parser::parse(fql, true)?)
    }

    /// Builds a subscription from an AST (for example one read with
    /// [`Ast::from_reference_json`]). Fails for an [`Ast::Error`] (with its error), for an
    /// AST [`generate_fql`] cannot print (unknown condition types), and for nesting deeper
    /// than [`MAX_AST_DEPTH`].
    ///
    /// ```
    /// use actions_core::subscriptions::{Ast, Subscription};
    /// use serde_json::json;
    ///
    /// let ast = Ast::from_reference_json(&json!({"type": "group", "operator": "and", "children": [
    ///     {"type": "event-trait", "name": "plan", "operator": "=", "value": "pro"}]}))?;
    /// let sub = Subscription::from_ast(ast)?;
    /// assert_eq!(sub.to_fql(), r#"traits.plan = "pro""#);
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn from_ast(ast: Ast) -> Result<Subscription, FqlError> {
        let group = match ast {
            Ast::Error(e) => {
                return Err(FqlError::new(FqlErrorKind::ErrorAst, e.message).with_class(e.class));
            }
            Ast::Group(g) => g,
        };
        group.check_depth()?;
        let program = Node::group(&group);
        let ast = Ast::Group(group);
        printer::generate(&ast)?;
        Ok(Subscription { ast, program })
    }

    /// A parsed group: the parser builds only printable conditions and nests groups one
    /// level deep, so the checks of `from_ast` are not needed.
    fn from_group(group: Group) -> Result<Subscription, FqlError> {
        debug_assert!(group.check_depth().is_ok());
        let program = Node::group(&group);
        let ast = Ast::Group(group);
        debug_assert!(printer::generate(&ast).is_ok());
        Ok(Subscription { ast, program })
    }

    /// Whether `event` matches: the reference's `validate(ast, event)`.
    ///
    /// Allocates nothing. Where the reference's `validate` would throw (the event is
    /// `null`, or a property path consists only of separators), this returns `false`;
    /// use [`try_matches`](Subscription::try_matches) to tell those cases apart.
    ///
    /// ```
    /// use actions_core::subscriptions::Subscription;
    /// use serde_json::json;
    ///
    /// let sub = Subscription::parse("userId = 123")?;
    /// assert!(sub.matches(&json!({"userId": "123"})));
    /// assert!(!sub.matches(&json!({"userId": 123}))); // compared as strings
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn matches(&self, event: &Value) -> bool {
        self.program.eval(event).unwrap_or(false)
    }

    /// Like [`matches`](Subscription::matches), but reports where the reference's
    /// `validate` would throw instead of answering `false`.
    ///
    /// ```
    /// use actions_core::subscriptions::{FqlErrorKind, Subscription};
    /// use serde_json::json;
    ///
    /// let sub = Subscription::parse(r#"type = "track""#)?;
    /// assert_eq!(sub.try_matches(&json!({"type": "track"})), Ok(true));
    /// assert_eq!(sub.try_matches(&json!(null)).unwrap_err().kind(), FqlErrorKind::Evaluate);
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn try_matches(&self, event: &Value) -> Result<bool, FqlError> {
        self.program
            .eval(event)
            .map_err(matcher::EvalFailure::into_error)
    }

    /// The typed AST, in the reference's shape (always an [`Ast::Group`]).
    pub fn ast(&self) -> &Ast {
        &self.ast
    }

    /// The subscription printed back as FQL: the reference's `generateFql(ast)`.
    ///
    /// ```
    /// use actions_core::subscriptions::Subscription;
    ///
    /// let sub = Subscription::parse(r#"match(event, "Order*") and properties.a\ b != null"#)?;
    /// assert_eq!(sub.to_fql(), r#"match(event, "Order*") and properties.a\ b != null"#);
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn to_fql(&self) -> String {
        // `from_ast` made sure the AST prints.
        printer::generate(&self.ast).unwrap_or_default()
    }
}

impl FromStr for Subscription {
    type Err = FqlError;

    /// [`Subscription::parse`].
    fn from_str(fql: &str) -> Result<Self, Self::Err> {
        Subscription::parse(fql)
    }
}

/// Prints an AST as FQL: the reference's `generateFql(ast)`.
///
/// Fails like the reference: with the carried error for an [`Ast::Error`], and with
/// `Unknown condition type` for a leaf of a type it does not know; also for nesting
/// deeper than [`MAX_AST_DEPTH`].
///
/// ```
/// use actions_core::subscriptions::{generate_fql, Ast};
/// use serde_json::json;
///
/// let ast = Ast::from_reference_json(&json!({"type": "group", "operator": "and", "children": [
///     {"type": "event-property", "name": "property 1", "operator": "number_equals", "value": "123"}]}))?;
/// assert_eq!(generate_fql(&ast)?, r"properties.property\ 1 = 123");
/// # Ok::<(), actions_core::subscriptions::FqlError>(())
/// ```
pub fn generate_fql(ast: &Ast) -> Result<String, FqlError> {
    if let Ast::Group(g) = ast {
        g.check_depth()?;
    }
    printer::generate(ast)
}

/// The reference's `validate(ast, event)` for an AST in any shape it accepts, with
/// `None` standing for an `undefined` event.
///
/// `Ok(false)` for an [`Ast::Error`] or a missing event; `Err` where the reference throws
/// (a `null` event, a path made only of separators) or the AST nests deeper than
/// [`MAX_AST_DEPTH`]. Compiles the AST on each call: to match many events, build a
/// [`Subscription`].
///
/// ```
/// use actions_core::subscriptions::{validate, Ast};
/// use serde_json::json;
///
/// let ast = Ast::from_reference_json(&json!({"type": "group", "operator": "or", "children": []}))?;
/// assert_eq!(validate(&ast, Some(&json!({}))), Ok(false));
/// assert_eq!(validate(&ast, None), Ok(false));
/// # Ok::<(), actions_core::subscriptions::FqlError>(())
/// ```
pub fn validate(ast: &Ast, event: Option<&Value>) -> Result<bool, FqlError> {
    let (Ast::Group(group), Some(event)) = (ast, event) else {
        return Ok(false);
    };
    group.check_depth()?;
    Node::group(group)
        .eval(event)
        .map_err(matcher::EvalFailure::into_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_match_print() {
        let sub = Subscription::parse(
            "type = \"track\" and event = \"Order Completed\" and properties.revenue > 10",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let event =
            json!({"type": "track", "event": "Order Completed", "properties": {"revenue": 10.5}});
        assert!(sub.matches(&event));
        assert!(!sub.matches(
            &json!({"type": "track", "event": "Order Completed", "properties": {"revenue": 10}})
        ));
        assert_eq!(
            sub.to_fql(),
            "type = \"track\" and event = \"Order Completed\" and properties.revenue > 10"
        );
        let again: Subscription = sub.to_fql().parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.ast(), sub.ast());
    }

    #[test]
    fn from_ast_rejects_what_cannot_be_printed_or_is_an_error() {
        let unknown = Ast::from_reference_json(&json!({"type": "group", "operator": "and",
            "children": [{"type": "event-thing", "operator": "exists"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Subscription::from_ast(unknown.clone())
                .map(|s| s.to_fql())
                .map_err(|e| e.kind()),
            Err(FqlErrorKind::Generate)
        );
        assert_eq!(validate(&unknown, Some(&json!({}))), Ok(false));
        let error = Ast::Error(AstError {
            class: "Error".into(),
            message: "Value token is missing".into(),
        });
        let err = Subscription::from_ast(error.clone())
            .map(|s| s.to_fql())
            .expect_err("error AST");
        assert_eq!(err.message(), "Value token is missing");
        assert_eq!(validate(&error, Some(&json!({}))), Ok(false));
    }

    #[test]
    fn deep_typed_asts_are_rejected_without_recursion() {
        let mut group = Group {
            operator: GroupOperator::And,
            children: vec![],
        };
        for _ in 0..100_000 {
            group = Group {
                operator: GroupOperator::Or,
                children: vec![Condition::Group(group)],
            };
        }
        let ast = Ast::Group(group);
        assert_eq!(
            generate_fql(&ast).map_err(|e| e.kind()),
            Err(FqlErrorKind::InvalidAst)
        );
        assert_eq!(
            validate(&ast, Some(&json!({}))).map_err(|e| e.kind()),
            Err(FqlErrorKind::InvalidAst)
        );
        // Dismantle iteratively: the derived drop of such a deep tree would recurse.
        let mut pending = match ast {
            Ast::Group(g) => vec![g],
            Ast::Error(_) => vec![],
        };
        while let Some(mut g) = pending.pop() {
            for child in g.children.drain(..) {
                if let Condition::Group(inner) = child {
                    pending.push(inner);
                }
            }
        }
    }
}
