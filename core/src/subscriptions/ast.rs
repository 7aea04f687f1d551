//! The typed AST, mirroring the reference's JSON shape (`types.ts` of
//! `@segment/destination-subscriptions`), and its conversion to and from that shape.

use serde_json::{Map, Value};

use super::error::{FqlError, FqlErrorKind};
use super::js;

/// Deepest group nesting accepted from JSON (the parser itself never nests deeper
/// than one group inside the root).
pub const MAX_AST_DEPTH: usize = 64;

/// A subscription AST: what the reference's `parseFql` returns.
///
/// A parsed [`Subscription`](super::Subscription) always holds [`Ast::Group`];
/// [`Ast::Error`] stands for the reference's `{error}` result and exists so that ASTs in
/// the reference's JSON shape can be represented (see [`Ast::from_reference_json`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Ast {
    /// The root group (a single condition is wrapped in an `and` group).
    Group(Group),
    /// A parse result carrying an error.
    Error(AstError),
}

/// The error carried by an [`Ast::Error`]: a JavaScript error class and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AstError {
    /// JavaScript error class, e.g. `Error` or `TypeError`.
    pub class: String,
    /// The error message.
    pub message: String,
}

/// A group of conditions joined by one operator (`{type: 'group', operator, children}`).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// How the children combine.
    pub operator: GroupOperator,
    /// The conditions of the group, in source order.
    pub children: Vec<Condition>,
}

/// How the children of a [`Group`] combine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOperator {
    /// Every child must hold (`every`); an empty `and` group holds.
    And,
    /// Some child must hold (`some`); an empty `or` group does not.
    Or,
    /// Any other operator text (only from JSON input); such a group never holds.
    Other(String),
}

impl GroupOperator {
    /// The operator's text in the reference's AST (`and`, `or`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            GroupOperator::And => "and",
            GroupOperator::Or => "or",
            GroupOperator::Other(s) => s,
        }
    }

    /// The operator for a given text.
    pub fn from_name(name: &str) -> Self {
        match name {
            "and" => GroupOperator::And,
            "or" => GroupOperator::Or,
            other => GroupOperator::Other(other.to_string()),
        }
    }
}

/// A child of a [`Group`]: a nested group or a leaf condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// A nested group.
    Group(Group),
    /// A comparison on one field of the event.
    Leaf(Leaf),
}

/// A leaf condition: `{type, name?, operator, value?}` in the reference's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    /// The field of the event the condition reads.
    pub field: Field,
    /// The comparison.
    pub operator: Operator,
    /// The expected value; `None` where the reference has none (`exists`, `is_true`, ...).
    pub value: Option<Literal>,
}

/// The field a [`Leaf`] reads (the leaf's `type`, plus `name` for paths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// `type` (`event-type`): the event's `type`.
    EventType,
    /// `event`: the event's `event`.
    Event,
    /// `name`: the event's `name`.
    Name,
    /// `userId`: the event's `userId`.
    UserId,
    /// `properties.<path>` (`event-property`): a path into the event's `properties`.
    Property(String),
    /// `traits.<path>` (`event-trait`): a path into the event's `traits`.
    Trait(String),
    /// `context.<path>` (`event-context`): a path into the event's `context`.
    Context(String),
    /// A leaf type the reference does not know (only from JSON input): it never matches
    /// and cannot be printed.
    Unknown {
        /// The leaf's `type` text.
        kind: String,
        /// The leaf's `name`, if it had one.
        name: Option<String>,
    },
}

impl Field {
    /// The leaf `type` of this field in the reference's AST (`event-type`, `event-property`, ...).
    pub fn type_name(&self) -> &str {
        match self {
            Field::EventType => "event-type",
            Field::Event => "event",
            Field::Name => "name",
            Field::UserId => "userId",
            Field::Property(_) => "event-property",
            Field::Trait(_) => "event-trait",
            Field::Context(_) => "event-context",
            Field::Unknown { kind, .. } => kind,
        }
    }

