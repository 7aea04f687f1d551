//! The mapping kit: Segment's mapping language (`@path`, `@template`, `@if`, ... directives),
//! compatible on the wire with `@segment/actions-core` 3.170.0.
//!
//! A mapping is a JSON value made of raw values and *directives* (objects with one `@` key,
//! optionally plus `_metadata`). [`Mapping::compile`] validates it once (collecting every
//! problem, worded as the reference words them) and builds an evaluation tree: paths are
//! pre-split, templates and Liquid templates pre-parsed, `@replace` patterns pre-built.
//! [`Mapping::evaluate`] then resolves it against any number of events, reading the event in
//! place and allocating only for the output.
//!
//! ```
//! use actions_core::mapping::Mapping;
//! use serde_json::json;
//!
//! let mapping = Mapping::compile(&json!({
//!     "email": {"@path": "$.traits.email"},
//!     "name": {"@template": "{{traits.first}} {{traits.last}}"},
//!     "missing": {"@path": "$.nope"}
//! })).unwrap();
//! let out = mapping.evaluate(&json!({"traits": {"email": "a@b.c", "first": "Ada", "last": "L"}}))
//!     .unwrap();
//! assert_eq!(out, Some(json!({"email": "a@b.c", "name": "Ada L"})));
//! ```
//!
//! # Behaviour kept from the reference on purpose
//!
//! The conformance vectors (`conformance/mapping/`) were produced by running the reference; these
//! behaviours are reproduced deliberately, including the ones that look like bugs (\[quirk\]):
//!
//! * **Validation** runs on the whole mapping with the reference's messages and order;
//!   problems under object keys are all collected, a bad directive at the root is a single
//!   error. Arrays are only checked to be arrays — their items are *not* validated \[quirk\], so an
//!   invalid directive inside an array fails when evaluated (`@oops is not a valid directive,
//!   got undefined`), and only if reached. `@merge` objects are validated with an empty location
//!   (`/ should be a object ...`) \[quirk\]. `@json` `mode` is checked case-insensitively by
//!   validation but case-sensitively when resolving, so `"ENCODE"` resolves to nothing \[quirk\].
//! * **The mapping's root** is copied as JavaScript's `{...mapping}` does: an array becomes an
//!   object with index keys, a string is spread into its characters, a number or boolean gives
//!   `{}`, `null` is an error. `__segment_internal_directive` (the root directive) receives the
//!   other keys as its `mapping` option.
//! * **Paths** follow the reference's `get`: the first `$.` is removed wherever it occurs;
//!   dots, `[n]` and quoted keys split the path (a quoted key containing a dot is still split);
//!   `null`, `0`, `false` and `""` met on the way are returned as they are \[quirk\]; strings and
//!   arrays answer `length` and indices as in JavaScript.
//! * **`@template`** does not remove `$.`, renders objects as `[object Object]`, arrays
//!   comma-joined, missing/`null` as `""`, no HTML escaping; the triple-brace pass runs first and
//!   its output is expanded again by the double-brace pass \[quirk\].
//! * **`@if`** takes `exists` over `blank`, uses loose `!= ''` for `blank` (so `0`, `false`,
//!   `[]` are blank) and ignores a falsy `else` \[quirk\].
//! * **`@replace`** matches its pattern literally; the replacement still honours `$&`, `$$`,
//!   `` $` `` and `$'`; lengths count UTF-16 units; numbers and booleans are stringified first,
//!   other non-strings give `""`.
//! * **`@merge`** is `Object.assign`: strings and arrays spread into index keys, a member that
//!   resolves to nothing overwrites (and so removes) an earlier one.
//! * **`@json`** encode is `JSON.stringify` (key order kept, numbers as JavaScript prints them);
//!   decode returns the input when it is not valid JSON.
//! * **`@liquid`**: see the `liquid` module notes — liquidjs semantics on top of the `liquid`
//!   crates, with the reference's disabled tags and filters and 1000-unit cap.
//! * **`undefined`**: object members that resolve to nothing are removed at the end; array items
//!   that resolve to nothing become `null`. Inside `@transform`'s intermediate event such array
//!   items are already `null` (the reference keeps them `undefined` there; only a lookup of that
//!   exact item can tell the difference).
//!
//! # Performance
//!
//! Evaluation reads the event in place and allocates only for the output. Path lookups check
//! first the position at which each key was found last time (events from one source list
//! their keys in the same order). An object of the mapping is output by cloning a pre-built
//! shape (keys and constants, and a second shape without the members that are usually
//! missing), which copies the key index instead of hashing each key, then filling in the
//! resolved members. [`Mapping::evaluate_into`] goes further: it writes into the previous
//! event's output, reusing its strings, arrays and objects, so that in a steady stream
//! evaluating allocates nothing.
//!
//! # Limits
//!
//! A mapping nested more than [`MAX_DEPTH`] levels is refused with a `ValidationError` naming
//! the pointer of the first node too deep; helpers that walk event data stop at 512 levels with
//! an error. Nothing recurses without bound, so no input can overflow the stack.

