//! Turning `jsonschema` errors into AJV's: keyword ranks (AJV's evaluation order), JSON
//! pointers and the human wording.

use std::borrow::Cow;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::fields::human;

use super::*;

/// Ranks of AJV's keywords within one schema object, in evaluation order.
pub(super) mod rank {
    pub const TYPE_EARLY: u32 = 0;
    pub const CONST: u32 = 1;
    pub const ENUM: u32 = 2;
    pub const NOT: u32 = 3;
    pub const ANY_OF: u32 = 4;
    pub const ONE_OF: u32 = 5;
    pub const ALL_OF: u32 = 6;
    pub const IF: u32 = 7;
    pub const MAXIMUM: u32 = 10;
    pub const MINIMUM: u32 = 11;
    pub const EXCLUSIVE_MAXIMUM: u32 = 12;
    pub const EXCLUSIVE_MINIMUM: u32 = 13;
    pub const MULTIPLE_OF: u32 = 14;
    pub const FORMAT_NUMBER: u32 = 15;
    pub const MAX_LENGTH: u32 = 20;
    pub const MIN_LENGTH: u32 = 21;
    pub const PATTERN: u32 = 22;
    pub const FORMAT: u32 = 23;
    pub const MAX_ITEMS: u32 = 30;
    pub const MIN_ITEMS: u32 = 31;
    pub const UNIQUE_ITEMS: u32 = 32;
    pub const ADDITIONAL_ITEMS: u32 = 33;
    pub const ITEMS: u32 = 34;
    pub const CONTAINS: u32 = 35;
    pub const MAX_PROPERTIES: u32 = 40;
    pub const MIN_PROPERTIES: u32 = 41;
    pub const REQUIRED: u32 = 42;
    pub const PROPERTY_NAMES: u32 = 43;
    pub const ADDITIONAL_PROPERTIES: u32 = 44;
    pub const DEPENDENCIES: u32 = 45;
    pub const PROPERTIES: u32 = 46;
    pub const PATTERN_PROPERTIES: u32 = 47;
    pub const TYPE_LATE: u32 = 48;
    pub const OTHER: u32 = 60;
}

