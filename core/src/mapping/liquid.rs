//! `@liquid`: Liquid templates (the `liquid` crates), restricted and adapted to behave as the
//! reference (liquidjs) does.
//!
//! * The language is built once ([`OnceLock`]); each template is parsed at compile time.
//! * Templates longer than 1000 UTF-16 units are refused; `""` renders `""`.
//! * Disabled tags (`case`, `for`, `include`, `layout`, `render`, `tablerow`) fail at parse time
//!   with `tag "x" is disabled`; disabled filters fail when they run with
//!   `filter "x" is disabled`. Without `for`/`tablerow` nothing can loop, so rendering is bounded
//!   by the template's size.
//! * The event is read in place (no copy) through a view that follows liquidjs: numbers print as
//!   JavaScript prints them, objects as `[object Object]`, arrays concatenated, `null` as
//!   nothing; a missing variable is `nil` (liquidjs is not strict), unknown filters return
//!   their input, `size` counts UTF-16 units.
//! * Arithmetic filters follow liquidjs (`toNumber`, float division, `Infinity`), and `json`,
//!   `sum`, `date` (UTC), `default` and `echo` are provided as liquidjs has them.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use liquid_core::model::{
    ArrayView, KString, KStringCow, ObjectView, ScalarCow, State, Value as LValue, ValueCow,
    ValueView,
};
use liquid_core::parser::{FilterArguments, FilterReflection, ParameterReflection, ParseFilter};
use liquid_core::runtime::{PartialStore, Registers, RuntimeBuilder};
use liquid_core::{
    Error as LError, Expression, Filter, Language, ParseTag, Renderable, Runtime, TagReflection,
    TagTokenIter,
};
use serde_json::Value;

use super::error::MappingError;
use super::js::{self, js_number_to_string, number_f64, utf16_len};
use super::node::Node;

/// Longest template accepted (UTF-16 code units).
const MAX_TEMPLATE_LENGTH: usize = 1000;

const DISABLED_TAGS: [&str; 6] = ["case", "for", "include", "layout", "render", "tablerow"];

const DISABLED_FILTERS: [&str; 20] = [
    "array_to_sentence_string",
    "concat",
    "find",
    "find_exp",
    "find_index",
    "find_index_exp",
    "group_by",
    "group_by_exp",
    "has",
    "has_exp",
    "map",
    "newline_to_br",
    "reject",
    "reject_exp",
    "reverse",
    "sort",
    "sort_natural",
    "uniq",
    "where_exp",
    "type",
];

/// How many unknown filters one template may name (each is added as a pass-through).
const MAX_UNKNOWN_FILTERS: usize = 32;

/// A parsed Liquid template.
pub(crate) struct LiquidTemplate {
    template: liquid_core::Template,
}

impl fmt::Debug for LiquidTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiquidTemplate")
    }
}

fn language() -> &'static Language {
    static LANG: OnceLock<Language> = OnceLock::new();
    LANG.get_or_init(build_language)
}