    /// The path of a `properties`/`traits`/`context` field.
    pub fn path(&self) -> Option<&str> {
        match self {
            Field::Property(p) | Field::Trait(p) | Field::Context(p) => Some(p),
            Field::Unknown { name, .. } => name.as_deref(),
            _ => None,
        }
    }
}

/// The comparison of a [`Leaf`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `=`: the actual value is a string equal to `String(expected)`.
    Equals,
    /// `!=`: the actual value is not a string equal to `String(expected)` (true when missing).
    NotEquals,
    /// `<` on numbers.
    LessThan,
    /// `<=` on numbers.
    LessThanOrEqual,
    /// `>` on numbers.
    GreaterThan,
    /// `>=` on numbers.
    GreaterThanOrEqual,
    /// `number_equals`: the actual value is a number equal to `Number(expected)`.
    NumberEquals,
    /// `number_not_equals`: the actual value is a number different from `Number(expected)`.
    NumberNotEquals,
    /// `contains`: the actual value is a string containing the expected text.
    Contains,
    /// `not_contains`: the actual value is a string not containing the expected text.
    NotContains,
    /// `starts_with`.
    StartsWith,
    /// `not_starts_with` (false when the value is not a string).
    NotStartsWith,
    /// `ends_with`.
    EndsWith,
    /// `not_ends_with` (false when the value is not a string).
    NotEndsWith,
    /// `exists`: neither missing nor `null`.
    Exists,
    /// `not_exists`: missing or `null`.
    NotExists,
    /// `is_true`: the boolean `true`.
    IsTrue,
    /// `is_false`: the boolean `false`.
    IsFalse,
    /// Any other text (the parser keeps whatever token stood in the operator's place,
    /// e.g. `type "track"` has operator `"track"`); never holds.
    Other(String),
}

impl Operator {
    /// The operator's text in the reference's AST.
    pub fn as_str(&self) -> &str {
        match self {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
            Operator::LessThan => "<",
            Operator::LessThanOrEqual => "<=",
            Operator::GreaterThan => ">",
            Operator::GreaterThanOrEqual => ">=",
            Operator::NumberEquals => "number_equals",
            Operator::NumberNotEquals => "number_not_equals",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::StartsWith => "starts_with",
            Operator::NotStartsWith => "not_starts_with",
            Operator::EndsWith => "ends_with",
            Operator::NotEndsWith => "not_ends_with",
            Operator::Exists => "exists",
            Operator::NotExists => "not_exists",
            Operator::IsTrue => "is_true",
            Operator::IsFalse => "is_false",
            Operator::Other(s) => s,
        }
    }

    /// The operator for a given text (unknown texts become [`Operator::Other`]).
    pub fn from_name(name: &str) -> Self {
        match name {
            "=" => Operator::Equals,
            "!=" => Operator::NotEquals,
            "<" => Operator::LessThan,
            "<=" => Operator::LessThanOrEqual,
            ">" => Operator::GreaterThan,
            ">=" => Operator::GreaterThanOrEqual,
            "number_equals" => Operator::NumberEquals,
            "number_not_equals" => Operator::NumberNotEquals,
            "contains" => Operator::Contains,
            "not_contains" => Operator::NotContains,
            "starts_with" => Operator::StartsWith,
            "not_starts_with" => Operator::NotStartsWith,
            "ends_with" => Operator::EndsWith,
            "not_ends_with" => Operator::NotEndsWith,
            "exists" => Operator::Exists,
            "not_exists" => Operator::NotExists,
            "is_true" => Operator::IsTrue,
            "is_false" => Operator::IsFalse,
            other => Operator::Other(other.to_string()),
        }
    }
}

/// An expected value: JavaScript's string, number, boolean or `null`.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A string.
    String(String),
    /// A number (an IEEE double, as in JavaScript; may be `NaN`, e.g. `properties.total = -`).
    /// Equality of ASTs follows `f64`, so an AST holding `NaN` is not equal to itself;
    /// compare [`Ast::to_reference_json`] outputs instead.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// `null` (only from JSON input).
    Null,
}

