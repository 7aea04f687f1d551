//! The event as Liquid sees it in liquidjs, read in place: numbers print as JavaScript prints
//! them, objects as `[object Object]`, arrays concatenated, `null` as nothing; a missing
//! variable is `nil`.

use std::fmt;

use liquid_core::Runtime;
use liquid_core::model::{
    ArrayView, KString, KStringCow, ObjectView, ScalarCow, State, Value as LValue, ValueCow,
    ValueView,
};
use liquid_core::runtime::{PartialStore, Registers};
use serde_json::Value;

use super::super::js::{self, number_f64};

/// A JSON value as Liquid sees it in liquidjs.
#[derive(Debug)]
#[repr(transparent)]
pub(super) struct JsVal(Value);

impl JsVal {
    pub(super) fn from_ref(v: &Value) -> &JsVal {
        // SAFETY: `JsVal` is `#[repr(transparent)]` over `Value`, so both have the same layout
        // and the reference keeps the same lifetime and validity.
        unsafe { &*(v as *const Value).cast::<JsVal>() }
    }
}

static NIL: JsVal = JsVal(Value::Null);

/// The type name of an event object seen through [`JsVal`]: its keys keep the event's order.
/// Objects that went through a stock filter are `liquid` objects whose key order is lost; the
/// `json` filter prints those with sorted keys so that the output is at least deterministic.
pub(super) const JSON_OBJECT: &str = "json object";

/// liquidjs output of a value: `String()` semantics, arrays concatenated, `null` empty.
struct JsDisplay<'a>(&'a Value);

impl fmt::Display for JsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_js(self.0, f, 0)
    }
}

fn write_js(v: &Value, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
    if depth > js::MAX_VALUE_DEPTH {
        return Ok(());
    }
    match v {
        Value::Null => Ok(()),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Number(n) => f.write_str(&js::number_to_string(n)),
        Value::String(s) => f.write_str(s),
        Value::Object(_) => f.write_str("[object Object]"),
        Value::Array(items) => {
            for item in items {
                write_js(item, f, depth + 1)?;
            }
            Ok(())
        }
    }
}

fn to_liquid_value(v: &Value, depth: usize) -> LValue {
    if depth > js::MAX_VALUE_DEPTH {
        return LValue::Nil;
    }
    match v {
        Value::Null => LValue::Nil,
        Value::Bool(b) => LValue::scalar(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => LValue::scalar(i),
            None => LValue::scalar(number_f64(n)),
        },
        Value::String(s) => LValue::scalar(s.clone()),
        Value::Array(items) => LValue::Array(
            items
                .iter()
                .map(|i| to_liquid_value(i, depth + 1))
                .collect(),
        ),
        Value::Object(map) => {
            let mut obj = liquid_core::Object::new();
            for (k, v) in map {
                obj.insert(k.clone().into(), to_liquid_value(v, depth + 1));
            }
            LValue::Object(obj)
        }
    }
}

impl ValueView for JsVal {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> liquid_core::model::DisplayCow<'_> {
        liquid_core::model::DisplayCow::Owned(Box::new(JsDisplay(&self.0)))
    }
    fn source(&self) -> liquid_core::model::DisplayCow<'_> {
        liquid_core::model::DisplayCow::Owned(Box::new(JsDisplay(&self.0)))
    }
    fn type_name(&self) -> &'static str {
        match &self.0 {
            Value::Null => "nil",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "fractional number",
            Value::Number(_) => "whole number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => JSON_OBJECT,
        }
    }
    fn query_state(&self, state: State) -> bool {
        let empty = match &self.0 {
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        match state {
            State::Truthy => !matches!(self.0, Value::Null | Value::Bool(false)),
            State::DefaultValue => matches!(self.0, Value::Null | Value::Bool(false)) || empty,
            State::Empty => empty,
            State::Blank => match &self.0 {
                Value::Null | Value::Bool(false) => true,
                Value::String(s) => s.trim().is_empty(),
                _ => empty,
            },
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        match &self.0 {
            Value::String(s) => KStringCow::from_ref(s),
            other => KStringCow::from_string(JsDisplay(other).to_string()),
        }
    }
    fn to_value(&self) -> LValue {
        to_liquid_value(&self.0, 0)
    }
    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        match &self.0 {
            Value::Bool(b) => Some(ScalarCow::new(*b)),
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => ScalarCow::new(i),
                None => ScalarCow::new(number_f64(n)),
            }),
            Value::String(s) => Some(ScalarCow::new(s.as_str())),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&dyn ArrayView> {
        matches!(self.0, Value::Array(_)).then_some(self as &dyn ArrayView)
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        matches!(self.0, Value::Object(_)).then_some(self as &dyn ObjectView)
    }
    fn as_state(&self) -> Option<State> {
        None
    }
    fn is_nil(&self) -> bool {
        self.0.is_null()
    }
}

impl ArrayView for JsVal {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        match &self.0 {
            Value::Array(a) => a.len() as i64,
            _ => 0,
        }
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            Value::Array(a) => Box::new(a.iter().map(|v| JsVal::from_ref(v) as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn contains_key(&self, index: i64) -> bool {
        ArrayView::get(self, index).is_some()
    }
    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        let Value::Array(a) = &self.0 else {
            return None;
        };
        let i = if index < 0 {
            (a.len() as i64).checked_add(index)?
        } else {
            index
        };
        let i = usize::try_from(i).ok()?;
        a.get(i).map(|v| JsVal::from_ref(v) as &dyn ValueView)
    }
}

impl ObjectView for JsVal {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        match &self.0 {
            Value::Object(o) => o.len() as i64,
            _ => 0,
        }
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        match &self.0 {
            Value::Object(o) => Box::new(o.keys().map(|k| KStringCow::from_ref(k))),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            Value::Object(o) => Box::new(o.values().map(|v| JsVal::from_ref(v) as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        match &self.0 {
            Value::Object(o) => Box::new(o.iter().map(|(k, v)| {
                (
                    KStringCow::from_ref(k),
                    JsVal::from_ref(v) as &dyn ValueView,
                )
            })),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn contains_key(&self, index: &str) -> bool {
        matches!(&self.0, Value::Object(o) if o.contains_key(index))
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match &self.0 {
            Value::Object(o) => o.get(index).map(|v| JsVal::from_ref(v) as &dyn ValueView),
            _ => None,
        }
    }
}

/// A runtime where a missing variable is `nil` (liquidjs' default, non-strict mode).
pub(super) struct NilRuntime<R>(pub(super) R);

impl<R: Runtime> Runtime for NilRuntime<R> {
    fn partials(&self) -> &dyn PartialStore {
        self.0.partials()
    }
    fn name(&self) -> Option<liquid_core::model::KStringRef<'_>> {
        self.0.name()
    }
    fn roots(&self) -> std::collections::BTreeSet<KStringCow<'_>> {
        self.0.roots()
    }
    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        self.0.try_get(path)
    }
    fn get(&self, path: &[ScalarCow<'_>]) -> liquid_core::Result<ValueCow<'_>> {
        Ok(self
            .0
            .try_get(path)
            .unwrap_or(ValueCow::Borrowed(&NIL as &dyn ValueView)))
    }
    fn set_global(&self, name: KString, val: LValue) -> Option<LValue> {
        self.0.set_global(name, val)
    }
    fn set_index(&self, name: KString, val: LValue) -> Option<LValue> {
        self.0.set_index(name, val)
    }
    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.0.get_index(name)
    }
    fn registers(&self) -> &Registers {
        self.0.registers()
    }
}