mod error;
mod js;
mod liquid;
mod node;
mod path;
mod replace;
mod template;
mod validate;
mod value;
mod value_keys;

use serde_json::{Map, Value};

pub use error::{MappingError, ValidationIssue};
pub use js::js_number_to_string;

use node::Node;
use validate::VErr;

/// The deepest nesting of objects and arrays a mapping may have. Compiling and evaluating
/// recurse once per level (about 10 KiB of stack a level unoptimised), so this keeps both well
/// within a 2 MiB thread stack (a tokio worker's, a test's); 256 overflowed it from about 190
/// levels in debug builds (`core/tests/hostile_input.rs`).
pub const MAX_DEPTH: usize = 64;

/// The key of the root directive (see the module notes).
const ROOT_DIRECTIVE_KEY: &str = "__segment_internal_directive";

/// A mapping compiled once (validated, paths pre-split, patterns pre-built, templates and
/// Liquid templates pre-parsed) and evaluated many times. `Send + Sync`, cheap to share behind
/// an `Arc`.
#[derive(Debug)]
pub struct Mapping {
    root: Node,
    keys: Vec<String>,
}

impl Mapping {
    /// Validates and compiles a mapping. Every validation problem is reported, in the
    /// reference's order.
    ///
    /// ```
    /// use actions_core::mapping::Mapping;
    /// use serde_json::json;
    ///
    /// let m = Mapping::compile(&json!({"id": {"@path": "$.userId"}})).unwrap();
    /// assert_eq!(m.evaluate(&json!({"userId": "u1"})).unwrap(), Some(json!({"id": "u1"})));
    ///
    /// let err = Mapping::compile(&json!({"a": {"@oops": 1}, "b": {"@path": 2}})).unwrap_err();
    /// assert_eq!(err.class(), "ValidationError");
    /// assert_eq!(err.errors().len(), 2);
    /// assert_eq!(err.issues()[1].pointer(), "/b/@path");
    /// ```
    pub fn compile(mapping: &Value) -> Result<Mapping, MappingError> {
        check_depth(mapping)?;
        let root = compile_processed(mapping)?;
        Ok(Mapping {
            root,
            keys: value_keys::field_value_keys(mapping),
        })
    }

    /// Evaluates against one event, which must be a JSON object (`data must be an object, got
    /// array` otherwise). `Ok(None)` is the reference's `undefined` (nothing). Members that
    /// resolve to nothing are removed; array items that resolve to nothing become `null`.
    ///
    /// ```
    /// use actions_core::mapping::Mapping;
    /// use serde_json::json;
    ///
    /// let m = Mapping::compile(&json!({"@path": "$.nope"})).unwrap();
    /// assert_eq!(m.evaluate(&json!({})).unwrap(), None);
    /// let err = m.evaluate(&json!([1])).unwrap_err();
    /// assert_eq!(err.message(), "data must be an object, got array");
    /// ```
    pub fn evaluate(&self, payload: &Value) -> Result<Option<Value>, MappingError> {
        if !payload.is_object() {
            return Err(MappingError::runtime(format!(
                "data must be an object, got {}",
                js::type_name(payload)
            )));
        }
        self.root.eval(Some(payload))
    }

