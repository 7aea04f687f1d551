//! Walking a payload along the plan as AJV does: coercion, removal of undeclared keys and the
//! composite keywords, in place.

use std::borrow::Cow;

use serde_json::Value;

use crate::fields::formats::{self};
use crate::fields::human;
use crate::fields::js::{as_f64, json_number_to_string, number_value, string_to_number};

use super::*;

/// Where the walk is: a linked list on the stack (no allocation unless an error is recorded).
pub(super) struct Loc<'a> {
    pub(super) parent: Option<&'a Loc<'a>>,
    pub(super) seg: Seg<'a>,
    pub(super) rank: Option<[u32; 2]>,
}

pub(super) enum Seg<'a> {
    None,
    Key(Cow<'a, str>),
    Index(usize),
}

impl<'a> Loc<'a> {
    pub(super) fn root() -> Loc<'static> {
        Loc {
            parent: None,
            seg: Seg::None,
            rank: None,
        }
    }

    pub(super) fn child(&'a self, seg: Seg<'a>, rank: u32, index: usize) -> Loc<'a> {
        Loc {
            parent: Some(self),
            seg,
            rank: Some([rank, u32::try_from(index).unwrap_or(u32::MAX)]),
        }
    }

    pub(super) fn pointer(&self) -> String {
        let mut segs: Vec<&Seg<'_>> = Vec::new();
        let mut cur = Some(self);
        while let Some(loc) = cur {
            if !matches!(loc.seg, Seg::None) {
                segs.push(&loc.seg);
            }
            cur = loc.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            out.push('/');
            match seg {
                Seg::Key(k) => out.push_str(&escape_pointer(k)),
                Seg::Index(i) => out.push_str(&i.to_string()),
                Seg::None => {}
            }
        }
        out
    }

    pub(super) fn key(&self) -> Vec<u32> {
        let mut ranks = Vec::new();
        let mut cur = Some(self);
        while let Some(loc) = cur {
            if let Some([a, b]) = loc.rank {
                ranks.push(b);
                ranks.push(a);
            }
            cur = loc.parent;
        }
        ranks.reverse();
        ranks
    }
}

pub(super) struct Pending {
    pub(super) key: Vec<u32>,
    pub(super) pointer: String,
    pub(super) message: String,
}

/// A node whose failed coercion unwrapped a one-element array: AJV checks the node's other
/// keywords against the element (and reports them at the node's path).
pub(super) struct Override<'p> {
    pub(super) pointer: String,
    pub(super) key: Vec<u32>,
    pub(super) node: &'p Node,
}

pub(super) struct State<'p> {
    pub(super) errors: Vec<Pending>,
    pub(super) type_pointers: Vec<String>,
    pub(super) overrides: Vec<Override<'p>>,
}

impl State<'_> {
    /// Records an error at `at`; returns its pointer.
    pub(super) fn push(
        &mut self,
        at: &Loc<'_>,
        rank: u32,
        sub: u32,
        parent: &Value,
        body: &str,
    ) -> String {
        let pointer = at.pointer();
        let mut key = at.key();
        key.push(rank);
        key.push(sub);
        let message = human::sentence(parent, &pointer, body);
        self.errors.push(Pending {
            key,
            pointer: pointer.clone(),
            message,
        });
        pointer
    }
}

/// Validates `data` against a unit; records errors when `want` (otherwise stops at the first
/// one, as AJV does inside `if` and `not`). Returns whether it is valid.
pub(super) fn evaluate<'p>(
    unit: &'p Unit,
    data: &mut Value,
    at: &Loc<'_>,
    st: &mut State<'p>,
    want: bool,
) -> bool {
    let (e0, t0, o0) = (st.errors.len(), st.type_pointers.len(), st.overrides.len());
    let pass_ok = visit(&unit.node, data, at, st, want);
    if !want {
        return pass_ok && unit.check.is_valid(data);
    }
    if !unit.check.is_valid(data) || st.overrides.len() > o0 {
        collect_check_errors(unit, data, at, st, t0, o0);
    }
    st.type_pointers.truncate(t0);
    st.overrides.truncate(o0);
    st.errors.len() == e0
}

