//! The evaluation tree: a mapping compiled once, evaluated many times.
//!
//! Compilation mirrors the reference's `resolve` exactly: every check a directive makes on its
//! own options (which depend only on the mapping) is made once here and, when it fails, becomes
//! a [`Node::Fail`] that raises the reference's error when (and only when) that part of the
//! mapping is evaluated. This matters because arrays inside a mapping are not validated, so an
//! invalid directive there fails at run time, and only if it is reached.

use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::error::MappingError;
use super::js::{
    self, MAX_VALUE_DEPTH, loose_ne_empty_string, number_to_string, stringify_r, truthy,
    truthy_opt, type_name_opt, typeof_name, utf16_units,
};
use super::liquid::LiquidTemplate;
use super::path::{Got, ParsedPath, get, parse_path, same_key, strip_dollar};
use super::replace::{Literal, perform_replace};
use super::template::Template;
use super::value::R;

/// A compiled mapping node.
#[derive(Debug)]
pub(crate) enum Node {
    /// A value without directives (returned as a copy).
    Const(Value),
    /// Always `undefined`.
    Undef,
    /// An object whose members are resolved one by one.
    Obj(Box<ObjNode>),
    /// An array whose items are resolved one by one.
    Arr(Vec<Node>),
    /// A check that failed at compile time; raised when evaluated.
    Fail(MappingError),
    /// `@path`.
    Path(Arg<ParsedPath>),
    /// `@template`.
    Template(Arg<Template>),
    /// `@if`.
    If(Box<IfNode>),
    /// `@case`.
    Case(Box<CaseNode>),
    /// `@replace`.
    Replace(Box<ReplaceNode>),
    /// `@arrayPath`.
    ArrayPath(Box<ArrayPathNode>),
    /// `@json`.
    Json(Box<JsonNode>),
    /// `@flatten`.
    Flatten(Box<FlattenNode>),
    /// `@merge`.
    Merge(Box<MergeNode>),
    /// `@transform`.
    Transform(Box<TransformNode>),
    /// `@excludeWhenNull`.
    ExcludeWhenNull(Box<Node>),
    /// `@liquid`.
    Liquid(Box<LiquidTemplate>),
}

/// Objects with more members than this are built by inserting each member (the bit sets that
/// track undefined members hold 64).
const MAX_SHAPED_MEMBERS: usize = 64;

/// Objects with at most this many members resolve them on the stack first, so that the output
/// can be cloned from a shape that already lacks the undefined ones.
const STACK_MEMBERS: usize = 16;

/// An object of the mapping with at least one directive among its members.
#[derive(Debug)]
pub(crate) struct ObjNode {
    members: Vec<(String, Node)>,
    /// The output object with every member present: constants in place, `null` for the rest.
    /// Cloning it per evaluation copies the keys' hash index instead of hashing every key
    /// again (`serde_json` maps are `IndexMap`s with SipHash).
    shape: Map<String, Value>,
    /// The shape without the members that the first evaluation to meet undefined members
    /// found undefined, with their bit set (events from one source usually lack the same
    /// fields): such outputs are cloned from it instead of removing members afterwards.
    partial: OnceLock<(u64, Map<String, Value>)>,
}

/// The argument of a string directive: known at compile time, or produced by a directive.
#[derive(Debug)]
pub(crate) enum Arg<T> {
    Static(T),
    Dynamic(Box<Node>),
}

#[derive(Debug)]
pub(crate) enum Cond {
    Exists(Node),
    Blank(Node),
}

#[derive(Debug)]
pub(crate) struct IfNode {
    cond: Cond,
    then: Option<Node>,
    otherwise: Option<Node>,
    /// `exists` and `then` are the same static `@path`: the value found by the condition is
    /// the result (one lookup instead of two).
    then_is_cond: bool,
}

