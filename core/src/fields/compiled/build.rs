//! Compiling a schema into its plan: the [`Node`] tree AJV's keyword order is walked along,
//! and the empty-value cleanup that follows the plan.

use std::borrow::Cow;
use std::sync::OnceLock;

use jsonschema::ValidationOptions;
use regex::Regex;
use serde_json::{Map, Value};

use crate::fields::error::FieldsError;
use crate::fields::formats::{self, FormatCheck};
use crate::fields::js::is_truthy;
use crate::fields::remove_empty::keep_cleaned;

use super::*;

pub(super) fn escape_pointer(s: &str) -> Cow<'_, str> {
    if s.contains(['~', '/']) {
        Cow::Owned(s.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The schema without composite keywords along the paths the plan walks (the plan evaluates
/// them when AJV would).
///
/// Along those paths the plan also does what `type` and `additionalProperties: false` require
/// (a value the plan could not coerce is a type error it reports; undeclared keys are gone), so
/// those keywords are left out too and `jsonschema` checks the rest.
pub(super) fn strip_composites(schema: &Value, depth: usize) -> Value {
    let Value::Object(obj) = schema else {
        return schema.clone();
    };
    if depth > MAX_SCHEMA_DEPTH {
        return schema.clone();
    }
    let mut out = Map::with_capacity(obj.len());
    for (k, v) in obj {
        if COMPOSITE_KEYWORDS.contains(&k.as_str())
            || k == "type"
            || (k == "additionalProperties" && *v == Value::Bool(false))
        {
            continue;
        }
        let stripped = match (k.as_str(), v) {
            ("properties" | "patternProperties", Value::Object(props)) => Value::Object(
                props
                    .iter()
                    .map(|(pk, pv)| (pk.clone(), strip_composites(pv, depth + 1)))
                    .collect(),
            ),
            ("additionalProperties" | "additionalItems" | "items", Value::Object(_)) => {
                strip_composites(v, depth + 1)
            }
            ("items", Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|s| strip_composites(s, depth + 1))
                    .collect(),
            ),
            _ => v.clone(),
        };
        out.insert(k.clone(), stripped);
    }
    Value::Object(out)
}

pub(super) fn build_unit(
    schema: &Value,
    abs: &str,
    depth: usize,
    options: &ValidationOptions<'static>,
) -> Result<Unit, FieldsError> {
    let check_schema = strip_composites(schema, 0);
    let check = options
        .build(&check_schema)
        .map_err(|e| FieldsError::compile(format!("schema is invalid: {e}")))?;
    let node = build_node(schema, String::new(), abs, depth, options)?;
    Ok(Unit {
        node,
        check,
        check_schema,
    })
}

pub(super) fn has_object_rules(obj: &Map<String, Value>) -> bool {
    [
        "maxProperties",
        "minProperties",
        "required",
        "propertyNames",
        "additionalProperties",
        "dependencies",
        "properties",
        "patternProperties",
    ]
    .iter()
    .any(|k| obj.contains_key(*k))
}

pub(super) fn schema_types(obj: &Map<String, Value>) -> Vec<JType> {
    match obj.get("type") {
        Some(Value::String(s)) => JType::parse(s).into_iter().collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|t| t.as_str().and_then(JType::parse))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn build_node(
    schema: &Value,
    ptr: String,
    abs: &str,
    depth: usize,
    options: &ValidationOptions<'static>,
) -> Result<Node, FieldsError> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(FieldsError::compile(format!(
            "schema is nested deeper than {MAX_SCHEMA_DEPTH} levels"
        )));
    }
    let empty = Map::new();
    let obj = schema.as_object().unwrap_or(&empty);
    let types = schema_types(obj);
    let coerce_to: Vec<JType> = types
        .iter()
        .copied()
        .filter(|t| *t != JType::Object)
        .collect();
    let early_type_check =
        !(types.is_empty() || (coerce_to.is_empty() && types.len() == 1 && has_object_rules(obj)));

    let mut meta = Map::new();
    for k in ["title", "type", "errorMessage"] {
        if let Some(v) = obj.get(k) {
            meta.insert(k.to_owned(), v.clone());
        }
    }

    let child = |sub: &Value, seg: String| -> Result<Node, FieldsError> {
        build_node(
            sub,
            format!("{ptr}/{seg}"),
            &format!("{abs}/{seg}"),
            depth + 1,
            options,
        )
    };
    let unit = |sub: &Value, seg: String| -> Result<Unit, FieldsError> {
        build_unit(sub, &format!("{abs}/{seg}"), depth + 1, options)
    };

    let mut entries = Vec::new();
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (k, v) in props {
            entries.push((
                k.clone(),
                child(v, format!("properties/{}", escape_pointer(k)))?,
            ));
        }
    }
    let properties = Props::new(entries);
    let mut patterns = Vec::new();
    if let Some(Value::Object(props)) = obj.get("patternProperties") {
        for (pattern, v) in props {
            let re = Regex::new(&formats::js_to_rust(pattern, false)).map_err(|_| {
                FieldsError::compile(format!("unsupported patternProperties pattern {pattern:?}"))
            })?;
            patterns.push((
                re,
                child(v, format!("patternProperties/{}", escape_pointer(pattern)))?,
            ));
        }
    }
    let additional = match obj.get("additionalProperties") {
        Some(Value::Bool(false)) => Additional::Remove,
        Some(v @ Value::Object(_)) => {
            Additional::Schema(Box::new(child(v, "additionalProperties".into())?))
        }
        _ => Additional::Keep,
    };
    let items = match obj.get("items") {
        Some(v @ Value::Object(_)) => Items::Single(Box::new(child(v, "items".into())?)),
        Some(Value::Array(list)) => {
            let mut nodes = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                nodes.push(child(v, format!("items/{i}"))?);
            }
            let rest = match obj.get("additionalItems") {
                Some(v @ Value::Object(_)) => Some(Box::new(child(v, "additionalItems".into())?)),
                _ => None,
            };
            Items::Tuple(nodes, rest)
        }
        _ => Items::None,
    };

    let mut composites = Vec::new();
    if let Some(v) = obj.get("not") {
        composites.push(Composite::Not(Box::new(unit(v, "not".into())?)));
    }
    for (keyword, make) in [
        ("anyOf", Composite::AnyOf as fn(Vec<Unit>) -> Composite),
        ("oneOf", Composite::OneOf),
        ("allOf", Composite::AllOf),
    ] {
        if let Some(Value::Array(list)) = obj.get(keyword) {
            let mut units = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                units.push(unit(v, format!("{keyword}/{i}"))?);
            }
            composites.push(make(units));
        }
    }
    if let Some(cond) = obj.get("if") {
        let then = obj
            .get("then")
            .map(|v| unit(v, "then".into()))
            .transpose()?
            .map(Box::new);
        let otherwise = obj
            .get("else")
            .map(|v| unit(v, "else".into()))
            .transpose()?
            .map(Box::new);
        if then.is_some() || otherwise.is_some() {
            composites.push(Composite::If {
                cond: Box::new(unit(cond, "if".into())?),
                then,
                otherwise,
            });
        }
    }

    let number_format = match obj.get("format") {
        Some(Value::String(name)) => match formats::lookup(name) {
            Some(FormatCheck::Num(check)) => Some((name.clone(), check)),
            Some(FormatCheck::Str(_)) => None,
            None => {
                return Err(FieldsError::compile(format!(
                    "unknown format \"{name}\" ignored in schema at path \"#{abs}\""
                )));
            }
        },
        _ => None,
    };

    let type_includes = |name: &str| match obj.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(list)) => list.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    };
    let empties = Empties {
        typed: obj.get("type").is_some_and(is_truthy) || obj.get("enum").is_some_and(is_truthy),
        allows_null: type_includes("null"),
        allows_string: type_includes("string"),
        has_properties: obj.get("properties").is_some_and(Value::is_object),
        has_items: obj.get("items").is_some_and(is_truthy),
    };

    Ok(Node {
        ptr,
        meta: Value::Object(meta),
        types,
        coerce_to,
        early_type_check,
        properties,
        patterns,
        additional,
        items,
        composites,
        number_format,
        empties,
        lazy_check: OnceLock::new(),
    })
}