fn build_language() -> Language {
    use liquid_lib::stdlib as s;
    let mut lang = Language::empty();
    let tags: Vec<Box<dyn ParseTag>> = vec![
        Box::new(s::AssignTag),
        Box::new(s::BreakTag),
        Box::new(s::ContinueTag),
        Box::new(s::CycleTag),
        Box::new(s::IncrementTag),
        Box::new(s::DecrementTag),
        Box::new(EchoTag),
    ];
    for tag in tags {
        lang.tags.register(tag.reflection().tag().to_owned(), tag);
    }
    for name in DISABLED_TAGS {
        lang.tags
            .register(name.to_owned(), Box::new(DisabledTag(name)));
    }
    let blocks: Vec<Box<dyn liquid_core::ParseBlock>> = vec![
        Box::new(s::RawBlock),
        Box::new(s::IfBlock),
        Box::new(s::UnlessBlock),
        Box::new(s::IfChangedBlock),
        Box::new(s::CommentBlock),
        Box::new(s::CaptureBlock),
    ];
    for block in blocks {
        lang.blocks
            .register(block.reflection().start_tag().to_owned(), block);
    }
    let filters: Vec<Box<dyn ParseFilter>> = vec![
        Box::new(s::Append),
        Box::new(s::Capitalize),
        Box::new(s::Compact),
        Box::new(s::Downcase),
        Box::new(s::Escape),
        Box::new(s::EscapeOnce),
        Box::new(s::First),
        Box::new(s::Join),
        Box::new(s::Last),
        Box::new(s::Lstrip),
        Box::new(s::Prepend),
        Box::new(s::Remove),
        Box::new(s::RemoveFirst),
        Box::new(s::Replace),
        Box::new(s::ReplaceFirst),
        Box::new(s::Rstrip),
        Box::new(s::Slice),
        Box::new(s::Split),
        Box::new(s::Strip),
        Box::new(s::StripHtml),
        Box::new(s::StripNewlines),
        Box::new(s::Truncate),
        Box::new(s::TruncateWords),
        Box::new(s::Upcase),
        Box::new(s::Where),
    ];
    for f in filters {
        lang.filters.register(f.reflection().name().to_owned(), f);
    }
    for kind in JsKind::ALL {
        let f = JsFilter {
            name: kind.name().to_owned(),
            kind,
        };
        lang.filters.register(f.name.clone(), Box::new(f));
    }
    for name in DISABLED_FILTERS {
        let f = JsFilter {
            name: name.to_owned(),
            kind: JsKind::Disabled,
        };
        lang.filters.register(f.name.clone(), Box::new(f));
    }
    lang
}

/// A Liquid error as one line, without the `liquid: ` prefix.
fn error_text(e: &LError) -> String {
    let text = e.to_string();
    let text = text.strip_prefix("liquid: ").unwrap_or(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The filter named by an "Unknown filter" parse error.
fn unknown_filter_name(e: &LError) -> Option<String> {
    let text = e.to_string();
    if !text.starts_with("liquid: Unknown filter") {
        return None;
    }
    text.lines()
        .find_map(|l| l.trim().strip_prefix("requested filter="))
        .map(str::to_owned)
}

/// Compiles an `@liquid` option into a node.
pub(crate) fn compile_liquid(v: &Value) -> Node {
    let Value::String(text) = v else {
        return Node::Fail(MappingError::runtime(
            "liquid template value must be a string",
        ));
    };
    if text.is_empty() {
        return Node::Const(Value::String(String::new()));
    }
    if utf16_len(text) > MAX_TEMPLATE_LENGTH {
        return Node::Fail(MappingError::runtime(
            "liquid template values are limited to 1000 characters",
        ));
    }
    match parse(text) {
        Ok(template) => Node::Liquid(Box::new(template)),
        Err(e) => Node::Fail(e),
    }
}

fn parse(text: &str) -> Result<LiquidTemplate, MappingError> {
    let base = language();
    let mut extended: Option<Language> = None;
    for _ in 0..=MAX_UNKNOWN_FILTERS {
        let lang = extended.as_ref().unwrap_or(base);
        match liquid_core::parser::parse(text, lang) {
            Ok(elements) => {
                return Ok(LiquidTemplate {
                    template: liquid_core::Template::new(elements),
                });
            }
            Err(e) => {
                // liquidjs lets an unknown filter return its input: add a pass-through for it.
                let Some(name) = unknown_filter_name(&e) else {
                    return Err(MappingError::template(error_text(&e)));
                };
                let lang = extended.get_or_insert_with(|| base.clone());
                lang.filters.register(
                    name.clone(),
                    Box::new(JsFilter {
                        name,
                        kind: JsKind::Identity,
                    }),
                );
            }
        }
    }
    Err(MappingError::template("too many unknown filters"))
}

impl LiquidTemplate {
    /// Renders against an event (`None` = no event).
    pub(crate) fn render(&self, payload: Option<&Value>) -> Result<String, MappingError> {
        let empty = liquid_core::Object::new();
        let globals: &dyn ObjectView = match payload {
            Some(v @ Value::Object(_)) => JsVal::from_ref(v),
            _ => &empty,
        };
        let runtime = NilRuntime(RuntimeBuilder::new().set_globals(globals).build());
        let mut out = Vec::new();
        self.template
            .render_to(&mut out, &runtime)
            .map_err(|e| MappingError::template(error_text(&e)))?;
        String::from_utf8(out).map_err(|e| MappingError::template(e.to_string()))
    }
}

/// The variables a template reads (reference `getLiquidKeys`, liquidjs `fullVariablesSync`):
/// variable paths in output and tag expressions, in order of appearance, without duplicates.
pub(crate) fn liquid_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start..];
        let (close, body) = if let Some(b) = after.strip_prefix("{{") {
            ("}}", b)
        } else if let Some(b) = after.strip_prefix("{%") {
            ("%}", b)
        } else {
            rest = &after[1..];
            continue;
        };
        let Some(end) = body.find(close) else { break };
        let inner = body[..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let is_tag = close == "%}";
        let mut words = inner;
        if is_tag {
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = &inner[..name_end];
            words = &inner[name_end..];
            if matches!(name, "raw" | "comment" | "endraw" | "endcomment") {
                rest = &body[end + 2..];
                continue;
            }
            if name == "assign" || name == "capture" {
                // skip the assigned name
                let w = words.trim_start();
                let n = w
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(w.len());
                words = &w[n..];
            }
        }
        collect_variables(words, &mut keys);
        rest = &body[end + 2..];
    }
    keys
}