/// What an `@if` resolves to.
enum Choice<'a> {
    /// Evaluate this branch.
    Node(&'a Node),
    /// The value the condition found (`then` is the same path).
    Found(Got<'a>),
    /// `undefined`.
    Nothing,
}

#[derive(Debug)]
pub(crate) enum CaseOp {
    Lower,
    Upper,
    Other,
}

#[derive(Debug)]
pub(crate) struct CaseNode {
    op: CaseOp,
    value: Node,
}

#[derive(Debug)]
pub(crate) struct ReplaceNode {
    value: Node,
    pattern: Option<Literal>,
    replacement: Option<String>,
    ignore_case: Option<bool>,
    global: Option<bool>,
    second: Option<(Literal, Option<String>)>,
}

#[derive(Debug)]
pub(crate) enum Root {
    Path(ParsedPath),
    Node(Node),
}

#[derive(Debug)]
pub(crate) struct ArrayPathNode {
    root: Root,
    shape: Option<Node>,
}

#[derive(Debug)]
pub(crate) enum JsonMode {
    Encode,
    Decode,
    Other,
}

#[derive(Debug)]
pub(crate) struct JsonNode {
    mode: JsonMode,
    value: Node,
}

#[derive(Debug)]
pub(crate) struct FlattenNode {
    separator: Node,
    value: Node,
    omit_arrays: bool,
}

#[derive(Debug)]
pub(crate) struct MergeNode {
    direction: Node,
    objects: Result<Vec<Node>, MappingError>,
}

#[derive(Debug)]
pub(crate) struct TransformNode {
    apply: Result<Node, MappingError>,
    mapping: Node,
}

fn fail(message: impl Into<String>) -> Node {
    Node::Fail(MappingError::runtime(message))
}

/// The reference's run-time `isDirective`: an object with an `@` key whose other keys are all
/// `@` keys or `_metadata`.
pub(crate) fn is_directive(map: &Map<String, Value>) -> bool {
    map.keys().any(|k| k.starts_with('@'))
        && map.keys().all(|k| k.starts_with('@') || k == "_metadata")
}

/// Compiles a (validated or not) mapping value into a node, mirroring `resolve`.
pub(crate) fn compile(v: &Value) -> Node {
    match v {
        Value::Object(map) if is_directive(map) => compile_directive(map),
        Value::Object(map) => {
            let members: Vec<(String, Node)> =
                map.iter().map(|(k, v)| (k.clone(), compile(v))).collect();
            if members.iter().all(|(_, n)| matches!(n, Node::Const(_))) {
                Node::Const(Value::Object(
                    members
                        .into_iter()
                        .filter_map(|(k, n)| match n {
                            Node::Const(v) => Some((k, v)),
                            _ => None,
                        })
                        .collect(),
                ))
            } else {
                let shape = members
                    .iter()
                    .map(|(k, n)| match n {
                        Node::Const(v) => (k.clone(), v.clone()),
                        _ => (k.clone(), Value::Null),
                    })
                    .collect();
                Node::Obj(Box::new(ObjNode {
                    members,
                    shape,
                    partial: OnceLock::new(),
                }))
            }
        }
        Value::Array(items) => {
            let nodes: Vec<Node> = items.iter().map(compile).collect();
            if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
                Node::Const(Value::Array(
                    nodes
                        .into_iter()
                        .filter_map(|n| match n {
                            Node::Const(v) => Some(v),
                            _ => None,
                        })
                        .collect(),
                ))
            } else {
                Node::Arr(nodes)
            }
        }
        scalar => Node::Const(scalar.clone()),
    }
}

fn compile_opt(v: Option<&Value>) -> Node {
    v.map_or(Node::Undef, compile)
}

fn compile_directive(map: &Map<String, Value>) -> Node {
    let Some((name, value)) = map.iter().find(|(k, _)| k.starts_with('@')) else {
        return Node::Undef;
    };
    match name.as_str() {
        "@path" => match value {
            Value::String(s) => Node::Path(Arg::Static(parse_path(&strip_dollar(s)))),
            other => Node::Path(Arg::Dynamic(Box::new(compile(other)))),
        },
        "@template" => match value {
            Value::String(s) => Node::Template(Arg::Static(Template::parse(s))),
            other => Node::Template(Arg::Dynamic(Box::new(compile(other)))),
        },
        "@literal" => compile(value),
        "@if" => compile_if(value),
        "@case" => compile_case(value),
        "@replace" => compile_replace(value),
        "@arrayPath" => compile_array_path(value),
        "@json" => compile_json(value),
        "@flatten" => compile_flatten(value),
        "@merge" => compile_merge(value),
        "@transform" => compile_transform(value),
        "@excludeWhenNull" => Node::ExcludeWhenNull(Box::new(compile(value))),
        "@liquid" => super::liquid::compile_liquid(value),
        other => fail(format!("{other} is not a valid directive, got undefined")),
    }
}

fn compile_if(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@if requires an object with an \"exists\" key");
    };
    if !truthy_opt(o.get("exists")) && !truthy_opt(o.get("blank")) {
        return fail("@if requires an \"exists\" key or a \"blank\" key");
    }
    let cond = match o.get("exists") {
        Some(e) => Cond::Exists(compile(e)),
        None => Cond::Blank(compile_opt(o.get("blank"))),
    };
    let then = o.get("then").map(compile);
    let then_is_cond = match (&cond, &then) {
        (Cond::Exists(Node::Path(Arg::Static(a))), Some(Node::Path(Arg::Static(b)))) => a == b,
        _ => false,
    };
    Node::If(Box::new(IfNode {
        cond,
        then,
        otherwise: o.get("else").filter(|e| truthy(e)).map(compile),
        then_is_cond,
    }))
}

fn compile_case(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@case requires an object with a \"operator\" key");
    };
    if !truthy_opt(o.get("operator")) {
        return fail("@case requires a \"operator\" key");
    }
    let op = match o.get("operator").and_then(Value::as_str) {
        Some("lower") => CaseOp::Lower,
        Some("upper") => CaseOp::Upper,
        _ => CaseOp::Other,
    };
    match o.get("value") {
        Some(v) if truthy(v) => Node::Case(Box::new(CaseNode {
            op,
            value: compile(v),
        })),
        _ => Node::Undef,
    }
}

fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn compile_replace(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@replace requires an object with a \"pattern\" key");
    };
    if !truthy_opt(o.get("pattern")) {
        return fail("@replace requires a \"pattern\" key");
    }
    let value = match o.get("value") {
        Some(v) if truthy(v) => compile(v),
        _ => return Node::Undef,
    };
    // The reference writes these defaults into the options before reading them.
    let replacement = match non_null(o.get("replacement")) {
        None => Some(String::new()),
        Some(v) => v.as_str().map(str::to_owned),
    };
    let ignore_case = match non_null(o.get("ignorecase")) {
        None => Some(false),
        Some(v) => v.as_bool(),
    };
    let global = match non_null(o.get("global")) {
        None => Some(true),
        Some(v) => v.as_bool(),
    };
    let second = match o.get("pattern2") {
        Some(Value::String(p2)) if !p2.is_empty() => {
            let r2 = match non_null(o.get("replacement2")) {
                None => Some(String::new()),
                Some(v) => v.as_str().map(str::to_owned),
            };
            Some((Literal::new(p2), r2))
        }
        _ => None,
    };
    Node::Replace(Box::new(ReplaceNode {
        value,
        pattern: o.get("pattern").and_then(Value::as_str).map(Literal::new),
        replacement,
        ignore_case,
        global,
        second,
    }))
}

fn compile_array_path(data: &Value) -> Node {
    let Value::Array(items) = data else {
        return fail(format!(
            "@arrayPath expected array, got {}",
            js::type_name(data)
        ));
    };
    let root = match items.first() {
        Some(Value::String(s)) => Root::Path(parse_path(&strip_dollar(s))),
        other => Root::Node(compile_opt(other)),
    };
    let shape = match items.get(1) {
        Some(Value::Object(o)) if !o.is_empty() => Some(compile(&Value::Object(o.clone()))),
        _ => None,
    };
    Node::ArrayPath(Box::new(ArrayPathNode { root, shape }))
}

fn compile_json(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@json requires an object with a \"value\" key");
    };
    if !truthy_opt(o.get("mode")) {
        return fail("@json requires a \"mode\" key");
    }
    let value = match o.get("value") {
        Some(v) if truthy(v) => compile(v),
        _ => return fail("@json requires a \"value\" key"),
    };
    let mode = match o.get("mode").and_then(Value::as_str) {
        Some("encode") => JsonMode::Encode,
        Some("decode") => JsonMode::Decode,
        _ => JsonMode::Other,
    };
    Node::Json(Box::new(JsonNode { mode, value }))
}

fn compile_flatten(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@flatten requires an object with a \"separator\" key");
    };
    let separator = match o.get("separator") {
        Some(s) if truthy(s) => compile(s),
        _ => return fail("@flatten requires a \"separator\" key"),
    };
    Node::Flatten(Box::new(FlattenNode {
        separator,
        value: compile_opt(o.get("value")),
        omit_arrays: truthy_opt(o.get("omitArrays")),
    }))
}

fn compile_merge(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@merge requires an object with an \"objects\" key and a \"direction\" key");
    };
    let direction = match o.get("direction") {
        Some(d) if truthy(d) => compile(d),
        _ => return fail("@merge requires a \"direction\" key"),
    };
    let objects = match o.get("objects") {
        Some(Value::Array(items)) => Ok(items.iter().map(compile).collect()),
        Some(other) if truthy(other) => Err(MappingError::runtime(format!(
            "@merge: expected opts.array, got {}",
            typeof_name(other)
        ))),
        _ => Err(MappingError::runtime("@merge requires a \"objects\" key")),
    };
    Node::Merge(Box::new(MergeNode { direction, objects }))
}

fn compile_transform(opts: &Value) -> Node {
    let Value::Object(o) = opts else {
        return fail("@transform requires an object with an \"apply\" key and a \"mapping\" key");
    };
    let mapping = match o.get("mapping") {
        Some(m) if truthy(m) => compile(m),
        _ => return fail("@transform requires a \"mapping\" key"),
    };
    let apply = match o.get("apply") {
        Some(a @ Value::Object(_)) => super::compile_processed(a),
        Some(a) if truthy(a) => return fail("@transform \"apply\" key should be an object"),
        _ => return fail("@transform requires a \"apply\" key"),
    };
    Node::Transform(Box::new(TransformNode { apply, mapping }))
}

fn depth_error() -> MappingError {
    MappingError::runtime("value nesting is too deep")
}

