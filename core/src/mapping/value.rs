//! Resolved values that can hold JavaScript's `undefined` inside containers.
//!
//! The reference keeps `undefined` object members and array items while a mapping resolves
//! (they matter to `@merge`, `@flatten` and `@arrayPath`) and removes them only at the end
//! (`removeUndefined`). [`R`] models exactly that; the common paths of the evaluator skip it and
//! build `serde_json::Value`s directly.

use indexmap::IndexMap;
use serde_json::{Map, Value};

/// A resolved value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum R {
    /// JavaScript `undefined`.
    Undef,
    /// A plain JSON value (holds no `undefined`).
    V(Value),
    /// An array whose items may be `undefined`.
    Arr(Vec<R>),
    /// An object whose members may be `undefined`.
    Obj(IndexMap<String, R>),
}

impl R {
    /// From an optional value (`None` = `undefined`).
    pub(crate) fn from_opt(v: Option<Value>) -> R {
        v.map_or(R::Undef, R::V)
    }

    /// `removeUndefined`: members that are `undefined` are dropped, `undefined` array items
    /// become `null`; `None` when the value itself is `undefined`.
    pub(crate) fn into_opt(self) -> Option<Value> {
        match self {
            R::Undef => None,
            R::V(v) => Some(v),
            R::Arr(items) => Some(Value::Array(
                items
                    .into_iter()
                    .map(|i| i.into_opt().unwrap_or(Value::Null))
                    .collect(),
            )),
            R::Obj(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    if let Some(v) = v.into_opt() {
                        out.insert(k, v);
                    }
                }
                Some(Value::Object(out))
            }
        }
    }

    /// Is the value `undefined` or `null`?
    pub(crate) fn is_nullish(&self) -> bool {
        matches!(self, R::Undef | R::V(Value::Null))
    }

    /// The entries of an object or array, as `Object.entries` lists them (arrays by index).
    /// `None` for other values.
    pub(crate) fn into_entries(self) -> Option<Vec<(String, R)>> {
        match self {
            R::Obj(map) => Some(map.into_iter().collect()),
            R::Arr(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v))
                    .collect(),
            ),
            R::V(Value::Object(map)) => Some(map.into_iter().map(|(k, v)| (k, R::V(v))).collect()),
            R::V(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), R::V(v)))
                    .collect(),
            ),
            R::Undef | R::V(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remove_undefined_drops_members_and_nulls_items() {
        let mut m = IndexMap::new();
        m.insert("a".to_owned(), R::Undef);
        m.insert("b".to_owned(), R::Arr(vec![R::Undef, R::V(json!(1))]));
        m.insert("c".to_owned(), R::V(json!(null)));
        assert_eq!(
            R::Obj(m).into_opt(),
            Some(json!({"b": [null, 1], "c": null}))
        );
        assert_eq!(R::Undef.into_opt(), None);
    }
}