    /// [`evaluate`](Self::evaluate) into a value kept from one event to the next: the strings,
    /// arrays and objects `out` already holds are reused, so once `out` has the output's shape
    /// (after the first event) evaluating allocates nothing but what grows. Afterwards `out`
    /// is exactly what `evaluate` returns, whatever it held before: `Ok(true)` with the output
    /// in `out`, or `Ok(false)` when the mapping resolves to nothing (`out` is then `null`).
    /// After an error, `out` holds an unspecified value.
    ///
    /// ```
    /// use actions_core::mapping::Mapping;
    /// use serde_json::{Value, json};
    ///
    /// let m = Mapping::compile(&json!({"id": {"@path": "$.userId"}, "n": {"@path": "$.n"}})).unwrap();
    /// let mut out = Value::Null;
    /// let mut body = Vec::new();
    /// for event in [json!({"userId": "u1", "n": 1}), json!({"userId": "u2"})] {
    ///     assert!(m.evaluate_into(&event, &mut out).unwrap());
    ///     assert_eq!(Some(&out), m.evaluate(&event).unwrap().as_ref());
    ///     body.clear();
    ///     serde_json::to_writer(&mut body, &out).unwrap(); // ... and send `body`
    /// }
    /// assert_eq!(body, br#"{"id":"u2"}"#);
    /// ```
    pub fn evaluate_into(&self, payload: &Value, out: &mut Value) -> Result<bool, MappingError> {
        if !payload.is_object() {
            return Err(MappingError::runtime(format!(
                "data must be an object, got {}",
                js::type_name(payload)
            )));
        }
        if self.root.eval_into(Some(payload), out)? {
            Ok(true)
        } else {
            *out = Value::Null;
            Ok(false)
        }
    }

    /// Evaluates against any JSON value (as `transformBatch` does for each item, without the
    /// object check).
    fn evaluate_any(&self, payload: &Value) -> Result<Option<Value>, MappingError> {
        self.root.eval(Some(payload))
    }

    /// The event paths this mapping reads (the reference's `getFieldValueKeys`), in order.
    ///
    /// ```
    /// use actions_core::mapping::Mapping;
    /// use serde_json::json;
    /// let m = Mapping::compile(&json!({"a": {"@path": "$.x"}, "b": {"@template": "{{y}}"}})).unwrap();
    /// assert_eq!(m.value_keys(), vec!["$.x", "y"]);
    /// ```
    pub fn value_keys(&self) -> Vec<String> {
        self.keys.clone()
    }
}

/// `transform(mapping, payload)` as the reference: the payload must be an object; the mapping is
/// validated, compiled and evaluated.
///
/// ```
/// use actions_core::mapping::transform;
/// use serde_json::json;
/// let out = transform(&json!({"n": {"@case": {"operator": "upper", "value": {"@path": "$.s"}}}}),
///                     &json!({"s": "abc"})).unwrap();
/// assert_eq!(out, Some(json!({"n": "ABC"})));
/// ```
pub fn transform(mapping: &Value, payload: &Value) -> Result<Option<Value>, MappingError> {
    if !payload.is_object() {
        return Err(MappingError::runtime(format!(
            "data must be an object, got {}",
            js::type_name(payload)
        )));
    }
    Mapping::compile(mapping)?.evaluate(payload)
}