impl Node {
    /// Resolves the node; `None` is `undefined`. Containers come out as the reference's
    /// `removeUndefined` leaves them.
    pub(crate) fn eval(&self, p: Option<&Value>) -> Result<Option<Value>, MappingError> {
        Ok(match self {
            Node::Const(v) => Some(v.clone()),
            Node::Undef => None,
            Node::Obj(o) => Some(Value::Object(o.eval_map(p)?)),
            Node::Arr(items) => {
                let mut out = Vec::with_capacity(items.len());
                for n in items {
                    out.push(n.eval(p)?.unwrap_or(Value::Null));
                }
                Some(Value::Array(out))
            }
            Node::Fail(e) => return Err(e.clone()),
            Node::Path(Arg::Static(path)) => get(p, path).into_owned(),
            Node::Path(Arg::Dynamic(n)) => match n.eval(p)? {
                Some(Value::String(s)) => get(p, &parse_path(&strip_dollar(&s))).into_owned(),
                other => {
                    return Err(MappingError::runtime(format!(
                        "@path: expected string, got {}",
                        type_name_opt(other.as_ref())
                    )));
                }
            },
            Node::Template(Arg::Static(t)) => Some(Value::String(t.render(p)?)),
            Node::Template(Arg::Dynamic(n)) => match n.eval(p)? {
                Some(Value::String(s)) => Some(Value::String(super::template::render(&s, p)?)),
                other => {
                    return Err(MappingError::runtime(format!(
                        "@template: expected string, got {}",
                        type_name_opt(other.as_ref())
                    )));
                }
            },
            Node::If(n) => match n.choose(p)? {
                Choice::Node(b) => b.eval(p)?,
                Choice::Found(v) => v.into_owned(),
                Choice::Nothing => None,
            },
            Node::Case(n) => match n.value.eval_got(p)? {
                Got::Ref(Value::String(s)) => Some(Value::String(n.apply(s)?)),
                Got::Own(Value::String(s)) => Some(Value::String(n.apply(&s)?)),
                other => other.into_owned(),
            },
            Node::Replace(n) => Some(Value::String(n.eval(p)?)),
            Node::ArrayPath(n) => match (&n.root, &n.shape) {
                (Root::Path(path), Some(shape)) => {
                    let root = get(p, path);
                    match root.as_ref() {
                        Some(Value::Array(items)) => {
                            let mut out = Vec::with_capacity(items.len());
                            for item in items {
                                out.push(shape.eval(Some(item))?.unwrap_or(Value::Null));
                            }
                            Some(Value::Array(out))
                        }
                        Some(obj @ Value::Object(_)) => Some(Value::Array(vec![
                            shape.eval(Some(obj))?.unwrap_or(Value::Null),
                        ])),
                        _ => root.into_owned(),
                    }
                }
                _ => self.eval_r(p)?.into_opt(),
            },
            Node::Json(n) => {
                let v = n.value.eval_got(p)?;
                match n.mode {
                    JsonMode::Encode => match v.as_ref() {
                        None => None,
                        Some(v) => {
                            let mut out = String::new();
                            js::stringify_value(v, &mut out, 0)?;
                            Some(Value::String(out))
                        }
                    },
                    JsonMode::Decode => match v.as_ref() {
                        Some(Value::String(s)) => match serde_json::from_str(s) {
                            Ok(decoded) => Some(decoded),
                            Err(_) => v.into_owned(),
                        },
                        _ => v.into_owned(),
                    },
                    JsonMode::Other => None,
                }
            }
            Node::Flatten(_) | Node::Merge(_) => self.eval_r(p)?.into_opt(),
            Node::Transform(n) => {
                let new_payload = n.apply_to(p)?;
                n.mapping.eval(new_payload.as_ref())?
            }
            Node::ExcludeWhenNull(inner) => match inner.eval(p)? {
                Some(Value::Null) => None,
                Some(v) => Some(clean_nulls_value(v, 0)?),
                None => None,
            },
            Node::Liquid(t) => Some(Value::String(t.render(p)?)),
        })
    }