impl Literal {
    /// JavaScript's `String(value)`.
    pub fn to_js_string(&self) -> String {
        match self {
            Literal::String(s) => s.clone(),
            Literal::Number(n) => js::number_to_string(*n),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".to_string(),
        }
    }

    /// JavaScript's `Number(value)`.
    pub fn to_js_number(&self) -> f64 {
        match self {
            Literal::String(s) => js::string_to_number(s),
            Literal::Number(n) => *n,
            Literal::Bool(b) => f64::from(u8::from(*b)),
            Literal::Null => 0.0,
        }
    }

    fn to_reference_json(&self) -> Value {
        match self {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => number_to_json(*n),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => Value::Null,
        }
    }

    fn from_reference_json(value: &Value) -> Result<Literal, FqlError> {
        match value {
            Value::String(s) => Ok(Literal::String(s.clone())),
            Value::Number(n) => Ok(Literal::Number(n.as_f64().unwrap_or(f64::NAN))),
            Value::Bool(b) => Ok(Literal::Bool(*b)),
            Value::Null => Ok(Literal::Null),
            Value::Object(o) if o.len() == 1 => match o.get("$number").and_then(Value::as_str) {
                Some("NaN") => Ok(Literal::Number(f64::NAN)),
                Some("Infinity") => Ok(Literal::Number(f64::INFINITY)),
                Some("-Infinity") => Ok(Literal::Number(f64::NEG_INFINITY)),
                _ => Err(invalid("a value must be a string, number, boolean or null")),
            },
            _ => Err(invalid("a value must be a string, number, boolean or null")),
        }
    }
}

