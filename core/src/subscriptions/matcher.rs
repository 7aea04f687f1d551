//! Evaluation: the reference's `validate(ast, event)`, compiled once into a small tree
//! whose evaluation borrows from the event and allocates nothing.
//!
//! Expected values are converted once (`String(expected)`, `Number(expected)`), paths are
//! split once, and the event is read through [`Actual`], a borrowed view that follows
//! JavaScript's property access closely enough for the reference's `get`:
//! a falsy value on the way is returned as is (`prev && prev[key]`), strings and arrays
//! have `length` and index keys, strings index by UTF-16 code unit, and members inherited
//! from a prototype (`constructor`, `toString`, `map`, ...) exist.

use serde_json::{Map, Value};

use super::ast::{Condition, Field, Group, GroupOperator, Leaf, Literal, Operator};
use super::error::{FqlError, FqlErrorKind};
use super::js::{self, Proto};

/// A value read from the event, as JavaScript would see it.
#[derive(Clone, Copy, Debug)]
enum Actual<'a> {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// One UTF-16 code unit taken out of a string (`"abc"[1]`); may be half a pair.
    Unit(u16),
    Array(&'a [Value]),
    Object(&'a Map<String, Value>),
    /// A member inherited from a prototype (a function, or `Object.prototype` itself for
    /// `__proto__`): it exists, is truthy, and is neither string, number nor boolean.
    /// Reading further into it yields `undefined` (function `name`/`length` are not modelled).
    Builtin,
}

impl<'a> Actual<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => Actual::Null,
            Value::Bool(b) => Actual::Bool(*b),
            Value::Number(n) => Actual::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Actual::Str(s),
            Value::Array(a) => Actual::Array(a),
            Value::Object(o) => Actual::Object(o),
        }
    }

    fn truthy(self) -> bool {
        match self {
            Actual::Undefined | Actual::Null => false,
            Actual::Bool(b) => b,
            Actual::Number(n) => n != 0.0 && !n.is_nan(),
            Actual::Str(s) => !s.is_empty(),
            Actual::Unit(_) | Actual::Array(_) | Actual::Object(_) | Actual::Builtin => true,
        }
    }

    /// `prev && prev[key]`, one step of the reference's `get`.
    fn step(self, key: &str) -> Actual<'a> {
        if !self.truthy() {
            return self;
        }
        let inherited = |proto| {
            if js::inherits(proto, key) {
                Actual::Builtin
            } else {
                Actual::Undefined
            }
        };
        match self {
            Actual::Object(map) => match member(map, key) {
                Some(v) => Actual::of(v),
                None => inherited(Proto::Object),
            },
            Actual::Array(items) => {
                if key == "length" {
                    Actual::Number(items.len() as f64)
                } else if let Some(i) = js::array_index(key) {
                    items.get(i).map_or(Actual::Undefined, Actual::of)
                } else {
                    inherited(Proto::Array)
                }
            }
            Actual::Str(s) => {
                if key == "length" {
                    Actual::Number(js::utf16_len(s) as f64)
                } else if let Some(i) = js::array_index(key) {
                    js::utf16_unit_at(s, i).map_or(Actual::Undefined, Actual::Unit)
                } else {
                    inherited(Proto::String)
                }
            }
            Actual::Unit(u) => match key {
                "length" => Actual::Number(1.0),
                "0" => Actual::Unit(u),
                _ => inherited(Proto::String),
            },
            Actual::Number(_) => inherited(Proto::Number),
            Actual::Bool(_) => inherited(Proto::Boolean),
            Actual::Undefined | Actual::Null | Actual::Builtin => Actual::Undefined,
        }
    }
}

/// Why the reference's `validate` would throw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EvalFailure {
    /// Reading a field of a `null` event.
    NullEvent(&'static str),
    /// A property path with no segment at all (`"."`): `null.reduce` in the reference.
    PathWithoutSegments,
}

impl EvalFailure {
    pub(crate) fn into_error(self) -> FqlError {
        let message = match self {
            EvalFailure::NullEvent(key) => format!(
                "cannot read `{key}` of a null event (the reference throws \"Cannot read \
                 properties of null (reading '{key}')\")"
            ),
            EvalFailure::PathWithoutSegments => "a property path made only of `.`, `[` and `]` \
                 cannot be read (the reference throws \"Cannot read properties of null \
                 (reading 'reduce')\")"
                .to_string(),
        };
        FqlError::new(FqlErrorKind::Evaluate, message)
    }
}