    /// Resolves the node keeping `undefined` members and items (for `@merge`, `@flatten`,
    /// `@arrayPath` and friends, where they change the result).
    pub(crate) fn eval_r(&self, p: Option<&Value>) -> Result<R, MappingError> {
        Ok(match self {
            Node::Obj(o) => {
                let mut map = IndexMap::with_capacity(o.members.len());
                for (k, n) in &o.members {
                    map.insert(k.clone(), n.eval_r(p)?);
                }
                R::Obj(map)
            }
            Node::Arr(items) => {
                let mut out = Vec::with_capacity(items.len());
                for n in items {
                    out.push(n.eval_r(p)?);
                }
                R::Arr(out)
            }
            Node::If(n) => match n.choose(p)? {
                Choice::Node(b) => b.eval_r(p)?,
                Choice::Found(v) => R::from_opt(v.into_owned()),
                Choice::Nothing => R::Undef,
            },
            Node::Case(n) => match n.value.eval_r(p)? {
                R::V(Value::String(s)) => R::V(Value::String(n.apply(&s)?)),
                other => other,
            },
            Node::ArrayPath(n) => n.eval_r(p)?,
            Node::Json(n) if matches!(n.mode, JsonMode::Decode) => match n.value.eval_r(p)? {
                R::V(Value::String(s)) => {
                    R::V(serde_json::from_str(&s).unwrap_or(Value::String(s)))
                }
                other => other,
            },
            Node::Json(n) if matches!(n.mode, JsonMode::Encode) => {
                let v = n.value.eval_r(p)?;
                R::from_opt(stringify_r(&v)?.map(Value::String))
            }
            Node::Flatten(n) => {
                let sep = match n.separator.eval(p)? {
                    Some(Value::String(s)) => s,
                    _ => {
                        return Err(MappingError::runtime(
                            "@flatten requires a string separator",
                        ));
                    }
                };
                let value = n.value.eval_r(p)?;
                let mut out = IndexMap::new();
                flatten_into(value, String::new(), &sep, n.omit_arrays, &mut out, 0)?;
                R::Obj(out)
            }
            Node::Merge(n) => {
                let direction = n.direction.eval(p)?;
                let objects = match &n.objects {
                    Ok(objects) => objects,
                    Err(e) => return Err(e.clone()),
                };
                let mut resolved = Vec::with_capacity(objects.len());
                for o in objects {
                    resolved.push(o.eval_r(p)?);
                }
                if direction.as_ref().and_then(Value::as_str) == Some("left") {
                    resolved.reverse();
                }
                let mut out = IndexMap::new();
                for src in resolved {
                    assign(&mut out, src);
                }
                R::Obj(out)
            }
            Node::Transform(n) => {
                let new_payload = n.apply_to(p)?;
                n.mapping.eval_r(new_payload.as_ref())?
            }
            Node::ExcludeWhenNull(inner) => match inner.eval_r(p)? {
                R::V(Value::Null) => R::Undef,
                other => clean_nulls_r(other, 0)?,
            },
            other => R::from_opt(other.eval(p)?),
        })
    }
}

impl Node {
    /// Resolves the node, borrowing from the event (or the mapping) when the result is a part
    /// of it: `@path` and constants are not copied.
    fn eval_got<'a>(&'a self, p: Option<&'a Value>) -> Result<Got<'a>, MappingError> {
        Ok(match self {
            Node::Path(Arg::Static(path)) => get(p, path),
            Node::Const(v) => Got::Ref(v),
            Node::Undef => Got::Undef,
            other => other.eval(p)?.map_or(Got::Undef, Got::Own),
        })
    }

    /// Resolves the node into `out`, reusing the allocations of what `out` holds (strings,
    /// arrays, and objects that have the members this node produces, in order). Returns
    /// `false` for `undefined`, in which case `out` holds leftovers the caller discards.
    /// Gives exactly what [`eval`](Self::eval) gives, whatever `out` held before.
    pub(crate) fn eval_into(
        &self,
        p: Option<&Value>,
        out: &mut Value,
    ) -> Result<bool, MappingError> {
        // The common nodes here; the others in a separate function keep this one's frame small.
        match self {
            Node::Path(Arg::Static(path)) => Ok(put(out, get(p, path))),
            Node::Const(v) => {
                clone_into_reusing(out, v, 0);
                Ok(true)
            }
            Node::Obj(o) => {
                o.eval_into(p, out)?;
                Ok(true)
            }
            _ => self.eval_into_other(p, out),
        }
    }

    #[inline(never)]
    fn eval_into_other(&self, p: Option<&Value>, out: &mut Value) -> Result<bool, MappingError> {
        match self {
            Node::Undef => Ok(false),
            Node::Arr(items) => {
                fill_array(out, items.len(), |i, slot| match items.get(i) {
                    Some(n) => n.eval_into(p, slot),
                    None => Ok(false),
                })?;
                Ok(true)
            }
            Node::Template(Arg::Static(t)) => {
                if let Value::String(s) = out {
                    t.render_into(p, s)?;
                } else {
                    *out = Value::String(t.render(p)?);
                }
                Ok(true)
            }
            Node::If(n) => match n.choose(p)? {
                Choice::Node(b) => b.eval_into(p, out),
                Choice::Found(v) => Ok(put(out, v)),
                Choice::Nothing => Ok(false),
            },
            Node::ArrayPath(n) => match (&n.root, &n.shape) {
                (Root::Path(path), Some(shape)) => {
                    let root = get(p, path);
                    let items: &[Value] = match root.as_ref() {
                        Some(Value::Array(items)) => items,
                        Some(obj @ Value::Object(_)) => std::slice::from_ref(obj),
                        _ => return Ok(put(out, root)),
                    };
                    fill_array(out, items.len(), |i, slot| match items.get(i) {
                        Some(item) => shape.eval_into(Some(item), slot),
                        None => Ok(false),
                    })?;
                    Ok(true)
                }
                _ => Ok(replace_with(out, self.eval(p)?)),
            },
            _ => Ok(replace_with(out, self.eval(p)?)),
        }
    }
}

impl ObjNode {
    /// The output object: the members resolved, the `undefined` ones left out.
    fn eval_map(&self, p: Option<&Value>) -> Result<Map<String, Value>, MappingError> {
        match self.members.len() {
            0..=8 => self.eval_map_stack::<8>(p),
            9..=STACK_MEMBERS => self.eval_map_stack::<STACK_MEMBERS>(p),
            _ => self.eval_map_large(p),
        }
    }

