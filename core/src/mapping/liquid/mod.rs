//! `@liquid`: Liquid templates (the `liquid` crates), restricted and adapted to behave as the
//! reference (liquidjs) does.
//!
//! * The language is built once ([`OnceLock`]); each template is parsed at compile time.
//! * Templates longer than 1000 UTF-16 units are refused; `""` renders `""`.
//! * liquidjs syntax the `liquid` crates lack is rewritten first ([`expand`]): the
//!   `{% liquid %}` tag (one tag per line), inline comments `{% # … %}` and a trailing empty
//!   filter (`{{ a | }}`). Tags cut where liquidjs cuts them ([`lex`]).
//! * Disabled tags (`case`, `for`, `include`, `layout`, `render`, `tablerow`) fail at parse time
//!   with `tag "x" is disabled`; disabled filters fail when they run with
//!   `filter "x" is disabled`. Without `for`/`tablerow` nothing can loop, so rendering is bounded
//!   by the template's size.
//! * The event is read in place (no copy) through a view that follows liquidjs ([`view`]):
//!   numbers print as JavaScript prints them, objects as `[object Object]`, arrays concatenated,
//!   `null` as nothing; a missing variable is `nil` (liquidjs is not strict).
//! * Filters follow liquidjs ([`filters`]): arithmetic (`toNumber`, float division, `Infinity`),
//!   `size` in UTF-16 units, `json`, `sum`, `date` (UTC), `default`; unknown filters return
//!   their input. Tags liquidjs reads its own way are in [`tags`] (`echo`, `comment`).
//!
//! Files: `lex` (cutting a template), `expand` (rewriting), `keys` (the variables a template
//! reads), `view` (the event), `tags`, `filters`, and this one (language, compile, render).

mod expand;
mod filters;
mod keys;
mod lex;
mod tags;
mod view;

use std::fmt;
use std::sync::OnceLock;

use liquid_core::model::ObjectView;
use liquid_core::parser::ParseFilter;
use liquid_core::runtime::RuntimeBuilder;
use liquid_core::{Error as LError, Language, ParseTag, Renderable};
use serde_json::Value;

use super::error::MappingError;
use super::js::utf16_len;
use super::node::Node;
use filters::{JsFilter, JsKind};
pub(crate) use keys::liquid_keys;
use tags::{CommentBlock, DisabledTag, EchoTag, ErrorTag};
use view::{JsVal, NilRuntime};

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
        Box::new(ErrorTag),
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
        Box::new(CommentBlock),
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
        lang.filters.register(
            kind.name().to_owned(),
            Box::new(JsFilter::new(kind.name(), kind)),
        );
    }
    for name in DISABLED_FILTERS {
        lang.filters.register(
            name.to_owned(),
            Box::new(JsFilter::new(name, JsKind::Disabled)),
        );
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
    let text = expand::expand(text);
    let text = text.as_ref();
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
                let filter = JsFilter::new(&name, JsKind::Identity);
                lang.filters.register(name, Box::new(filter));
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
    fn liquid_tag_echo_and_empty_filter() {
        let ev = json!({"properties": {"a": "hi", "world": "Earth"}});
        let r = |t: &str| render(t, ev.clone());
        assert_eq!(
            r("{% liquid assign x = properties.a | upcase\necho x %}").unwrap(),
            "HI"
        );
        assert_eq!(r("{{ properties.world | }}").unwrap(), "Earth");
        assert_eq!(r("{% echo %}{% # note %}.").unwrap(), ".");
        assert!(r("{{ properties.world | | upcase }}").is_err());
        assert_eq!(
            r("{% liquid if true\necho 1 %}").unwrap_err().message(),
            "tag if not closed"
        );
        assert!(
            r("{% liquid for x in y\nendfor %}")
                .unwrap_err()
                .message()
                .contains("tag \"for\" is disabled")
        );
    }

    #[test]
    fn comment_skips_what_it_holds() {
        let ev = json!({});
        // The stock `comment` block parses nested tags and could run past the template's end.
        assert!(render("{% comment %}{% if x %}", ev.clone()).is_err());
        assert_eq!(
            render("{% comment %}{% if x %}{{ y | }}{% endcomment %}ok", ev).unwrap(),
            "ok"
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
