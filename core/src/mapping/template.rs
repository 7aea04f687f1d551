//! `@template`: `{{path}}` / `{{{path}}}` placeholders, as the reference's `placeholders.ts`.
//!
//! Two passes, like the reference's two `String.replace` calls: first every `{{{x}}}`, then every
//! `{{x}}` in the result of the first pass (so text inserted by a triple-brace placeholder can be
//! expanded again). A placeholder's text cannot contain `}`; it is trimmed and read with the
//! event path rules (without removing `$.`). Missing and `null` values give `""`, objects
//! `[object Object]`, arrays are comma-joined; nothing is HTML-escaped.
//! A template without triple braces is parsed once, at compile time.

use serde_json::Value;

use super::error::MappingError;
use super::js::to_js_string;
use super::path::{ParsedPath, get, parse_path};

#[derive(Debug, Clone)]
enum Seg {
    Text(String),
    Ph(ParsedPath),
}

/// A pre-parsed template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// First pass (`{{{x}}}`) when the template has triple-brace placeholders; otherwise the
    /// second pass (`{{x}}`) over the template as written.
    segs: Vec<Seg>,
    has_triple: bool,
    /// A capacity for the output: the text plus a typical value per placeholder.
    size_hint: usize,
}

/// The room reserved per placeholder when sizing a template's output.
const PLACEHOLDER_ROOM: usize = 24;

fn size_hint(segs: &[Seg]) -> usize {
    segs.iter()
        .map(|s| match s {
            Seg::Text(t) => t.len(),
            Seg::Ph(_) => PLACEHOLDER_ROOM,
        })
        .sum()
}

/// JavaScript's `String.prototype.trim` white space.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// Splits `s` on placeholders made of `n` braces (`\{{n}([^}]+)\}{n}`, global, leftmost).
fn scan(s: &str, n: usize) -> (Vec<Seg>, bool) {
    let bytes = s.as_bytes();
    let mut segs = Vec::new();
    let mut found = false;
    let mut last = 0usize;
    let mut i = 0usize;
    while i + 2 * n < bytes.len() {
        let opens = bytes
            .get(i..i + n)
            .is_some_and(|b| b.iter().all(|c| *c == b'{'));
        if opens {
            let start = i + n;
            let close = bytes
                .get(start..)
                .and_then(|rest| rest.iter().position(|c| *c == b'}'))
                .map(|p| start + p);
            if let Some(j) = close {
                let closes = bytes
                    .get(j..j + n)
                    .is_some_and(|b| b.iter().all(|c| *c == b'}'));
                if j > start && closes {
                    if last < i {
                        segs.push(Seg::Text(s[last..i].to_owned()));
                    }
                    let inner = s[start..j].trim_matches(is_js_space);
                    segs.push(Seg::Ph(parse_path(inner)));
                    found = true;
                    i = j + n;
                    last = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    if last < s.len() {
        segs.push(Seg::Text(s[last..].to_owned()));
    }
    (segs, found)
}

fn render_segs(segs: &[Seg], data: Option<&Value>, out: &mut String) -> Result<(), MappingError> {
    for seg in segs {
        match seg {
            Seg::Text(t) => out.push_str(t),
            Seg::Ph(path) => match get(data, path).as_ref() {
                None | Some(Value::Null) => {}
                Some(v) => to_js_string(v, out, 0)?,
            },
        }
    }
    Ok(())
}

impl Template {
    /// Parses a template.
    pub(crate) fn parse(template: &str) -> Self {
        let (triple, has_triple) = scan(template, 3);
        let segs = if has_triple {
            triple
        } else {
            scan(template, 2).0
        };
        Template {
            size_hint: size_hint(&segs),
            segs,
            has_triple,
        }
    }

    /// Renders against an event.
    pub(crate) fn render(&self, data: Option<&Value>) -> Result<String, MappingError> {
        let mut out = String::with_capacity(self.size_hint);
        self.render_into(data, &mut out)?;
        Ok(out)
    }

    /// Renders against an event into `out` (cleared first; its capacity is reused).
    pub(crate) fn render_into(
        &self,
        data: Option<&Value>,
        out: &mut String,
    ) -> Result<(), MappingError> {
        out.clear();
        if !self.has_triple {
            return render_segs(&self.segs, data, out);
        }
        let mut first = String::with_capacity(self.size_hint);
        render_segs(&self.segs, data, &mut first)?;
        let (second, _) = scan(&first, 2);
        render_segs(&second, data, out)
    }
}

/// Renders a template given at run time.
pub(crate) fn render(template: &str, data: Option<&Value>) -> Result<String, MappingError> {
    Template::parse(template).render(data)
}

/// The texts between `{{` and `}}` (reference `getTemplateKeys`: `/{{(.*?)}}/g`).
pub(crate) fn template_keys(template: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        // `.` does not match line terminators.
        let Some(close) = after.find("}}") else { break };
        let inner = &after[..close];
        if inner.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
            rest = &rest[open + 1..];
            continue;
        }
        keys.push(inner.to_owned());
        rest = &after[close + 2..];
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, data: Value) -> String {
        render(t, Some(&data)).unwrap()
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            r(
                "Hello {{foo}} {{bar}}",
                json!({"foo": "Mr.", "bar": "Bean"})
            ),
            "Hello Mr. Bean"
        );
        assert_eq!(r("{{ foo.bar }}", json!({"foo": {"bar": 1.5}})), "1.5");
        assert_eq!(r("{{foo}}", json!({"foo": {"a": 1}})), "[object Object]");
        assert_eq!(r("{{foo}}", json!({"foo": [1, [2, null], "x"]})), "1,2,,x");
        assert_eq!(r("{{foo}}", json!({"foo": null})), "");
        assert_eq!(r("{{foo}}}", json!({"foo": "hello"})), "hello}");
        assert_eq!(r("{{$.foo}}", json!({"foo": "x"})), "");
        assert_eq!(r("{{}}", json!({})), "{{}}");
        assert_eq!(r("{{{a}}} {{a}}", json!({"a": "<b>"})), "<b> <b>");
    }

    #[test]
    fn triple_pass_runs_first_and_its_output_is_expanded() {
        assert_eq!(r("{{{x}}}", json!({"x": "{{y}}", "y": "deep"})), "deep");
        assert_eq!(r("{{x}}", json!({"x": "{{y}}", "y": "deep"})), "{{y}}");
    }

    #[test]
    fn keys() {
        assert_eq!(template_keys("{{a}} and {{ b.c }}"), vec!["a", " b.c "]);
    }
}