/// `JSON` for a JavaScript number: integers without a fraction, non-finite numbers as
/// `{"$number": "NaN" | "Infinity" | "-Infinity"}` (the conformance files' convention).
fn number_to_json(n: f64) -> Value {
    if n.is_nan() {
        return serde_json::json!({"$number": "NaN"});
    }
    if n.is_infinite() {
        let text = if n > 0.0 { "Infinity" } else { "-Infinity" };
        return serde_json::json!({ "$number": text });
    }
    const SAFE: f64 = 9_007_199_254_740_991.0;
    if n.fract() == 0.0 && n.abs() <= SAFE {
        return Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

fn invalid(message: &str) -> FqlError {
    FqlError::new(
        FqlErrorKind::InvalidAst,
        format!("not a subscription AST: {message}"),
    )
}

impl Ast {
    /// The AST in the reference's JSON shape (`parseFql`'s result as JSON).
    ///
    /// ```
    /// use actions_core::subscriptions::Subscription;
    /// use serde_json::json;
    ///
    /// let sub = Subscription::parse("properties.total > 10")?;
    /// assert_eq!(
    ///     sub.ast().to_reference_json(),
    ///     json!({"type": "group", "operator": "and", "children": [
    ///         {"type": "event-property", "name": "total", "operator": ">", "value": 10}
    ///     ]})
    /// );
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn to_reference_json(&self) -> Value {
        match self {
            Ast::Group(g) => g.to_reference_json(),
            Ast::Error(e) => serde_json::json!({
                "error": {"class": e.class, "message": e.message}
            }),
        }
    }

    /// Reads an AST in the reference's JSON shape: a group, or `{"error": {"class",
    /// "message"}}` for a parse result carrying an error.
    ///
    /// Accepted beyond what the parser produces (the reference accepts them too): unknown
    /// leaf types and operators, any group operator text, `null` values, numbers as
    /// `{"$number": "NaN"}`. Rejected: a root that is not a group or error, children that
    /// are not objects (the reference would throw when reading them), a
    /// `properties`/`traits`/`context` leaf without a string `name`, values that are
    /// arrays or objects, and nesting deeper than [`MAX_AST_DEPTH`].
    ///
    /// ```
    /// use actions_core::subscriptions::{Ast, validate};
    /// use serde_json::json;
    ///
    /// let ast = Ast::from_reference_json(&json!({"type": "group", "operator": "or",
    ///     "children": [{"type": "event", "operator": "=", "value": "Signed Up"}]}))?;
    /// assert!(validate(&ast, Some(&json!({"event": "Signed Up"})))?);
    /// # Ok::<(), actions_core::subscriptions::FqlError>(())
    /// ```
    pub fn from_reference_json(value: &Value) -> Result<Ast, FqlError> {
        let Value::Object(obj) = value else {
            return Err(invalid("the root must be an object"));
        };
        if let Some(error) = obj.get("error") {
            let class = error
                .get("class")
                .and_then(Value::as_str)
                .unwrap_or("Error")
                .to_string();
            let message = match error {
                Value::String(s) => s.clone(),
                _ => error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            };
            return Ok(Ast::Error(AstError { class, message }));
        }
        if obj.get("type").and_then(Value::as_str) != Some("group") {
            return Err(invalid("the root must be a group"));
        }
        Ok(Ast::Group(Group::from_reference_json(obj, 0)?))
    }
}

impl Group {
    /// The group in the reference's JSON shape.
    pub fn to_reference_json(&self) -> Value {
        serde_json::json!({
            "type": "group",
            "operator": self.operator.as_str(),
            "children": self.children.iter().map(Condition::to_reference_json).collect::<Vec<_>>(),
        })
    }

    fn from_reference_json(obj: &Map<String, Value>, depth: usize) -> Result<Group, FqlError> {
        if depth >= MAX_AST_DEPTH {
            return Err(invalid("groups are nested too deeply"));
        }
        let operator = obj
            .get("operator")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("a group needs a string `operator`"))?;
        let children = obj
            .get("children")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a group needs an array `children`"))?;
        let children = children
            .iter()
            .map(|child| Condition::from_reference_json(child, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Group {
            operator: GroupOperator::from_name(operator),
            children,
        })
    }

    /// Fails when groups nest deeper than [`MAX_AST_DEPTH`] below this one. Iterative, so
    /// it is safe on any AST; evaluation and printing recurse and rely on it.
    pub(crate) fn check_depth(&self) -> Result<(), FqlError> {
        let mut stack: Vec<(&Group, usize)> = vec![(self, 0)];
        while let Some((group, depth)) = stack.pop() {
            if depth >= MAX_AST_DEPTH {
                return Err(invalid("groups are nested too deeply"));
            }
            for child in &group.children {
                if let Condition::Group(g) = child {
                    stack.push((g, depth + 1));
                }
            }
        }
        Ok(())
    }
}

impl Condition {
    /// The condition in the reference's JSON shape.
    pub fn to_reference_json(&self) -> Value {
        match self {
            Condition::Group(g) => g.to_reference_json(),
            Condition::Leaf(l) => l.to_reference_json(),
        }
    }

    fn from_reference_json(value: &Value, depth: usize) -> Result<Condition, FqlError> {
        let Value::Object(obj) = value else {
            return Err(invalid("every child must be an object"));
        };
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("a condition needs a string `type`"))?;
        if kind == "group" {
            return Ok(Condition::Group(Group::from_reference_json(obj, depth)?));
        }
        let name = obj.get("name").and_then(Value::as_str).map(str::to_string);
        let path = || {
            name.clone().ok_or_else(|| {
                invalid("`event-property`, `event-trait` and `event-context` need a string `name`")
            })
        };
        let field = match kind {
            "event-type" => Field::EventType,
            "event" => Field::Event,
            "name" => Field::Name,
            "userId" => Field::UserId,
            "event-property" => Field::Property(path()?),
            "event-trait" => Field::Trait(path()?),
            "event-context" => Field::Context(path()?),
            other => Field::Unknown {
                kind: other.to_string(),
                name: name.clone(),
            },
        };
        let operator = obj
            .get("operator")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("a condition needs a string `operator`"))?;
        let value = obj
            .get("value")
            .map(Literal::from_reference_json)
            .transpose()?;
        Ok(Condition::Leaf(Leaf {
            field,
            operator: Operator::from_name(operator),
            value,
        }))
    }
}