/// `transformBatch(mapping, payloads)`: `payloads` must be an array; the mapping is compiled
/// once and evaluated for each event (an event that maps to nothing gives `null`).
///
/// ```
/// use actions_core::mapping::transform_batch;
/// use serde_json::json;
/// let out = transform_batch(&json!({"id": {"@path": "$.id"}}), &json!([{"id": 1}, {}])).unwrap();
/// assert_eq!(out, vec![json!({"id": 1}), json!({})]);
/// ```
pub fn transform_batch(mapping: &Value, payloads: &Value) -> Result<Vec<Value>, MappingError> {
    let Value::Array(items) = payloads else {
        return Err(MappingError::runtime(format!(
            "data must be an array, got {}",
            js::type_name(payloads)
        )));
    };
    let compiled = Mapping::compile(mapping)?;
    items
        .iter()
        .map(|p| Ok(compiled.evaluate_any(p)?.unwrap_or(Value::Null)))
        .collect()
}

/// `getMappingToProcess` + `validate` + compile, for the mapping and for `@transform`'s `apply`.
pub(crate) fn compile_processed(mapping: &Value) -> Result<Node, MappingError> {
    let processed = mapping_to_process(mapping)?;
    match validate::validate(Some(&processed), &[]) {
        Ok(()) => {}
        Err(VErr::One(issue)) => {
            return Err(MappingError::Validation {
                issues: vec![issue],
                aggregate: false,
            });
        }
        Err(VErr::Agg(issues)) => {
            return Err(MappingError::Validation {
                issues,
                aggregate: true,
            });
        }
    }
    Ok(node::compile(&processed))
}

/// `Object.keys(value)` and `value[key]` for the root directive.
fn js_keys(v: &Value) -> Result<Vec<String>, MappingError> {
    Ok(match v {
        Value::Null => return Err(null_to_object()),
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => (0..a.len()).map(|i| i.to_string()).collect(),
        Value::String(s) => (0..js::utf16_len(s)).map(|i| i.to_string()).collect(),
        Value::Bool(_) | Value::Number(_) => Vec::new(),
    })
}

fn null_to_object() -> MappingError {
    // A JavaScript TypeError in the reference.
    MappingError::runtime("Cannot convert undefined or null to object")
}

/// The reference's `getMappingToProcess`.
fn mapping_to_process(mapping: &Value) -> Result<Value, MappingError> {
    match mapping {
        Value::Null => Err(null_to_object()),
        Value::Object(map) if map.contains_key(ROOT_DIRECTIVE_KEY) => {
            let customer: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != ROOT_DIRECTIVE_KEY)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut root = map.get(ROOT_DIRECTIVE_KEY).cloned().unwrap_or(Value::Null);
            let keys = js_keys(&root)?;
            if keys.len() > 1 {
                return Err(MappingError::runtime(
                    "The root mapping must only have a single directive object",
                ));
            }
            let first = keys.first().cloned().unwrap_or_default();
            let directive = match &mut root {
                Value::Object(m) => m.get_mut(&first),
                Value::Array(a) => first.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            };
            match directive {
                Some(Value::Object(d)) => {
                    d.insert("mapping".to_owned(), Value::Object(customer));
                }
                Some(Value::Array(_)) => {}
                _ => {
                    return Err(MappingError::runtime(
                        "The root directive must be an object",
                    ));
                }
            }
            Ok(root)
        }
        Value::Object(_) => Ok(mapping.clone()),
        Value::Array(items) => Ok(Value::Object(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect(),
        )),
        Value::String(s) => Ok(Value::Object(
            js::utf16_units(s)
                .into_iter()
                .enumerate()
                .map(|(i, u)| (i.to_string(), Value::String(u)))
                .collect(),
        )),
        Value::Bool(_) | Value::Number(_) => Ok(Value::Object(Map::new())),
    }
}