    /// [`eval_map`](Self::eval_map) for at most `N` members, resolved into an array first.
    fn eval_map_stack<const N: usize>(
        &self,
        p: Option<&Value>,
    ) -> Result<Map<String, Value>, MappingError> {
        let mut values: [Option<Value>; N] = std::array::from_fn(|_| None);
        let mut undefined = 0u64;
        for (i, ((_, n), value)) in self.members.iter().zip(values.iter_mut()).enumerate() {
            match n {
                // Already in the shape.
                Node::Const(_) => {}
                n => match n.eval(p)? {
                    Some(v) => *value = Some(v),
                    None => undefined |= 1 << i,
                },
            }
        }
        let mut map = if undefined == 0 {
            self.shape.clone()
        } else {
            let (mask, partial) = self.partial.get_or_init(|| {
                let mut partial = self.shape.clone();
                remove_positions(&mut partial, undefined);
                (undefined, partial)
            });
            if *mask == undefined {
                partial.clone()
            } else {
                let mut map = self.shape.clone();
                remove_positions(&mut map, undefined);
                map
            }
        };
        // `map` holds exactly the defined members, in order.
        let defined = values
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| undefined & (1u64 << i) == 0);
        for ((_, slot), (_, value)) in map.iter_mut().zip(defined) {
            if let Some(v) = value.take() {
                *slot = v;
            }
        }
        Ok(map)
    }

    /// [`eval_map`](Self::eval_map) for objects with many members: the shape cloned and
    /// filled, the `undefined` members removed (or, past 64 members, each member inserted).
    fn eval_map_large(&self, p: Option<&Value>) -> Result<Map<String, Value>, MappingError> {
        if self.members.len() > MAX_SHAPED_MEMBERS {
            let mut map = Map::with_capacity(self.members.len());
            for (k, n) in &self.members {
                if let Some(v) = n.eval(p)? {
                    map.insert(k.clone(), v);
                }
            }
            return Ok(map);
        }
        let mut map = self.shape.clone();
        let mut undefined = 0u64;
        for (i, ((_, slot), (_, n))) in map.iter_mut().zip(&self.members).enumerate() {
            match n {
                Node::Const(_) => {}
                n => match n.eval(p)? {
                    Some(v) => *slot = v,
                    None => undefined |= 1 << i,
                },
            }
        }
        remove_positions(&mut map, undefined);
        Ok(map)
    }

    /// [`Node::eval_into`] for an object: members resolved in place when `out` is an object
    /// with the members this node produced last time (in order), else a new object.
    fn eval_into(&self, p: Option<&Value>, out: &mut Value) -> Result<(), MappingError> {
        if self.members.len() <= MAX_SHAPED_MEMBERS
            && let Value::Object(map) = out
            && self.fill_in_place(p, map)?
        {
            return Ok(());
        }
        *out = Value::Object(self.eval_map(p)?);
        Ok(())
    }

    /// Resolves the members into the entries of `map` that have their keys. `false` when the
    /// keys of `map` are not the defined members in order (then `map` must be rebuilt).
    fn fill_in_place(
        &self,
        p: Option<&Value>,
        map: &mut Map<String, Value>,
    ) -> Result<bool, MappingError> {
        let mut undefined = 0u64;
        {
            let mut entries = map.iter_mut();
            let mut cur = entries.next();
            let mut pos = 0usize;
            for (key, n) in &self.members {
                match cur.take() {
                    Some((k, slot)) if same_key(k, key) => {
                        if !n.eval_into(p, slot)? {
                            undefined |= 1 << pos;
                        }
                        pos += 1;
                        cur = entries.next();
                    }
                    other => {
                        // Absent last time: fine as long as it is still `undefined`.
                        cur = other;
                        if n.eval_got(p)?.as_ref().is_some() {
                            return Ok(false);
                        }
                    }
                }
            }
            if cur.is_some() {
                return Ok(false);
            }
        }
        remove_positions(map, undefined);
        Ok(true)
    }
}

/// Removes the entries at the positions set in `mask` (keeping the order of the others).
fn remove_positions(map: &mut Map<String, Value>, mask: u64) {
    if mask == 0 {
        return;
    }
    let mut i = 0u32;
    map.retain(|_, _| {
        let keep = mask & (1u64 << i) == 0;
        i += 1;
        keep
    });
}

/// Makes `out` an array of `len` items, item `i` resolved in place by `resolve` (`undefined`
/// → `null`, as `removeUndefined` does for array items), reusing the array `out` holds.
fn fill_array(
    out: &mut Value,
    len: usize,
    mut resolve: impl FnMut(usize, &mut Value) -> Result<bool, MappingError>,
) -> Result<(), MappingError> {
    if !out.is_array() {
        *out = Value::Array(Vec::with_capacity(len));
    }
    let Value::Array(vec) = out else {
        return Ok(());
    };
    vec.truncate(len);
    for i in 0..len {
        if vec.len() <= i {
            vec.push(Value::Null);
        }
        if let Some(slot) = vec.get_mut(i)
            && !resolve(i, slot)?
        {
            *slot = Value::Null;
        }
    }
    Ok(())
}