impl Leaf {
    /// The leaf in the reference's JSON shape.
    pub fn to_reference_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert(
            "type".to_string(),
            Value::String(self.field.type_name().to_string()),
        );
        if let Some(name) = self.field.path() {
            obj.insert("name".to_string(), Value::String(name.to_string()));
        }
        obj.insert(
            "operator".to_string(),
            Value::String(self.operator.as_str().to_string()),
        );
        if let Some(value) = &self.value {
            obj.insert("value".to_string(), value.to_reference_json());
        }
        Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_json_round_trips() {
        let input = json!({"type": "group", "operator": "or", "children": [
            {"type": "event-type", "operator": "=", "value": "track"},
            {"type": "group", "operator": "and", "children": [
                {"type": "event-property", "name": "a.b", "operator": "number_equals", "value": 4.5},
                {"type": "event-trait", "name": "t", "operator": "exists"},
                {"type": "event-context", "name": "c", "operator": "regex", "value": null},
                {"type": "userId", "operator": "is_true"},
                {"type": "event-thing", "operator": "exists"},
                {"type": "name", "operator": "!=", "value": true},
                {"type": "event", "operator": "<", "value": {"$number": "NaN"}}
            ]}
        ]});
        let ast = Ast::from_reference_json(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ast.to_reference_json(), input);
        let error = json!({"error": {"class": "TypeError", "message": "bad"}});
        let ast = Ast::from_reference_json(&error).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ast,
            Ast::Error(AstError {
                class: "TypeError".into(),
                message: "bad".into()
            })
        );
        assert_eq!(ast.to_reference_json(), error);
    }

    #[test]
    fn numbers_are_written_like_javascript_json() {
        assert_eq!(number_to_json(42.0), json!(42));
        assert_eq!(number_to_json(-0.0), json!(0));
        assert_eq!(number_to_json(9.99), json!(9.99));
        assert_eq!(number_to_json(f64::NAN), json!({"$number": "NaN"}));
        assert_eq!(
            number_to_json(f64::NEG_INFINITY),
            json!({"$number": "-Infinity"})
        );
        assert_eq!(number_to_json(1e300), json!(1e300));
    }

    #[test]
    fn rejects_values_outside_the_reference_shape() {
        let bad = [
            json!([]),
            json!({"type": "event", "operator": "=", "value": "x"}),
            json!({"type": "group", "children": []}),
            json!({"type": "group", "operator": "and"}),
            json!({"type": "group", "operator": "and", "children": [null]}),
            json!({"type": "group", "operator": "and", "children": [{"type": "event-property", "operator": "exists"}]}),
            json!({"type": "group", "operator": "and", "children": [{"type": "event", "operator": "=", "value": [1]}]}),
            json!({"type": "group", "operator": "and", "children": [{"type": "event", "value": "x"}]}),
        ];
        for value in bad {
            let err = Ast::from_reference_json(&value).expect_err("must be rejected");
            assert_eq!(err.kind(), FqlErrorKind::InvalidAst, "{value}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut value = json!({"type": "event", "operator": "exists"});
        for _ in 0..200 {
            value = json!({"type": "group", "operator": "and", "children": [value]});
        }
        let err = Ast::from_reference_json(&value).expect_err("too deep");
        assert!(err.message().contains("nested too deeply"));
    }

    #[test]
    fn literal_conversions_follow_javascript() {
        assert_eq!(Literal::Number(1.5).to_js_string(), "1.5");
        assert_eq!(Literal::Null.to_js_string(), "null");
        assert_eq!(Literal::Bool(true).to_js_number(), 1.0);
        assert_eq!(Literal::Null.to_js_number(), 0.0);
        assert_eq!(Literal::String(" 12 ".into()).to_js_number(), 12.0);
        assert!(Literal::String("abc".into()).to_js_number().is_nan());
    }
}