/// A property path, split once the way the reference's `get` splits it
/// (`path.match(/([^[.\]])+/g)`).
#[derive(Clone, Debug)]
pub(crate) enum Path {
    /// `""`: `get` returns `undefined` at once.
    Empty,
    /// Only separators: the reference throws.
    NoSegments,
    Segments(Box<[Box<str>]>),
}

impl Path {
    fn new(name: &str) -> Path {
        if name.is_empty() {
            return Path::Empty;
        }
        let segments: Box<[Box<str>]> = name
            .split(['[', '.', ']'])
            .filter(|s| !s.is_empty())
            .map(Box::from)
            .collect();
        if segments.is_empty() {
            Path::NoSegments
        } else {
            Path::Segments(segments)
        }
    }

    fn get<'a>(&self, root: Actual<'a>) -> Result<Actual<'a>, EvalFailure> {
        match self {
            Path::Empty => Ok(Actual::Undefined),
            Path::NoSegments => Err(EvalFailure::PathWithoutSegments),
            Path::Segments(segments) => Ok(segments.iter().fold(root, |v, k| v.step(k))),
        }
    }
}

/// Where a leaf reads its actual value.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// `data.<key>`.
    Field(&'static str),
    /// `get(data.<key>, path)`.
    Path(&'static str, Path),
}

/// An expected string with its single UTF-16 unit, if it is one unit long.
#[derive(Clone, Debug)]
pub(crate) struct Text {
    text: Box<str>,
    unit: Option<u16>,
}

impl Text {
    fn new(text: String) -> Text {
        let unit = js::single_unit(&text);
        Text {
            text: text.into_boxed_str(),
            unit,
        }
    }

    /// `actual === text` for a string-like actual value.
    fn equals(&self, actual: Actual<'_>) -> bool {
        match actual {
            Actual::Str(s) => s == &*self.text,
            Actual::Unit(u) => self.unit == Some(u),
            _ => false,
        }
    }

    /// For a string-like actual value, `Some(actual.<test>(text))`; `None` otherwise.
    fn string_test(&self, actual: Actual<'_>, test: fn(&str, &str) -> bool) -> Option<bool> {
        match actual {
            Actual::Str(s) => Some(test(s, &self.text)),
            // A one-unit string contains, starts and ends with "" and with itself only.
            Actual::Unit(u) => Some(self.text.is_empty() || self.unit == Some(u)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Equals(Text),
    NotEquals(Text),
    NumberEquals(f64),
    NumberNotEquals(f64),
    LessThan(f64),
    LessThanOrEqual(f64),
    GreaterThan(f64),
    GreaterThanOrEqual(f64),
    Contains(Text),
    NotContains(Text),
    StartsWith(Text),
    NotStartsWith(Text),
    EndsWith(Text),
    NotEndsWith(Text),
    Exists,
    NotExists,
    IsTrue,
    IsFalse,
    /// An operator the reference does not know: `false`.
    Never,
}

impl Op {
    fn new(operator: &Operator, value: Option<&Literal>) -> Op {
        let text =
            || Text::new(value.map_or_else(|| "undefined".to_string(), Literal::to_js_string));
        let number = || value.map_or(f64::NAN, Literal::to_js_number);
        match operator {
            Operator::Equals => Op::Equals(text()),
            Operator::NotEquals => Op::NotEquals(text()),
            Operator::NumberEquals => Op::NumberEquals(number()),
            Operator::NumberNotEquals => Op::NumberNotEquals(number()),
            Operator::LessThan => Op::LessThan(number()),
            Operator::LessThanOrEqual => Op::LessThanOrEqual(number()),
            Operator::GreaterThan => Op::GreaterThan(number()),
            Operator::GreaterThanOrEqual => Op::GreaterThanOrEqual(number()),
            Operator::Contains => Op::Contains(text()),
            Operator::NotContains => Op::NotContains(text()),
            Operator::StartsWith => Op::StartsWith(text()),
            Operator::NotStartsWith => Op::NotStartsWith(text()),
            Operator::EndsWith => Op::EndsWith(text()),
            Operator::NotEndsWith => Op::NotEndsWith(text()),
            Operator::Exists => Op::Exists,
            Operator::NotExists => Op::NotExists,
            Operator::IsTrue => Op::IsTrue,
            Operator::IsFalse => Op::IsFalse,
            Operator::Other(_) => Op::Never,
        }
    }

    /// The reference's `validateValue(actual, operator, expected)`.
    fn holds(&self, actual: Actual<'_>) -> bool {
        let number = |test: &dyn Fn(f64) -> bool| matches!(actual, Actual::Number(n) if test(n));
        match self {
            Op::Equals(t) => t.equals(actual),
            Op::NotEquals(t) => !t.equals(actual),
            Op::NumberEquals(e) => number(&|n| n == *e),
            Op::NumberNotEquals(e) => number(&|n| n != *e),
            Op::LessThan(e) => number(&|n| n < *e),
            Op::LessThanOrEqual(e) => number(&|n| n <= *e),
            Op::GreaterThan(e) => number(&|n| n > *e),
            Op::GreaterThanOrEqual(e) => number(&|n| n >= *e),
            Op::Contains(t) => t.string_test(actual, |s, e| s.contains(e)) == Some(true),
            Op::NotContains(t) => t.string_test(actual, |s, e| s.contains(e)) == Some(false),
            Op::StartsWith(t) => t.string_test(actual, |s, e| s.starts_with(e)) == Some(true),
            Op::NotStartsWith(t) => t.string_test(actual, |s, e| s.starts_with(e)) == Some(false),
            Op::EndsWith(t) => t.string_test(actual, |s, e| s.ends_with(e)) == Some(true),
            Op::NotEndsWith(t) => t.string_test(actual, |s, e| s.ends_with(e)) == Some(false),
            Op::Exists => !matches!(actual, Actual::Undefined | Actual::Null),
            Op::NotExists => matches!(actual, Actual::Undefined | Actual::Null),
            Op::IsTrue => matches!(actual, Actual::Bool(true)),
            Op::IsFalse => matches!(actual, Actual::Bool(false)),
            Op::Never => false,
        }
    }
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    All(Box<[Node]>),
    Any(Box<[Node]>),
    /// A group with an unknown operator, or a leaf of an unknown type: `false` without
    /// reading the event.
    Never,
    Leaf(Source, Op),
}

impl Node {
    /// Compiles a group (depth is bounded by the AST's construction).
    pub(crate) fn group(group: &Group) -> Node {
        let children = || group.children.iter().map(Node::condition).collect();
        match group.operator {
            GroupOperator::And => Node::All(children()),
            GroupOperator::Or => Node::Any(children()),
            GroupOperator::Other(_) => Node::Never,
        }
    }

    fn condition(condition: &Condition) -> Node {
        match condition {
            Condition::Group(g) => Node::group(g),
            Condition::Leaf(leaf) => Node::leaf(leaf),
        }
    }

    fn leaf(leaf: &Leaf) -> Node {
        let source = match &leaf.field {
            Field::EventType => Source::Field("type"),
            Field::Event => Source::Field("event"),
            Field::Name => Source::Field("name"),
            Field::UserId => Source::Field("userId"),
            Field::Property(p) => Source::Path("properties", Path::new(p)),
            Field::Trait(p) => Source::Path("traits", Path::new(p)),
            Field::Context(p) => Source::Path("context", Path::new(p)),
            Field::Unknown { .. } => return Node::Never,
        };
        Node::Leaf(source, Op::new(&leaf.operator, leaf.value.as_ref()))
    }

    /// Evaluates against an event (`data` in the reference).
    pub(crate) fn eval(&self, data: &Value) -> Result<bool, EvalFailure> {
        match self {
            Node::All(children) => {
                for child in children.iter() {
                    if !child.eval(data)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Any(children) => {
                for child in children.iter() {
                    if child.eval(data)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Never => Ok(false),
            Node::Leaf(source, op) => {
                let actual = match source {
                    Source::Field(key) => read(data, key)?,
                    Source::Path(key, path) => path.get(read(data, key)?)?,
                };
                Ok(op.holds(actual))
            }
        }
    }
}

/// Objects up to this many members are searched linearly.
const LINEAR_SCAN_MAX: usize = 24;

/// `map[key]` for an own member. Event objects are small, and comparing a few keys
/// (length first) is cheaper than hashing `key` with the map's SipHash, so small objects
/// are scanned in order; larger ones use the map's index.
#[inline]
fn member<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= LINEAR_SCAN_MAX {
        map.iter()
            .find_map(|(k, v)| (k.as_str() == key).then_some(v))
    } else {
        map.get(key)
    }
}

/// `data.<key>` for the seven keys the reference reads (none of them is inherited).
fn read<'a>(data: &'a Value, key: &'static str) -> Result<Actual<'a>, EvalFailure> {
    match data {
        Value::Null => Err(EvalFailure::NullEvent(key)),
        Value::Object(map) => Ok(member(map, key).map_or(Actual::Undefined, Actual::of)),
        _ => Ok(Actual::Undefined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(root: &Value, path: &str) -> String {
        match Path::new(path).get(Actual::of(root)) {
            Ok(a) => format!("{a:?}"),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn get_follows_javascript_property_access() {
        let root = json!({"a": {"b": [10, {"c": "x"}]}, "zero": 0, "empty": "", "f": false,
                          "n": null, "s": "a😀", "t": true, "num": 5});
        assert_eq!(get(&root, "a.b[1].c"), "Str(\"x\")");
        assert_eq!(get(&root, "a.b.0"), "Number(10.0)");
        assert_eq!(get(&root, "a.b.01"), "Undefined");
        assert_eq!(get(&root, "a.b.length"), "Number(2.0)");
        assert_eq!(get(&root, "a..b[0]"), "Number(10.0)");
        // A falsy value on the way is the result.
        assert_eq!(get(&root, "zero.x.y"), "Number(0.0)");
        assert_eq!(get(&root, "empty.length"), "Str(\"\")");
        assert_eq!(get(&root, "f.x"), "Bool(false)");
        assert_eq!(get(&root, "n.x"), "Null");
        assert_eq!(get(&root, "missing.x"), "Undefined");
        // Strings index by UTF-16 code unit.
        assert_eq!(get(&root, "s.length"), "Number(3.0)");
        assert_eq!(get(&root, "s.0"), "Unit(97)");
        assert_eq!(get(&root, "s.1"), "Unit(55357)");
        assert_eq!(get(&root, "s.3"), "Undefined");
        // Inherited members exist.
        assert_eq!(get(&root, "constructor"), "Builtin");
        assert_eq!(get(&root, "a.b.map"), "Builtin");
        assert_eq!(get(&root, "s.toUpperCase"), "Builtin");
        assert_eq!(get(&root, "num.toFixed"), "Builtin");
        assert_eq!(get(&root, "t.valueOf"), "Builtin");
        assert_eq!(get(&root, "t.x"), "Undefined");
        assert_eq!(get(&root, "constructor.name"), "Undefined");
        assert_eq!(get(&root, ""), "Undefined");
        assert_eq!(get(&root, ".[]"), "PathWithoutSegments");
    }

    fn leaf(field: Field, operator: &str, value: Option<Literal>) -> Node {
        Node::leaf(&Leaf {
            field,
            operator: Operator::from_name(operator),
            value,
        })
    }

    fn check(node: &Node, event: &Value) -> bool {
        node.eval(event).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn large_objects_are_read_through_their_index() {
        let mut big = serde_json::Map::new();
        for i in 0..100 {
            big.insert(format!("k{i}"), json!(i));
        }
        let root = Value::Object(big);
        assert_eq!(get(&root, "k0"), "Number(0.0)");
        assert_eq!(get(&root, "k99"), "Number(99.0)");
        assert_eq!(get(&root, "k100"), "Undefined");
        assert_eq!(get(&root, "toString"), "Builtin");
    }

    #[test]
    fn equality_compares_strings_only() {
        let eq = leaf(
            Field::Property("x".into()),
            "=",
            Some(Literal::Number(42.0)),
        );
        assert!(check(&eq, &json!({"properties": {"x": "42"}})));
        assert!(!check(&eq, &json!({"properties": {"x": 42}})));
        let ne = leaf(
            Field::Property("x".into()),
            "!=",
            Some(Literal::String("a".into())),
        );
        assert!(check(&ne, &json!({"properties": {}})));
        assert!(check(&ne, &json!({"properties": {"x": ["a"]}})));
        assert!(!check(&ne, &json!({"properties": {"x": "a"}})));
        let unit = leaf(
            Field::Property("s.1".into()),
            "=",
            Some(Literal::String("b".into())),
        );
        assert!(check(&unit, &json!({"properties": {"s": "abc"}})));
    }

    #[test]
    fn numeric_operators_need_a_number() {
        let gt = leaf(
            Field::Property("x".into()),
            ">",
            Some(Literal::String("10".into())),
        );
        assert!(check(&gt, &json!({"properties": {"x": 11}})));
        assert!(!check(&gt, &json!({"properties": {"x": "11"}})));
        let ne = leaf(
            Field::Property("x".into()),
            "number_not_equals",
            Some(Literal::Number(5.0)),
        );
        assert!(!check(&ne, &json!({"properties": {}})));
        assert!(check(&ne, &json!({"properties": {"x": 6}})));
        let len = leaf(
            Field::Property("s.length".into()),
            "number_equals",
            Some(Literal::Number(3.0)),
        );
        assert!(check(&len, &json!({"properties": {"s": "abc"}})));
        let nan = leaf(
            Field::Property("x".into()),
            "number_not_equals",
            Some(Literal::Number(f64::NAN)),
        );
        assert!(check(&nan, &json!({"properties": {"x": 1}})));
    }

    #[test]
    fn string_functions_need_a_string() {
        let nc = leaf(
            Field::Event,
            "not_contains",
            Some(Literal::String("x".into())),
        );
        assert!(check(&nc, &json!({"event": "abc"})));
        assert!(!check(&nc, &json!({})));
        assert!(!check(&nc, &json!({"event": 5})));
        let sw = leaf(
            Field::Event,
            "starts_with",
            Some(Literal::String(String::new())),
        );
        assert!(check(&sw, &json!({"event": ""})));
        let c = leaf(
            Field::Property("s.0".into()),
            "contains",
            Some(Literal::String("a".into())),
        );
        assert!(check(&c, &json!({"properties": {"s": "abc"}})));
    }

    #[test]
    fn booleans_and_existence() {
        let t = leaf(Field::Trait("vip".into()), "is_true", None);
        assert!(check(&t, &json!({"traits": {"vip": true}})));
        assert!(!check(&t, &json!({"traits": {"vip": "true"}})));
        let ex = leaf(Field::Context("a".into()), "exists", None);
        assert!(check(&ex, &json!({"context": {"a": false}})));
        assert!(!check(&ex, &json!({"context": {"a": null}})));
        let nx = leaf(Field::UserId, "not_exists", None);
        assert!(check(&nx, &json!({"userId": null})));
        assert!(check(&nx, &json!(5)));
    }

    #[test]
    fn groups_short_circuit_like_every_and_some() {
        let throws = leaf(Field::Property(".".into()), "exists", None);
        let yes = leaf(Field::Event, "not_exists", None);
        let any = Node::Any(vec![yes.clone(), throws.clone()].into_boxed_slice());
        assert_eq!(any.eval(&json!({})), Ok(true));
        let all = Node::All(vec![yes, throws].into_boxed_slice());
        assert_eq!(all.eval(&json!({})), Err(EvalFailure::PathWithoutSegments));
        assert_eq!(Node::All(Box::new([])).eval(&json!(null)), Ok(true));
        assert_eq!(Node::Any(Box::new([])).eval(&json!({})), Ok(false));
        let null_event = leaf(Field::EventType, "not_exists", None);
        assert_eq!(
            null_event.eval(&json!(null)),
            Err(EvalFailure::NullEvent("type"))
        );
        let unknown = leaf(
            Field::Unknown {
                kind: "event-thing".into(),
                name: None,
            },
            "exists",
            None,
        );
        assert_eq!(unknown.eval(&json!(null)), Ok(false));
    }
}