/// Stores a lookup's result in `out`; `false` for `undefined`.
fn put(out: &mut Value, got: Got<'_>) -> bool {
    match got {
        Got::Undef => false,
        Got::Ref(v) => {
            clone_into_reusing(out, v, 0);
            true
        }
        Got::Own(v) => {
            *out = v;
            true
        }
    }
}

/// Stores a resolved value in `out`; `false` for `undefined`.
fn replace_with(out: &mut Value, v: Option<Value>) -> bool {
    match v {
        Some(v) => {
            *out = v;
            true
        }
        None => false,
    }
}

/// `*dst = src.clone()`, reusing the strings, arrays and same-keyed objects `dst` holds.
#[inline]
fn clone_into_reusing(dst: &mut Value, src: &Value, depth: usize) {
    match src {
        Value::String(s) => {
            if let Value::String(d) = dst {
                d.clear();
                d.push_str(s);
            } else {
                *dst = Value::String(s.clone());
            }
        }
        Value::Number(n) => {
            if let Value::Number(d) = dst {
                d.clone_from(n);
            } else {
                *dst = Value::Number(n.clone());
            }
        }
        Value::Bool(b) => {
            if let Value::Bool(d) = dst {
                *d = *b;
            } else {
                *dst = Value::Bool(*b);
            }
        }
        Value::Null => {
            if !dst.is_null() {
                *dst = Value::Null;
            }
        }
        Value::Array(_) | Value::Object(_) => clone_container_into(dst, src, depth),
    }
}

/// [`clone_into_reusing`] for arrays and objects.
#[inline(never)]
fn clone_container_into(dst: &mut Value, src: &Value, depth: usize) {
    match (dst, src) {
        (Value::Array(d), Value::Array(s)) if depth < MAX_VALUE_DEPTH => {
            d.truncate(s.len());
            for (i, item) in s.iter().enumerate() {
                match d.get_mut(i) {
                    Some(slot) => clone_into_reusing(slot, item, depth + 1),
                    None => d.push(item.clone()),
                }
            }
        }
        (Value::Object(d), Value::Object(s))
            if depth < MAX_VALUE_DEPTH
                && d.len() == s.len()
                && d.keys().zip(s.keys()).all(|(a, b)| same_key(a, b)) =>
        {
            for ((_, dv), sv) in d.iter_mut().zip(s.values()) {
                clone_into_reusing(dv, sv, depth + 1);
            }
        }
        (dst, src) => *dst = src.clone(),
    }
}

impl IfNode {
    /// The branch to take, or the value found when `then` is the condition's own path.
    fn choose<'a>(&'a self, p: Option<&'a Value>) -> Result<Choice<'a>, MappingError> {
        let condition = match &self.cond {
            Cond::Exists(n) => {
                let found = n.eval_got(p)?;
                let exists = found.as_ref().is_some_and(|v| !v.is_null());
                if exists && self.then_is_cond {
                    return Ok(Choice::Found(found));
                }
                exists
            }
            Cond::Blank(n) => {
                let v = R::from_opt(n.eval_got(p)?.into_owned());
                !v.is_nullish() && loose_ne_empty_string(&v)?
            }
        };
        let branch = if condition {
            self.then.as_ref()
        } else {
            self.otherwise.as_ref()
        };
        Ok(branch.map_or(Choice::Nothing, Choice::Node))
    }
}

impl CaseNode {
    fn apply(&self, s: &str) -> Result<String, MappingError> {
        match self.op {
            CaseOp::Lower => Ok(s.to_lowercase()),
            CaseOp::Upper => Ok(s.to_uppercase()),
            CaseOp::Other => Err(MappingError::runtime(
                "operator key should have a value of \"lower\" or \"upper\"",
            )),
        }
    }
}

impl ReplaceNode {
    fn eval(&self, p: Option<&Value>) -> Result<String, MappingError> {
        let got = self.value.eval_got(p)?;
        let value: Option<std::borrow::Cow<'_, str>> = match got.as_ref() {
            Some(Value::Bool(b)) => Some(if *b { "true" } else { "false" }.into()),
            Some(Value::Number(n)) => Some(number_to_string(n).into()),
            Some(Value::String(s)) => Some(s.as_str().into()),
            _ => None,
        };
        let (Some(value), Some(pattern), Some(replacement), Some(ignore_case), Some(global)) = (
            value,
            &self.pattern,
            &self.replacement,
            self.ignore_case,
            self.global,
        ) else {
            return Ok(String::new());
        };
        let mut out = perform_replace(&value, pattern, replacement, global, ignore_case)?;
        if let Some((p2, Some(r2))) = &self.second {
            out = perform_replace(&out, p2, r2, global, ignore_case)?;
        }
        Ok(out)
    }
}