/// AJV's checks for one schema object, in its order; returns whether no error was found.
pub(super) fn visit<'p>(
    node: &'p Node,
    data: &mut Value,
    at: &Loc<'_>,
    st: &mut State<'p>,
    want: bool,
) -> bool {
    let mut ok = true;
    let mut unwrapped = false;
    if node.early_type_check && !node.types.iter().any(|t| t.matches(data)) {
        match coerce(&node.types, &node.coerce_to, data) {
            Ok(value) => *data = value,
            Err(unwrapped_element) => {
                if !want {
                    return false;
                }
                ok = false;
                let shown = if unwrapped_element {
                    data.get(0)
                } else {
                    Some(&*data)
                };
                let body = human::type_body(&human::type_names(node.meta.get("type")), shown);
                let pointer = st.push(at, rank::TYPE_EARLY, 0, &node.meta, &body);
                st.type_pointers.push(pointer);
                if unwrapped_element {
                    st.overrides.push(Override {
                        pointer: at.pointer(),
                        key: at.key(),
                        node,
                    });
                    unwrapped = true;
                }
            }
        }
    }
    // After a failed unwrap AJV goes on with the element (its local `data` variable).
    let data: &mut Value = if unwrapped {
        match data.get_mut(0) {
            Some(element) => element,
            None => return ok,
        }
    } else {
        data
    };

    for composite in &node.composites {
        if !eval_composite(node, composite, data, at, st, want) {
            if !want {
                return false;
            }
            ok = false;
        }
    }

    if let (Some((name, check)), Value::Number(n)) = (&node.number_format, &*data)
        && !check(as_f64(n))
    {
        if !want {
            return false;
        }
        ok = false;
        let body = format!(
            "must be a valid {} string but it was not",
            formats::label(name)
        );
        st.push(at, rank::FORMAT_NUMBER, 0, &node.meta, &body);
    }

    if let Value::Array(items) = &mut *data {
        let visit_item =
            |i: usize, item: &mut Value, child: &'p Node, st: &mut State<'p>, rank: u32| {
                let loc = at.child(Seg::Index(i), rank, i);
                visit(child, item, &loc, st, want)
            };
        match &node.items {
            Items::None => {}
            Items::Single(child) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if !visit_item(i, item, child, st, rank::ITEMS) {
                        if !want {
                            return false;
                        }
                        ok = false;
                    }
                }
            }
            Items::Tuple(children, rest) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let (child, rank) = match (children.get(i), rest) {
                        (Some(c), _) => (c, rank::ITEMS),
                        (None, Some(r)) => (&**r, rank::ADDITIONAL_ITEMS),
                        (None, None) => break,
                    };
                    if !visit_item(i, item, child, st, rank) {
                        if !want {
                            return false;
                        }
                        ok = false;
                    }
                }
            }
        }
    }

    if let Value::Object(obj) = &mut *data {
        // One pass over the keys: declared ones are visited (AJV's `properties`), matching ones
        // too (`patternProperties`), the others removed (`additionalProperties: false`) or
        // visited (`additionalProperties: {...}`). Errors are ordered afterwards, so visiting in
        // the payload's key order instead of AJV's keyword order changes nothing observable.
        let mut failed = false;
        let mut hint = 0;
        obj.retain(|k, v| {
            let mut keep = false;
            if let Some((i, child)) = node.properties.find_from(k, hint) {
                hint = i + 1;
                keep = true;
                if want || !failed {
                    let loc = at.child(Seg::Key(Cow::Borrowed(k.as_str())), rank::PROPERTIES, i);
                    failed |= !visit(child, v, &loc, st, want);
                }
            }
            for (i, (re, child)) in node.patterns.iter().enumerate() {
                if re.is_match(k) {
                    keep = true;
                    if want || !failed {
                        let loc = at.child(
                            Seg::Key(Cow::Borrowed(k.as_str())),
                            rank::PATTERN_PROPERTIES,
                            i,
                        );
                        failed |= !visit(child, v, &loc, st, want);
                    }
                }
            }
            if keep {
                return true;
            }
            match &node.additional {
                Additional::Keep => true,
                Additional::Remove => false,
                Additional::Schema(child) => {
                    if want || !failed {
                        let loc = at.child(
                            Seg::Key(Cow::Borrowed(k.as_str())),
                            rank::ADDITIONAL_PROPERTIES,
                            0,
                        );
                        failed |= !visit(child, v, &loc, st, want);
                    }
                    true
                }
            }
        });
        if failed {
            if !want {
                return false;
            }
            ok = false;
        }
    } else if !node.early_type_check
        && !node.types.is_empty()
        && !node.types.iter().any(|t| t.matches(data))
    {
        // A lone `object` type is checked with the object keywords (AJV's type-group branch).
        if !want {
            return false;
        }
        ok = false;
        let body = human::type_body(&human::type_names(node.meta.get("type")), Some(data));
        let pointer = st.push(at, rank::TYPE_LATE, 0, &node.meta, &body);
        st.type_pointers.push(pointer);
    }
    ok
}