/// Refuses mappings nested deeper than [`MAX_DEPTH`] (iteratively: no recursion).
fn check_depth(mapping: &Value) -> Result<(), MappingError> {
    // (value, depth, parent index in `nodes`, key under the parent)
    let mut nodes: Vec<(Option<usize>, String)> = Vec::new();
    let mut stack: Vec<(&Value, usize, Option<usize>)> = vec![(mapping, 1, None)];
    while let Some((v, depth, me)) = stack.pop() {
        let children: Box<dyn Iterator<Item = (String, &Value)>> = match v {
            Value::Object(m) => Box::new(m.iter().map(|(k, v)| (k.clone(), v))),
            Value::Array(a) => Box::new(a.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            let mut path = Vec::new();
            let mut cur = me;
            while let Some(i) = cur {
                let Some((parent, key)) = nodes.get(i) else {
                    break;
                };
                path.push(key.clone());
                cur = *parent;
            }
            path.reverse();
            return Err(MappingError::Validation {
                issues: vec![ValidationIssue::new(
                    &path,
                    format!("is nested too deeply (more than {MAX_DEPTH} levels)"),
                )],
                aggregate: false,
            });
        }
        for (key, child) in children {
            if matches!(child, Value::Object(_) | Value::Array(_)) {
                nodes.push((me, key));
                stack.push((child, depth + 1, Some(nodes.len() - 1)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(m: Value, p: Value) -> Result<Option<Value>, MappingError> {
        transform(&m, &p)
    }

    #[test]
    fn mapping_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Mapping>();
    }

    #[test]
    fn root_is_spread_like_javascript() {
        assert_eq!(
            eval(json!(["cool"]), json!({})).unwrap(),
            Some(json!({"0": "cool"}))
        );
        assert_eq!(
            eval(json!("ab"), json!({})).unwrap(),
            Some(json!({"0": "a", "1": "b"}))
        );
        assert_eq!(eval(json!(123), json!({})).unwrap(), Some(json!({})));
        assert_eq!(
            eval(json!(null), json!({})).unwrap_err().message(),
            "Cannot convert undefined or null to object"
        );
    }

    #[test]
    fn path_directive() {
        let p = json!({"a": {"b": [1, {"c": "x"}]}, "n": null, "ptr": "a.b"});
        assert_eq!(
            eval(json!({"v": {"@path": "$.a.b[1].c"}}), p.clone()).unwrap(),
            Some(json!({"v": "x"}))
        );
        assert_eq!(
            eval(json!({"v": {"@path": "$.n.deep"}}), p.clone()).unwrap(),
            Some(json!({"v": null}))
        );
        assert_eq!(
            eval(json!({"v": {"@path": {"@path": "ptr"}}}), p.clone()).unwrap(),
            Some(json!({"v": [1, {"c": "x"}]}))
        );
        assert_eq!(
            eval(json!({"v": {"@path": {"@path": "$.nope"}}}), p)
                .unwrap_err()
                .message(),
            "@path: expected string, got undefined"
        );
    }

    #[test]
    fn if_directive() {
        let p = json!({"z": 0, "e": "", "s": "x", "n": null});
        let m =
            |cond: &str, key: &str| json!({"@if": {cond: {"@path": key}, "then": 1, "else": 2}});
        assert_eq!(eval(m("exists", "$.z"), p.clone()).unwrap(), Some(json!(1)));
        assert_eq!(eval(m("exists", "$.n"), p.clone()).unwrap(), Some(json!(2)));
        assert_eq!(eval(m("blank", "$.z"), p.clone()).unwrap(), Some(json!(2)));
        assert_eq!(eval(m("blank", "$.s"), p.clone()).unwrap(), Some(json!(1)));
        assert_eq!(
            eval(
                json!({"@if": {"exists": {"@path": "$.x"}, "then": 1, "else": 0}}),
                p.clone()
            )
            .unwrap(),
            None
        );
        assert_eq!(
            eval(json!({"@if": {"exists": 0, "then": 1}}), p)
                .unwrap_err()
                .message(),
            "@if requires an \"exists\" key or a \"blank\" key"
        );
    }

    #[test]
    fn case_and_literal_directives() {
        let p = json!({"s": "MiXeD", "n": 5});
        assert_eq!(
            eval(
                json!({"@case": {"operator": "lower", "value": {"@path": "s"}}}),
                p.clone()
            )
            .unwrap(),
            Some(json!("mixed"))
        );
        assert_eq!(
            eval(
                json!({"@case": {"operator": "upper", "value": {"@path": "n"}}}),
                p.clone()
            )
            .unwrap(),
            Some(json!(5))
        );
        assert_eq!(
            eval(
                json!({"@case": {"operator": "snake", "value": {"@path": "s"}}}),
                p.clone()
            )
            .unwrap_err()
            .message(),
            "operator key should have a value of \"lower\" or \"upper\""
        );
        assert_eq!(
            eval(json!({"@literal": {"a": {"@path": "s"}}}), p).unwrap(),
            Some(json!({"a": "MiXeD"}))
        );
    }

    #[test]
    fn replace_directive() {
        let p = json!({"t": "a-b-A", "n": 1.5, "o": {}});
        let r = |opts: Value| eval(json!({"@replace": opts}), p.clone());
        assert_eq!(
            r(json!({"pattern": "a", "replacement": "x", "value": {"@path": "t"}})).unwrap(),
            Some(json!("x-b-A"))
        );
        assert_eq!(r(json!({"pattern": "a", "replacement": "x", "ignorecase": true, "value": {"@path": "t"}})).unwrap(), Some(json!("x-b-x")));
        assert_eq!(r(json!({"pattern": "a", "replacement": "x", "global": false, "ignorecase": true, "value": {"@path": "t"}})).unwrap(), Some(json!("x-b-A")));
        assert_eq!(
            r(json!({"pattern": ".", "replacement": ",", "value": {"@path": "n"}})).unwrap(),
            Some(json!("1,5"))
        );
        assert_eq!(
            r(json!({"pattern": "x", "value": {"@path": "o"}})).unwrap(),
            Some(json!(""))
        );
        assert_eq!(r(json!({"pattern": "-", "pattern2": "b", "replacement": "", "replacement2": "B", "value": {"@path": "t"}})).unwrap(), Some(json!("aBA")));
    }

    #[test]
    fn array_path_directive() {
        let p = json!({"items": [{"id": 1}, {"id": 2}], "one": {"id": 3}, "s": "x"});
        let m = |root: &str| json!({"@arrayPath": [root, {"k": {"@path": "$.id"}}]});
        assert_eq!(
            eval(m("$.items"), p.clone()).unwrap(),
            Some(json!([{"k": 1}, {"k": 2}]))
        );
        assert_eq!(
            eval(m("$.one"), p.clone()).unwrap(),
            Some(json!([{"k": 3}]))
        );
        assert_eq!(eval(m("$.s"), p.clone()).unwrap(), Some(json!("x")));
        assert_eq!(
            eval(json!({"@arrayPath": ["$.items"]}), p).unwrap(),
            Some(json!([{"id": 1}, {"id": 2}]))
        );
    }

    #[test]
    fn json_directive() {
        let p = json!({"o": {"b": 1.0, "a": [1e21]}, "s": "{\"x\":1}", "bad": "nope"});
        let j = |mode: &str, path: &str| json!({"@json": {"mode": mode, "value": {"@path": path}}});
        assert_eq!(
            eval(j("encode", "o"), p.clone()).unwrap(),
            Some(json!("{\"b\":1,\"a\":[1e+21]}"))
        );
        assert_eq!(
            eval(j("decode", "s"), p.clone()).unwrap(),
            Some(json!({"x": 1}))
        );
        assert_eq!(
            eval(j("decode", "bad"), p.clone()).unwrap(),
            Some(json!("nope"))
        );
        assert_eq!(eval(j("ENCODE", "o"), p.clone()).unwrap(), None);
        assert_eq!(eval(j("encode", "missing"), p).unwrap(), None);
    }

    #[test]
    fn flatten_directive() {
        let p = json!({"o": {"a": {"b": 1}, "c": [{"d": 2}]}, "n": 5});
        let f = |omit: bool, path: &str| json!({"@flatten": {"separator": "_", "omitArrays": omit, "value": {"@path": path}}});
        assert_eq!(
            eval(f(false, "o"), p.clone()).unwrap(),
            Some(json!({"a_b": 1, "c_0_d": 2}))
        );
        assert_eq!(
            eval(f(true, "o"), p.clone()).unwrap(),
            Some(json!({"a_b": 1, "c": [{"d": 2}]}))
        );
        assert_eq!(eval(f(false, "n"), p).unwrap(), Some(json!({"": 5})));
    }

    #[test]
    fn merge_directive() {
        let p = json!({"o": {"a": 2, "b": 3}});
        let m = |dir: &str| json!({"@merge": {"direction": dir, "objects": [{"a": 1, "c": 1}, {"@path": "o"}, {"c": {"@path": "$.missing"}}]}});
        assert_eq!(
            eval(m("right"), p.clone()).unwrap(),
            Some(json!({"a": 2, "b": 3}))
        );
        assert_eq!(
            eval(m("left"), p.clone()).unwrap(),
            Some(json!({"a": 1, "b": 3, "c": 1}))
        );
        assert_eq!(
            eval(
                json!({"@merge": {"direction": "right", "objects": [{"@literal": "ab"}]}}),
                p
            )
            .unwrap(),
            Some(json!({"0": "a", "1": "b"}))
        );
    }

    #[test]
    fn transform_and_exclude_when_null_directives() {
        let p = json!({"props": {"a": {"b": 1}, "n": null}});
        let m = json!({"@transform": {
            "apply": {"flat": {"@flatten": {"separator": ".", "value": {"@path": "props"}}}},
            "mapping": {"x": {"@path": "$.flat"}}
        }});
        assert_eq!(
            eval(m, p.clone()).unwrap(),
            Some(json!({"x": {"a.b": 1, "n": null}}))
        );
        assert_eq!(
            eval(json!({"v": {"@excludeWhenNull": {"@path": "props"}}, "w": {"@excludeWhenNull": {"@path": "props.n"}}}), p).unwrap(),
            Some(json!({"v": {"a": {"b": 1}}}))
        );
    }

    #[test]
    fn unvalidated_array_items_fail_at_run_time() {
        let err = eval(json!({"a": [{"@oops": 1}]}), json!({})).unwrap_err();
        assert_eq!(err.class(), "Error");
        assert_eq!(
            err.message(),
            "@oops is not a valid directive, got undefined"
        );
        assert_eq!(
            eval(json!({"a": [{"@path": "$.x"}]}), json!({})).unwrap(),
            Some(json!({"a": [null]}))
        );
    }

    #[test]
    fn root_directive_receives_other_keys() {
        let m = json!({
            "__segment_internal_directive": {"@transform": {"apply": {"t": {"@path": "$.a"}}}},
            "out": {"@path": "$.t"}
        });
        assert_eq!(eval(m, json!({"a": 7})).unwrap(), Some(json!({"out": 7})));
        let err = eval(
            json!({"__segment_internal_directive": {"@a": {}, "@b": {}}}),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "The root mapping must only have a single directive object"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut m = json!({"@path": "$.a"});
        for _ in 0..(MAX_DEPTH + 10) {
            m = json!({"k": m});
        }
        let err = Mapping::compile(&m).unwrap_err();
        assert_eq!(err.class(), "ValidationError");
        assert!(err.issues()[0].pointer().starts_with("/k/k/k"));
        assert!(err.message().contains("nested too deeply"));
    }

    #[test]
    fn batch() {
        let out = transform_batch(&json!({"@path": "$.a"}), &json!([{"a": 1}, {}, 5])).unwrap();
        assert_eq!(out, vec![json!(1), Value::Null, Value::Null]);
        assert_eq!(
            transform_batch(&json!({}), &json!({}))
                .unwrap_err()
                .message(),
            "data must be an array, got object"
        );
    }
}