/// `removeEmptyValues` over the plan (see `remove_empty.rs` for the JSON-schema version).
pub(super) fn remove_empty(node: &Node, value: Value, is_root: bool) -> Option<Value> {
    let e = &node.empties;
    if !e.typed {
        return Some(value);
    }
    let drops = |item: &Value, node: &Node| {
        node.empties.typed
            && match item {
                Value::Null => !node.empties.allows_null,
                Value::String(s) => s.is_empty() && !node.empties.allows_string,
                _ => false,
            }
    };
    match value {
        Value::Array(mut items) => {
            if let (true, Items::Single(item_node)) = (e.has_items, &node.items) {
                items.retain(|item| !drops(item, item_node));
            }
            Some(Value::Array(items))
        }
        Value::Object(mut map) => {
            if e.has_properties {
                let mut hint = 0;
                map.retain(|key, v| {
                    let cleaned = match node.properties.find_from(key, hint) {
                        Some((i, child)) => {
                            hint = i + 1;
                            remove_empty(child, std::mem::take(v), false)
                        }
                        None => Some(std::mem::take(v)),
                    };
                    keep_cleaned(v, cleaned, is_root)
                });
            }
            Some(Value::Object(map))
        }
        scalar => (!drops(&scalar, node)).then_some(scalar),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