pub(super) fn eval_composite<'p>(
    node: &'p Node,
    composite: &'p Composite,
    data: &mut Value,
    at: &Loc<'_>,
    st: &mut State<'p>,
    want: bool,
) -> bool {
    match composite {
        Composite::AllOf(units) => {
            let mut ok = true;
            for (i, unit) in units.iter().enumerate() {
                let loc = at.child(Seg::None, rank::ALL_OF, i);
                if !evaluate(unit, data, &loc, st, want) {
                    if !want {
                        return false;
                    }
                    ok = false;
                }
            }
            ok
        }
        Composite::AnyOf(units) => {
            let e0 = st.errors.len();
            for (i, unit) in units.iter().enumerate() {
                let loc = at.child(Seg::None, rank::ANY_OF, i);
                if evaluate(unit, data, &loc, st, want) {
                    st.errors.truncate(e0);
                    return true;
                }
            }
            if want {
                st.push(
                    at,
                    rank::ANY_OF,
                    u32::MAX,
                    &node.meta,
                    "must match a schema in anyOf",
                );
            }
            false
        }
        Composite::OneOf(units) => {
            let e0 = st.errors.len();
            let mut passing = 0;
            for (i, unit) in units.iter().enumerate() {
                let loc = at.child(Seg::None, rank::ONE_OF, i);
                if evaluate(unit, data, &loc, st, want) {
                    passing += 1;
                }
            }
            if passing == 1 {
                st.errors.truncate(e0);
                return true;
            }
            if passing > 1 {
                st.errors.truncate(e0);
            }
            if want {
                st.push(
                    at,
                    rank::ONE_OF,
                    u32::MAX,
                    &node.meta,
                    "must match exactly one schema in oneOf",
                );
            }
            false
        }
        Composite::Not(unit) => {
            let loc = at.child(Seg::None, rank::NOT, 0);
            if !evaluate(unit, data, &loc, st, false) {
                return true;
            }
            if want {
                st.push(at, rank::NOT, 1, &node.meta, "must NOT be valid");
            }
            false
        }
        Composite::If {
            cond,
            then,
            otherwise,
        } => {
            let loc = at.child(Seg::None, rank::IF, 0);
            let holds = evaluate(cond, data, &loc, st, false);
            let (clause, name) = if holds {
                (then, "then")
            } else {
                (otherwise, "else")
            };
            let Some(clause) = clause else {
                return true;
            };
            let loc = at.child(Seg::None, rank::IF, 1);
            if evaluate(clause, data, &loc, st, want) {
                return true;
            }
            if want {
                let body = format!("must match \"{name}\" schema");
                st.push(at, rank::IF, 2, &node.meta, &body);
            }
            false
        }
    }
}

/// AJV's `coerceData` with `coerceTypes: 'array'`. `Ok` holds the coerced value; `Err(true)` when
/// the value was a one-element array whose element AJV went on with.
pub(super) fn coerce(types: &[JType], coerce_to: &[JType], data: &Value) -> Result<Value, bool> {
    if coerce_to.is_empty() {
        // Nothing to coerce to: AJV reports the type error straight away.
        return Err(false);
    }
    let mut local = data;
    let mut unwrapped = false;
    if let Value::Array(items) = data
        && let [element] = items.as_slice()
    {
        local = element;
        unwrapped = true;
        if all_types_match(types, element) {
            return Ok(element.clone());
        }
    }
    for t in coerce_to {
        let coerced = match (t, local) {
            (JType::String, Value::Number(n)) => Some(Value::String(json_number_to_string(n))),
            (JType::String, Value::Bool(b)) => Some(Value::String(b.to_string())),
            (JType::String, Value::Null) => Some(Value::String(String::new())),
            (JType::Number | JType::Integer, Value::Bool(b)) => Some(Value::from(u8::from(*b))),
            (JType::Number | JType::Integer, Value::Null) => Some(Value::from(0)),
            (JType::Number | JType::Integer, Value::String(s)) if !s.is_empty() => {
                let n = string_to_number(s);
                // `data == +data` (and `!(data % 1)` for integers; `Infinity % 1` is NaN).
                let integral = n.fract() == 0.0 || n.is_infinite();
                (!n.is_nan() && (*t == JType::Number || integral)).then(|| number_value(n))
            }
            (JType::Boolean, Value::String(s)) if s == "false" => Some(Value::Bool(false)),
            (JType::Boolean, Value::String(s)) if s == "true" => Some(Value::Bool(true)),
            (JType::Boolean, Value::Number(n)) if as_f64(n) == 0.0 => Some(Value::Bool(false)),
            (JType::Boolean, Value::Number(n)) if as_f64(n) == 1.0 => Some(Value::Bool(true)),
            (JType::Boolean, Value::Null) => Some(Value::Bool(false)),
            (JType::Null, Value::String(s)) if s.is_empty() => Some(Value::Null),
            (JType::Null, Value::Number(n)) if as_f64(n) == 0.0 => Some(Value::Null),
            (JType::Null, Value::Bool(false)) => Some(Value::Null),
            (JType::Array, Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null) => {
                Some(Value::Array(vec![local.clone()]))
            }
            _ => None,
        };
        if let Some(value) = coerced {
            return Ok(value);
        }
    }
    Err(unwrapped)
}

/// AJV's `checkDataTypes(types, data, DataType.Correct)`: with several types the per-type tests
/// are joined with `&&` (an AJV quirk), so an element matches only a single remaining type.
pub(super) fn all_types_match(types: &[JType], v: &Value) -> bool {
    let has_number = types.contains(&JType::Number);
    let remaining: Vec<JType> = types
        .iter()
        .copied()
        .filter(|t| !(has_number && *t == JType::Integer))
        .collect();
    match remaining.as_slice() {
        [] => true,
        [only] => only.matches(v),
        several => {
            if several.contains(&JType::Array) && several.contains(&JType::Object) {
                // AJV's special case builds a "wrong type" test here; it never holds for JSON
                // values together with another type test.
                return false;
            }
            several.iter().all(|t| t.matches(v))
        }
    }
}