fn collect_variables(expr: &str, keys: &mut Vec<String>) {
    const KEYWORDS: [&str; 10] = [
        "and", "or", "contains", "true", "false", "nil", "null", "empty", "blank", "with",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0usize;
    let mut after_pipe = false;
    while let Some(&c) = chars.get(i) {
        if c == '"' || c == '\'' {
            i += 1;
            while chars.get(i).is_some_and(|d| *d != c) {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '|' {
            after_pipe = true;
            i += 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            let mut depth = 0i32;
            while let Some(&d) = chars.get(i) {
                if d == '[' {
                    depth += 1;
                } else if d == ']' {
                    depth -= 1;
                } else if depth == 0 && !(d.is_alphanumeric() || d == '_' || d == '-' || d == '.') {
                    break;
                }
                i += 1;
            }
            let word: String = chars.get(start..i).unwrap_or_default().iter().collect();
            let word = word.trim_end_matches('.').to_owned();
            let is_filter = after_pipe;
            after_pipe = false;
            let next_colon = chars
                .get(i..)
                .unwrap_or_default()
                .iter()
                .find(|c| !c.is_whitespace());
            if is_filter || next_colon == Some(&':') || KEYWORDS.contains(&word.as_str()) {
                continue;
            }
            if !keys.contains(&word) {
                keys.push(word);
            }
            continue;
        }
        i += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// The event, seen by Liquid.

/// A JSON value as Liquid sees it in liquidjs.
#[derive(Debug)]
#[repr(transparent)]
struct JsVal(Value);

impl JsVal {
    fn from_ref(v: &Value) -> &JsVal {
        // SAFETY: `JsVal` is `#[repr(transparent)]` over `Value`, so both have the same layout
        // and the reference keeps the same lifetime and validity.
        unsafe { &*(v as *const Value).cast::<JsVal>() }
    }
}

static NIL: JsVal = JsVal(Value::Null);

/// The type name of an event object seen through [`JsVal`]: its keys keep the event's order.
/// Objects that went through a stock filter are `liquid` objects whose key order is lost; the
/// `json` filter prints those with sorted keys so that the output is at least deterministic.
const JSON_OBJECT: &str = "json object";

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
struct NilRuntime<R>(R);

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

// ---------------------------------------------------------------------------------------------
// Tags.

/// A tag the reference disables: refused when the template is parsed.
#[derive(Clone)]
struct DisabledTag(&'static str);

impl TagReflection for DisabledTag {
    fn tag(&self) -> &str {
        self.0
    }
    fn description(&self) -> &str {
        "disabled"
    }
}

impl ParseTag for DisabledTag {
    fn parse(
        &self,
        _arguments: TagTokenIter<'_>,
        _options: &Language,
    ) -> liquid_core::Result<Box<dyn Renderable>> {
        Err(LError::with_msg(format!("tag \"{}\" is disabled", self.0)))
    }
    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// `{% echo expr | filters %}` (liquidjs).
#[derive(Clone)]
struct EchoTag;

impl TagReflection for EchoTag {
    fn tag(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Outputs an expression."
    }
}

impl ParseTag for EchoTag {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        options: &Language,
    ) -> liquid_core::Result<Box<dyn Renderable>> {
        let chain = arguments
            .expect_next("FilterChain expected.")?
            .expect_filter_chain(options)
            .into_result()?;
        arguments.expect_nothing()?;
        Ok(Box::new(Echo(chain)))
    }
    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Echo(liquid_core::parser::FilterChain);

impl Renderable for Echo {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> liquid_core::Result<()> {
        let value = self.0.evaluate(runtime)?;
        write!(writer, "{}", value.render()).map_err(|e| LError::with_msg(e.to_string()))
    }
}

// ---------------------------------------------------------------------------------------------
// Filters with liquidjs semantics.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsKind {
    Plus,
    Minus,
    Times,
    DividedBy,
    Modulo,
    Abs,
    Ceil,
    Floor,
    Round,
    AtLeast,
    AtMost,
    Size,
    Default,
    Json,
    Jsonify,
    Sum,
    Date,
    UrlEncode,
    UrlDecode,
    Disabled,
    Identity,
}

impl JsKind {
    const ALL: [JsKind; 19] = [
        JsKind::Plus,
        JsKind::Minus,
        JsKind::Times,
        JsKind::DividedBy,
        JsKind::Modulo,
        JsKind::Abs,
        JsKind::Ceil,
        JsKind::Floor,
        JsKind::Round,
        JsKind::AtLeast,
        JsKind::AtMost,
        JsKind::Size,
        JsKind::Default,
        JsKind::Json,
        JsKind::Jsonify,
        JsKind::Sum,
        JsKind::Date,
        JsKind::UrlEncode,
        JsKind::UrlDecode,
    ];

    fn name(self) -> &'static str {
        match self {
            JsKind::Plus => "plus",
            JsKind::Minus => "minus",
            JsKind::Times => "times",
            JsKind::DividedBy => "divided_by",
            JsKind::Modulo => "modulo",
            JsKind::Abs => "abs",
            JsKind::Ceil => "ceil",
            JsKind::Floor => "floor",
            JsKind::Round => "round",
            JsKind::AtLeast => "at_least",
            JsKind::AtMost => "at_most",
            JsKind::Size => "size",
            JsKind::Default => "default",
            JsKind::Json => "json",
            JsKind::Jsonify => "jsonify",
            JsKind::Sum => "sum",
            JsKind::Date => "date",
            JsKind::UrlEncode => "url_encode",
            JsKind::UrlDecode => "url_decode",
            JsKind::Disabled => "disabled",
            JsKind::Identity => "identity",
        }
    }
}

#[derive(Clone)]
struct JsFilter {
    name: String,
    kind: JsKind,
}

impl FilterReflection for JsFilter {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        "liquidjs-compatible filter"
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for JsFilter {
    fn parse(&self, arguments: FilterArguments<'_>) -> liquid_core::Result<Box<dyn Filter>> {
        let args: Vec<Expression> = arguments.positional.collect();
        let keywords: Vec<(String, Expression)> =
            arguments.keyword.map(|(k, e)| (k.to_owned(), e)).collect();
        Ok(Box::new(JsFilterRun {
            name: self.name.clone(),
            kind: self.kind,
            args,
            keywords,
        }))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct JsFilterRun {
    name: String,
    kind: JsKind,
    args: Vec<Expression>,
    keywords: Vec<(String, Expression)>,
}

impl fmt::Display for JsFilterRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// JavaScript `+value || 0` (liquidjs `toNumber`).
fn to_number(v: &dyn ValueView) -> f64 {
    let n = if let Some(s) = v.as_scalar() {
        if let Some(i) = s.to_integer() {
            i as f64
        } else if let Some(f) = s.to_float().filter(|_| s.to_bool().is_none()) {
            f
        } else if let Some(b) = s.to_bool() {
            if b { 1.0 } else { 0.0 }
        } else {
            js_string_to_number(s.to_kstr().as_str())
        }
    } else if let Some(a) = v.as_array() {
        match a.size() {
            0 => 0.0,
            1 => a.first().map_or(f64::NAN, to_number_raw),
            _ => f64::NAN,
        }
    } else {
        f64::NAN
    };
    if n.is_nan() { 0.0 } else { n }
}

fn to_number_raw(v: &dyn ValueView) -> f64 {
    match v.as_scalar() {
        Some(s) => match s.to_float() {
            Some(f) => f,
            None => js_string_to_number(s.to_kstr().as_str()),
        },
        None => f64::NAN,
    }
}

/// JavaScript `Number(string)`.
fn js_string_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    let lower = t.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            return u64::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64);
        }
    }
    if t.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        t.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// A number as a Liquid value that prints as JavaScript prints it.
fn num_value(f: f64) -> LValue {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        return LValue::scalar(f as i64);
    }
    let js = js_number_to_string(f);
    if f.is_finite() && format!("{f}") == js {
        LValue::scalar(f)
    } else {
        LValue::scalar(js)
    }
}

fn shift_decimal(n: f64, exponent: i64) -> f64 {
    let s = js_number_to_string(n);
    let (mantissa, power) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let power: i64 = power.parse().unwrap_or(0);
    format!("{mantissa}e{}", power + exponent)
        .parse()
        .unwrap_or(f64::NAN)
}

/// liquidjs `round(v, digits)`.
fn js_round(v: f64, digits: f64) -> f64 {
    let arg = digits as i64;
    let scaled = shift_decimal(v.abs(), arg);
    if scaled.is_nan() || scaled > 9_007_199_254_740_991.0 {
        return v;
    }
    let rounded = shift_decimal((scaled + 0.5).floor(), -arg);
    if v < 0.0 { -rounded } else { rounded }
}

fn json_of(v: &dyn ValueView, out: &mut String, depth: usize) {
    if depth > js::MAX_VALUE_DEPTH {
        out.push_str("null");
        return;
    }
    if let Some(s) = v.as_scalar() {
        if let Some(b) = s.to_bool().filter(|_| v.type_name() == "boolean") {
            out.push_str(if b { "true" } else { "false" });
        } else if let (Some(i), true) = (s.to_integer(), v.type_name() == "whole number") {
            out.push_str(&i.to_string());
        } else if let (Some(f), true) = (s.to_float(), v.type_name() == "fractional number") {
            if f.is_finite() {
                out.push_str(&js_number_to_string(f));
            } else {
                out.push_str("null");
            }
        } else {
            js::write_json_string(s.to_kstr().as_str(), out);
        }
    } else if let Some(a) = v.as_array() {
        out.push('[');
        for (i, item) in a.values().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_of(item, out, depth + 1);
        }
        out.push(']');
    } else if let Some(o) = v.as_object() {
        out.push('{');
        let mut entries: Vec<(KStringCow<'_>, &dyn ValueView)> = o.iter().collect();
        if v.type_name() != JSON_OBJECT {
            entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        }
        for (i, (k, item)) in entries.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            js::write_json_string(k.as_str(), out);
            out.push(':');
            json_of(item, out, depth + 1);
        }
        out.push('}');
    } else {
        out.push_str("null");
    }
}

/// `encodeURIComponent(s).replace(/%20/g, '+')`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(char::from(b)),
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `decodeURIComponent`; `None` for malformed input (liquidjs throws `URIError`).
fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// liquidjs `new Date(value)` for the `date` filter (UTC).
fn to_date(v: &dyn ValueView) -> Option<DateTime<Utc>> {
    let s = v.as_scalar()?;
    if let (Some(i), true) = (s.to_integer(), v.type_name() == "whole number") {
        return Utc.timestamp_opt(i, 0).single();
    }
    if let (Some(f), true) = (s.to_float(), v.type_name() == "fractional number") {
        return Utc.timestamp_millis_opt((f * 1000.0) as i64).single();
    }
    let text = s.to_kstr().into_owned();
    let text = text.as_str().trim();
    if text == "now" || text == "today" {
        return Some(Utc::now());
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return Utc.timestamp_opt(text.parse().ok()?, 0).single();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(text) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
}

fn format_date(d: &DateTime<Utc>, fmt: &str) -> Option<String> {
    use std::fmt::Write as _;
    let items: Vec<chrono::format::Item<'_>> = chrono::format::StrftimeItems::new(fmt).collect();
    if items
        .iter()
        .any(|i| matches!(i, chrono::format::Item::Error))
    {
        return None;
    }
    let mut out = String::new();
    write!(out, "{}", d.format_with_items(items.into_iter())).ok()?;
    Some(out)
}

impl Filter for JsFilterRun {
    fn evaluate(
        &self,
        input: &dyn ValueView,
        runtime: &dyn Runtime,
    ) -> liquid_core::Result<LValue> {
        let mut args = Vec::with_capacity(self.args.len());
        for a in &self.args {
            args.push(a.evaluate(runtime)?);
        }
        let arg = |i: usize| args.as_slice().get(i).map(|a| to_number(a.as_view()));
        let x = || to_number(input);
        Ok(match self.kind {
            JsKind::Disabled => {
                return Err(LError::with_msg(format!(
                    "filter \"{}\" is disabled",
                    self.name
                )));
            }
            JsKind::Identity => input.to_value(),
            JsKind::Plus => num_value(x() + arg(0).unwrap_or(0.0)),
            JsKind::Minus => num_value(x() - arg(0).unwrap_or(0.0)),
            JsKind::Times => num_value(x() * arg(0).unwrap_or(0.0)),
            JsKind::DividedBy => {
                let d = arg(0).unwrap_or(0.0);
                let integer = args
                    .as_slice()
                    .get(1)
                    .is_some_and(|a| a.query_state(State::Truthy));
                if integer {
                    num_value((x() / d).floor())
                } else {
                    num_value(x() / d)
                }
            }
            JsKind::Modulo => {
                let m = arg(0).unwrap_or(0.0);
                num_value(((x() % m) + m) % m)
            }
            JsKind::Abs => num_value(x().abs()),
            JsKind::Ceil => num_value(x().ceil()),
            JsKind::Floor => num_value(x().floor()),
            JsKind::Round => num_value(js_round(x(), arg(0).unwrap_or(0.0))),
            JsKind::AtLeast => num_value(x().max(arg(0).unwrap_or(0.0))),
            JsKind::AtMost => num_value(x().min(arg(0).unwrap_or(0.0))),
            JsKind::Size => {
                if let Some(a) = input.as_array() {
                    LValue::scalar(a.size())
                } else if let (Some(s), true) = (input.as_scalar(), input.type_name() == "string") {
                    LValue::scalar(utf16_len(s.to_kstr().as_str()) as i64)
                } else {
                    LValue::scalar(0i64)
                }
            }
            JsKind::Default => {
                let fallback = args
                    .as_slice()
                    .first()
                    .map_or(LValue::Nil, |a| a.to_value());
                let allow_false = self.keywords.iter().any(|(k, e)| {
                    k == "allow_false"
                        && e.try_evaluate(runtime)
                            .is_some_and(|v| v.query_state(State::Truthy))
                });
                let is_string = input.type_name() == "string";
                if input.as_array().is_some() || is_string {
                    if input.query_state(State::Empty) {
                        fallback
                    } else {
                        input.to_value()
                    }
                } else if allow_false && input.as_scalar().and_then(|s| s.to_bool()) == Some(false)
                {
                    LValue::scalar(false)
                } else if !input.query_state(State::Truthy) {
                    fallback
                } else {
                    input.to_value()
                }
            }
            JsKind::Json | JsKind::Jsonify => {
                let mut out = String::new();
                json_of(input, &mut out, 0);
                LValue::scalar(out)
            }
            JsKind::Sum => {
                let property = args.as_slice().first().map(|a| a.to_kstr().into_owned());
                let items: Vec<&dyn ValueView> = match input.as_array() {
                    Some(a) => a.values().collect(),
                    None if input.is_nil() => Vec::new(),
                    None => vec![input],
                };
                let mut total = 0.0;
                for item in items {
                    let value = match &property {
                        Some(p) => item.as_object().and_then(|o| o.get(p.as_str())),
                        None => Some(item),
                    };
                    let n = value.map_or(f64::NAN, to_number_raw);
                    if !n.is_nan() {
                        total += n;
                    }
                }
                num_value(total)
            }
            JsKind::UrlEncode => LValue::scalar(url_encode(input.to_kstr().as_str())),
            JsKind::UrlDecode => {
                let text = input.to_kstr().as_str().replace('+', " ");
                match url_decode(&text) {
                    Some(s) => LValue::scalar(s),
                    None => return Err(LError::with_msg("URI malformed")),
                }
            }
            JsKind::Date => {
                let fmt = args.as_slice().first().map(|a| a.to_kstr().into_owned());
                match (to_date(input), fmt) {
                    (Some(d), Some(fmt)) => match format_date(&d, fmt.as_str()) {
                        Some(s) => LValue::scalar(s),
                        None => input.to_value(),
                    },
                    _ => input.to_value(),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, ev: Value) -> Result<String, MappingError> {
        match compile_liquid(&Value::String(t.to_owned())) {
            Node::Liquid(l) => l.render(Some(&ev)),
            Node::Const(v) => Ok(v.as_str().unwrap_or_default().to_owned()),
            Node::Fail(e) => Err(e),
            _ => Err(MappingError::runtime("unexpected node")),
        }
    }

    #[test]
    fn renders_like_liquidjs() {
        let ev = json!({"p": {"n": 7, "f": 2.5, "list": ["b", "a"], "o": {"k": 1}, "s": "Zoë 😀"}});
        let r = |t: &str| render(t, ev.clone()).unwrap();
        assert_eq!(r("{{ p.n }}"), "7");
        assert_eq!(r("{{ p.missing.deeper }}x"), "x");
        assert_eq!(r("{{ p.o }}"), "[object Object]");
        assert_eq!(r("{{ p.list }}"), "ba");
        assert_eq!(r("{{ p.n | divided_by: 2 }}"), "3.5");
        assert_eq!(r("{{ p.n | divided_by: 0 }}"), "Infinity");
        assert_eq!(r("{{ p.s | size }}"), "6");
        assert_eq!(r("{{ p.nope | default: 'x' }}"), "x");
        assert_eq!(r("{{ p.o | json }}"), "{\"k\":1}");
        assert_eq!(r("{{ p.n | frobnicate }}"), "7");
        assert_eq!(r("{% echo p.list | first %}"), "b");
    }

    #[test]
    fn restrictions() {
        let ev = json!({});
        assert!(
            render("{% for x in y %}{% endfor %}", ev.clone())
                .unwrap_err()
                .message()
                .contains("tag \"for\" is disabled")
        );
        assert!(
            render("{{ x | sort }}", ev.clone())
                .unwrap_err()
                .message()
                .contains("filter \"sort\" is disabled")
        );
        assert_eq!(
            render("{% if false %}{{ x | sort }}{% endif %}ok", ev.clone()).unwrap(),
            "ok"
        );
        let long = "x".repeat(1001);
        assert_eq!(
            render(&long, ev).unwrap_err().message(),
            "liquid template values are limited to 1000 characters"
        );
    }

    #[test]
    fn variable_keys() {
        assert_eq!(
            liquid_keys("{{ properties.a.b | upcase }} {% if traits.x > 1 %}{{ x }}{% endif %}"),
            vec!["properties.a.b", "traits.x", "x"]
        );
    }
}