pub(super) fn collect_check_errors(
    unit: &Unit,
    data: &Value,
    at: &Loc<'_>,
    st: &mut State<'_>,
    t0: usize,
    o0: usize,
) {
    let base = at.pointer();
    let base_key = at.key();
    let mut found = Vec::new();
    for err in unit.check.iter_errors(data) {
        let abs = format!("{base}{}", err.instance_path().as_str());
        let is_type = matches!(err.kind(), ValidationErrorKind::Type { .. });
        if is_type && st.type_pointers.get(t0..).is_some_and(|p| p.contains(&abs)) {
            continue;
        }
        let overridden = st.overrides.get(o0..).is_some_and(|ovs| {
            ovs.iter().any(|o| {
                abs == o.pointer
                    || abs
                        .strip_prefix(o.pointer.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        });
        if overridden {
            continue;
        }
        convert(&unit.check_schema, &err, &base_key, &base, &mut found);
    }
    for ov in st.overrides.get(o0..).unwrap_or(&[]) {
        let Some(rel) = ov.pointer.get(base.len()..) else {
            continue;
        };
        let Some(element) = data.pointer(rel).and_then(|v| v.get(0)) else {
            continue;
        };
        let Some(node_schema) = unit.check_schema.pointer(&ov.node.ptr) else {
            continue;
        };
        let validator = ov
            .node
            .lazy_check
            .get_or_init(|| validation_options().build(node_schema).ok());
        let Some(validator) = validator else {
            continue;
        };
        for err in validator.iter_errors(element) {
            if err.instance_path().as_str().is_empty()
                && matches!(err.kind(), ValidationErrorKind::Type { .. })
            {
                continue;
            }
            convert(node_schema, &err, &ov.key, &ov.pointer, &mut found);
        }
    }
    st.errors.append(&mut found);
}

pub(super) fn split_pointer(p: &str) -> Vec<Cow<'_, str>> {
    if p.is_empty() {
        return Vec::new();
    }
    p.get(1..)
        .unwrap_or("")
        .split('/')
        .map(unescape_pointer)
        .collect()
}

pub(super) fn unescape_pointer(segment: &str) -> Cow<'_, str> {
    if segment.contains('~') {
        Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(segment)
    }
}

pub(super) fn keyword_rank(keyword: &str, parent: &Value) -> u32 {
    match keyword {
        "type" => {
            let late = parent.as_object().is_some_and(|obj| {
                let types = schema_types(obj);
                types == [JType::Object] && has_object_rules(obj)
            });
            if late {
                rank::TYPE_LATE
            } else {
                rank::TYPE_EARLY
            }
        }
        "const" => rank::CONST,
        "enum" => rank::ENUM,
        "not" => rank::NOT,
        "anyOf" => rank::ANY_OF,
        "oneOf" => rank::ONE_OF,
        "allOf" => rank::ALL_OF,
        "if" | "then" | "else" => rank::IF,
        "maximum" => rank::MAXIMUM,
        "minimum" => rank::MINIMUM,
        "exclusiveMaximum" => rank::EXCLUSIVE_MAXIMUM,
        "exclusiveMinimum" => rank::EXCLUSIVE_MINIMUM,
        "multipleOf" => rank::MULTIPLE_OF,
        "maxLength" => rank::MAX_LENGTH,
        "minLength" => rank::MIN_LENGTH,
        "pattern" => rank::PATTERN,
        "format" => rank::FORMAT,
        "maxItems" => rank::MAX_ITEMS,
        "minItems" => rank::MIN_ITEMS,
        "uniqueItems" => rank::UNIQUE_ITEMS,
        "additionalItems" => rank::ADDITIONAL_ITEMS,
        "items" => rank::ITEMS,
        "contains" => rank::CONTAINS,
        "maxProperties" => rank::MAX_PROPERTIES,
        "minProperties" => rank::MIN_PROPERTIES,
        "required" => rank::REQUIRED,
        "propertyNames" => rank::PROPERTY_NAMES,
        "additionalProperties" => rank::ADDITIONAL_PROPERTIES,
        "dependencies" => rank::DEPENDENCIES,
        "properties" => rank::PROPERTIES,
        "patternProperties" => rank::PATTERN_PROPERTIES,
        _ => rank::OTHER,
    }
}

pub(super) fn index_of(map: Option<&Value>, name: &str) -> u32 {
    map.and_then(Value::as_object)
        .and_then(|m| m.keys().position(|k| k == name))
        .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
}

/// Turns a `jsonschema` error into AJV-ordered, human-worded errors. `root` is the schema the
/// validator was built from, `key`/`base` the position of the validated value.
pub(super) fn convert(
    root: &Value,
    err: &jsonschema::ValidationError<'_>,
    key: &[u32],
    base: &str,
    out: &mut Vec<Pending>,
) {
    let schema_segs = split_pointer(err.schema_path().as_str());
    let instance_segs = split_pointer(err.instance_path().as_str());
    let keyword = err.kind().keyword();
    let mut key = key.to_vec();
    let mut node = root;
    let mut inst = 0;
    let mut i = 0;
    while i + 1 < schema_segs.len() {
        let seg = schema_segs.get(i).map_or("", |s| s.as_ref());
        let next = schema_segs.get(i + 1).map_or("", |s| s.as_ref());
        let (rank, index, target, consumed, step) = match seg {
            "properties" | "patternProperties" | "dependencies" => (
                keyword_rank(seg, node),
                index_of(node.get(seg), next),
                node.get(seg).and_then(|m| m.get(next)),
                seg != "dependencies",
                2,
            ),
            "items" if node.get("items").is_some_and(Value::is_array) => (
                rank::ITEMS,
                next.parse().unwrap_or(u32::MAX),
                node.get("items")
                    .and_then(|a| a.get(next.parse::<usize>().unwrap_or(usize::MAX))),
                true,
                2,
            ),
            "items" | "additionalItems" | "additionalProperties" | "contains" => (
                keyword_rank(seg, node),
                instance_segs
                    .get(inst)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                node.get(seg),
                true,
                1,
            ),
            "allOf" | "anyOf" | "oneOf" => (
                keyword_rank(seg, node),
                next.parse().unwrap_or(u32::MAX),
                node.get(seg)
                    .and_then(|a| a.get(next.parse::<usize>().unwrap_or(usize::MAX))),
                false,
                2,
            ),
            "not" | "if" | "then" | "else" | "propertyNames" => {
                (keyword_rank(seg, node), 0, node.get(seg), false, 1)
            }
            _ => break,
        };
        let Some(target) = target else {
            break;
        };
        key.push(rank);
        key.push(index);
        node = target;
        if consumed {
            inst += 1;
        }
        i += step;
    }
    let sub = match err.kind() {
        ValidationErrorKind::Required { property } => {
            index_of_in_array(node.get("required"), property)
        }
        _ => 0,
    };
    key.push(keyword_rank(keyword, node));
    key.push(sub);
    let pointer = format!("{base}{}", err.instance_path().as_str());
    for body in human::bodies(err.kind(), node, err.instance()) {
        out.push(Pending {
            key: key.clone(),
            pointer: pointer.clone(),
            message: human::sentence(node, &pointer, &body),
        });
    }
}

pub(super) fn index_of_in_array(list: Option<&Value>, item: &Value) -> u32 {
    list.and_then(Value::as_array)
        .and_then(|l| l.iter().position(|v| v == item))
        .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
}