impl ArrayPathNode {
    fn eval_r(&self, p: Option<&Value>) -> Result<R, MappingError> {
        match &self.root {
            Root::Path(path) => {
                let root = get(p, path);
                match (&self.shape, root.as_ref()) {
                    (Some(shape), Some(Value::Array(items))) => {
                        let mut out = Vec::with_capacity(items.len());
                        for item in items {
                            out.push(shape.eval_r(Some(item))?);
                        }
                        Ok(R::Arr(out))
                    }
                    (Some(shape), Some(obj @ Value::Object(_))) => {
                        Ok(R::Arr(vec![shape.eval_r(Some(obj))?]))
                    }
                    _ => Ok(R::from_opt(root.into_owned())),
                }
            }
            Root::Node(n) => {
                let root = n.eval_r(p)?;
                let Some(shape) = &self.shape else {
                    return Ok(root);
                };
                let items: Vec<R> = match root {
                    R::Arr(items) => items,
                    R::V(Value::Array(items)) => items.into_iter().map(R::V).collect(),
                    obj @ (R::Obj(_) | R::V(Value::Object(_))) => vec![obj],
                    other => return Ok(other),
                };
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let item = item.into_opt();
                    out.push(shape.eval_r(item.as_ref())?);
                }
                Ok(R::Arr(out))
            }
        }
    }
}

impl TransformNode {
    /// `transform(apply, payload)`: the intermediate event.
    fn apply_to(&self, p: Option<&Value>) -> Result<Option<Value>, MappingError> {
        if !matches!(p, Some(Value::Object(_))) {
            return Err(MappingError::runtime(format!(
                "data must be an object, got {}",
                type_name_opt(p)
            )));
        }
        match &self.apply {
            Ok(apply) => apply.eval(p),
            Err(e) => Err(e.clone()),
        }
    }
}

/// `Object.assign(target, src)`.
fn assign(target: &mut IndexMap<String, R>, src: R) {
    match src {
        R::Obj(map) => {
            for (k, v) in map {
                target.insert(k, v);
            }
        }
        R::Arr(items) => {
            for (i, v) in items.into_iter().enumerate() {
                target.insert(i.to_string(), v);
            }
        }
        R::V(Value::Object(map)) => {
            for (k, v) in map {
                target.insert(k, R::V(v));
            }
        }
        R::V(Value::Array(items)) => {
            for (i, v) in items.into_iter().enumerate() {
                target.insert(i.to_string(), R::V(v));
            }
        }
        R::V(Value::String(s)) => {
            for (i, unit) in utf16_units(&s).into_iter().enumerate() {
                target.insert(i.to_string(), R::V(Value::String(unit)));
            }
        }
        R::Undef | R::V(_) => {}
    }
}

/// `flattenObject(input, prefix, separator, ignoreArrays)`, accumulated into `out`.
fn flatten_into(
    input: R,
    prefix: String,
    sep: &str,
    ignore_arrays: bool,
    out: &mut IndexMap<String, R>,
    depth: usize,
) -> Result<(), MappingError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(depth_error());
    }
    let descend = match &input {
        R::Obj(_) | R::V(Value::Object(_)) => true,
        R::Arr(_) | R::V(Value::Array(_)) => !ignore_arrays,
        _ => false,
    };
    if !descend {
        out.insert(prefix, input);
        return Ok(());
    }
    for (k, v) in input.into_entries().unwrap_or_default() {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}{sep}{k}")
        };
        flatten_into(v, key, sep, ignore_arrays, out, depth + 1)?;
    }
    Ok(())
}

/// `cleanNulls` on a plain value: `null` members are removed, nested objects cleaned, arrays
/// left alone.
fn clean_nulls_value(v: Value, depth: usize) -> Result<Value, MappingError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(depth_error());
    }
    match v {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                match v {
                    Value::Null => {}
                    obj @ Value::Object(_) => {
                        out.insert(k, clean_nulls_value(obj, depth + 1)?);
                    }
                    other => {
                        out.insert(k, other);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        other => Ok(other),
    }
}

/// `cleanNulls` on a resolved value (keeps `undefined` members, which `@merge` may need).
fn clean_nulls_r(v: R, depth: usize) -> Result<R, MappingError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(depth_error());
    }
    let entries = match v {
        R::Obj(map) => map.into_iter().collect::<Vec<_>>(),
        R::V(Value::Object(map)) => map.into_iter().map(|(k, v)| (k, R::V(v))).collect(),
        other => return Ok(other),
    };
    let mut out = IndexMap::with_capacity(entries.len());
    for (k, v) in entries {
        let cleaned = match v {
            R::V(Value::Null) => R::Undef,
            obj @ (R::Obj(_) | R::V(Value::Object(_))) => clean_nulls_r(obj, depth + 1)?,
            other => other,
        };
        out.insert(k, cleaned);
    }
    Ok(R::Obj(out))
}
