//! liquidjs syntax that the `liquid` crates do not parse, rewritten before parsing into
//! syntax they do parse with the same meaning:
//!
//! * `{% liquid %}`: one tag per line (`assign x = a | upcase` / `echo x`), blank lines
//!   ignored, `#` lines are comments, blocks (`if`, `unless`, `capture`, …) opened in the tag
//!   must close in it. Each line becomes its own `{% … %}` tag; the whitespace control of the
//!   `liquid` tag moves to the first and last of them.
//! * `{% # … %}` (inline comment) becomes an empty `comment` block.
//! * A trailing empty filter (`{{ a | }}`, `{% echo a | %}`, `{% assign x = a | %}`,
//!   `{% if a | %}`) is dropped, as liquidjs' `readFilters` stops at a `|` followed by nothing.
//!   A `|` followed by another `|` or a `:` stays, and fails as it does in liquidjs.
//!
//! Nothing inside `raw` or `comment` is rewritten. A template that needs no rewriting is
//! returned as is, so error messages quote the author's text.
//!
//! Errors liquidjs raises while reading a `liquid` tag (a line that does not start with a tag
//! name, an unclosed or a stray block tag) are written as an [`ERROR_TAG`] tag at that place,
//! so that the parser reports errors in the order liquidjs does.

use std::borrow::Cow;

use super::lex::{self, Delimited, Token, is_blank, split_name};

/// The tag that fails parsing with its string argument as the message.
pub(super) const ERROR_TAG: &str = "__liquidjs_error";

/// Tags whose argument liquidjs reads with `readFilteredValue`, which tolerates a trailing `|`.
const FILTERED_VALUE_TAGS: [&str; 5] = ["echo", "assign", "if", "elsif", "unless"];

/// Blocks that a `liquid` tag may open, with the tags allowed between start and end.
const BLOCKS: [(&str, &[&str]); 4] = [
    ("if", &["elsif", "else"]),
    ("unless", &["elsif", "else"]),
    ("capture", &[]),
    ("ifchanged", &[]),
];

/// End tags that must match a block opened in the same `liquid` tag.
const END_TAGS: [&str; 6] = [
    "endif",
    "endunless",
    "endcapture",
    "endifchanged",
    "endcomment",
    "endraw",
];

/// The template in the syntax the `liquid` crates parse (see the module notes).
pub(super) fn expand(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut changed = false;
    let mut in_comment = false;
    for token in lex::tokens(text) {
        let rewritten = match token {
            Token::Text(s) => {
                out.push_str(s);
                continue;
            }
            Token::Tag(tag) if in_comment => {
                in_comment = tag.name_and_args().0 != "endcomment";
                false
            }
            Token::Output(_) if in_comment => false,
            Token::Output(output) => match without_empty_filter(output.content) {
                Some(expr) => {
                    push_output(&mut out, &output, expr);
                    true
                }
                None => false,
            },
            Token::Tag(tag) => {
                let (name, args) = tag.name_and_args();
                in_comment = name == "comment";
                rewrite_tag(&mut out, &tag, name, args)
            }
        };
        match token {
            Token::Output(d) | Token::Tag(d) if !rewritten => out.push_str(d.source),
            _ => {}
        }
        changed |= rewritten;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Writes the rewriting of a top-level tag; `false` when it stays as written.
fn rewrite_tag(out: &mut String, tag: &Delimited<'_>, name: &str, args: &str) -> bool {
    match name {
        "liquid" => {
            let mut pieces = Vec::new();
            if let Err(message) = expand_liquid(args, &mut pieces) {
                pieces.push(Piece::Tag(error_body(&message)));
            }
            if pieces.is_empty() && (tag.trim_left || tag.trim_right) {
                // Nothing to render, but the whitespace control still applies.
                pieces.push(Piece::Tag("comment".to_owned()));
                pieces.push(Piece::Tag("endcomment".to_owned()));
            }
            let last = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.iter().enumerate() {
                match piece {
                    Piece::Text(s) => out.push_str(s),
                    Piece::Tag(body) => push_tag(
                        out,
                        i == 0 && tag.trim_left,
                        body,
                        i == last && tag.trim_right,
                    ),
                }
            }
            true
        }
        "#" => {
            // liquidjs: every further line of an inline comment must start with `#`.
            let body = if inline_comment_is_valid(args) {
                "comment %}{% endcomment".to_owned()
            } else {
                error_body("every line of an inline comment must start with a '#' character")
            };
            push_tag(out, tag.trim_left, &body, tag.trim_right);
            true
        }
        _ if FILTERED_VALUE_TAGS.contains(&name) => match without_empty_filter(args) {
            Some(args) => {
                push_tag(
                    out,
                    tag.trim_left,
                    &format!("{name} {args}"),
                    tag.trim_right,
                );
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// liquidjs `InlineComment`: no line after the first may start with anything but `#`.
fn inline_comment_is_valid(args: &str) -> bool {
    args.split('\n')
        .skip(1)
        .map(|line| line.trim_start())
        .all(|line| line.is_empty() || line.starts_with('#'))
}

/// What a `liquid` tag becomes.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// A tag body (what goes between `{%` and `%}`).
    Tag(String),
    /// Literal text (the lines of a `raw` block).
    Text(String),
}

/// One non-blank line of a `liquid` tag.
struct Line<'a> {
    name: &'a str,
    args: &'a str,
    /// The line from its first non-blank character, with its newline (liquidjs' token text,
    /// which a `raw` block outputs).
    text: String,
}

/// Expands the lines of a `liquid` tag into `pieces`, up to the first error liquidjs raises
/// while reading them (its message).
fn expand_liquid(args: &str, pieces: &mut Vec<Piece>) -> Result<(), String> {
    let segments: Vec<&str> = args.split('\n').collect();
    let mut lines = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let text = segment.trim_start_matches(is_blank);
        if text.trim_end_matches(is_blank).is_empty() {
            continue;
        }
        let (name, args) = split_name(text.trim_end_matches(is_blank));
        if name.is_empty() {
            // liquidjs reads every line before parsing any: this error comes first.
            return Err("illegal liquid tag syntax".to_owned());
        }
        let newline = if i + 1 < segments.len() { "\n" } else { "" };
        lines.push(Line {
            name,
            args,
            text: format!("{text}{newline}"),
        });
    }
    let mut open: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        i += 1;
        let name = line.name;
        match name {
            "#" => {}
            "liquid" => expand_liquid(line.args, pieces)?,
            "comment" | "raw" => {
                let end = format!("end{name}");
                let Some(len) = lines[i..].iter().position(|l| l.name == end) else {
                    return Err(format!("tag {name} not closed"));
                };
                if name == "raw" {
                    let text: String = lines[i..i + len].iter().map(|l| l.text.as_str()).collect();
                    pieces.push(Piece::Tag("raw".to_owned()));
                    pieces.push(Piece::Text(text));
                    pieces.push(Piece::Tag("endraw".to_owned()));
                }
                i += len + 1;
            }
            _ if BLOCKS.iter().any(|(start, _)| *start == name) => {
                open.push(name);
                pieces.push(line_piece(line)?);
            }
            _ if BLOCKS.iter().any(|(_, inner)| inner.contains(&name))
                || END_TAGS.contains(&name) =>
            {
                let top = open.last().copied();
                let belongs = BLOCKS
                    .iter()
                    .any(|(start, inner)| Some(*start) == top && inner.contains(&name));
                let closes = top.is_some_and(|top| name.strip_prefix("end") == Some(top));
                if !belongs && !closes {
                    return Err(format!("tag \"{name}\" not found"));
                }
                if closes {
                    open.pop();
                }
                pieces.push(line_piece(line)?);
            }
            _ => pieces.push(line_piece(line)?),
        }
    }
    match open.last() {
        Some(block) => Err(format!("tag {block} not closed")),
        None => Ok(()),
    }
}

fn line_piece(line: &Line<'_>) -> Result<Piece, String> {
    line_body(line)
        .map(Piece::Tag)
        .ok_or_else(|| format!("string not closed in liquid tag line: {}", line.name))
}

/// A `liquid` line as a tag body: blanks outside strings become spaces (the `liquid` crates
/// only take spaces and newlines between tokens), a trailing empty filter is dropped. `None`
/// when a string is not closed on the line (the `liquid` crates, which know no backslash
/// escapes, would read it on into the following tags).
fn line_body(line: &Line<'_>) -> Option<String> {
    let args = if FILTERED_VALUE_TAGS.contains(&line.name) {
        without_empty_filter(line.args).unwrap_or(line.args)
    } else {
        line.args
    };
    let mut body = String::with_capacity(line.name.len() + 1 + args.len());
    body.push_str(line.name);
    if !args.is_empty() {
        body.push(' ');
    }
    let mut rest = args;
    while let Some(at) = rest.find(|c: char| c == '"' || c == '\'' || is_blank(c)) {
        let (before, from) = rest.split_at(at);
        body.push_str(before);
        let mut chars = from.chars();
        let first = chars.next()?;
        let len = if is_blank(first) {
            body.push(' ');
            first.len_utf8()
        } else {
            let close = chars.as_str().find(first)?;
            let len = 2 * first.len_utf8() + close;
            body.push_str(&from[..len]);
            len
        };
        rest = &from[len..];
    }
    body.push_str(rest);
    Some(body)
}

/// The expression without a trailing empty filter (`a | upcase |` → `a | upcase`), or `None`
/// when it has none (or ends inside a string).
fn without_empty_filter(expr: &str) -> Option<&str> {
    let mut last = None;
    let mut i = 0;
    while let Some(c) = expr[i..].chars().next() {
        if c == '"' || c == '\'' {
            i = lex::quoted_end(expr, i)?;
            last = Some((c, i));
            continue;
        }
        if !is_blank(c) {
            last = Some((c, i));
        }
        i += c.len_utf8();
    }
    match last {
        Some(('|', at)) => Some(expr[..at].trim_end_matches(is_blank)),
        _ => None,
    }
}

/// The body of an [`ERROR_TAG`] tag carrying `message` (which never holds both quotes).
fn error_body(message: &str) -> String {
    let quote = if message.contains('\'') { '"' } else { '\'' };
    format!("{ERROR_TAG} {quote}{message}{quote}")
}

fn push_tag(out: &mut String, trim_left: bool, body: &str, trim_right: bool) {
    out.push_str(if trim_left { "{%- " } else { "{% " });
    out.push_str(body);
    out.push_str(if trim_right { " -%}" } else { " %}" });
}

fn push_output(out: &mut String, output: &Delimited<'_>, expr: &str) {
    out.push_str(if output.trim_left { "{{- " } else { "{{ " });
    out.push_str(expr);
    out.push_str(if output.trim_right { " -}}" } else { " }}" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liquid_tag_lines_become_tags() {
        assert_eq!(
            expand("{% liquid assign x = a | upcase\n\n  echo x\n# note\n%}"),
            "{% assign x = a | upcase %}{% echo x %}"
        );
        assert_eq!(
            expand("a {%- liquid echo 1\necho 2 -%} b"),
            "a {%- echo 1 %}{% echo 2 -%} b"
        );
        assert_eq!(
            expand("a {%- liquid -%} b"),
            "a {%- comment %}{% endcomment -%} b"
        );
        assert_eq!(expand("{% liquid %}"), "");
        assert_eq!(expand("{% liquid liquid echo 1 %}"), "{% echo 1 %}");
        assert_eq!(expand("{% liquid\techo\t'a\tb' %}"), "{% echo 'a\tb' %}");
        assert_eq!(
            expand("{% liquid raw\n  x  \n\nendraw %}"),
            "{% raw %}x  \n{% endraw %}"
        );
        assert_eq!(
            expand("{% liquid comment\nif\nendcomment\necho 1 %}"),
            "{% echo 1 %}"
        );
    }

    #[test]
    fn liquid_tag_blocks_close_inside() {
        assert_eq!(
            expand("{% liquid if a\necho 1\nelse\necho 2\nendif %}"),
            "{% if a %}{% echo 1 %}{% else %}{% echo 2 %}{% endif %}"
        );
        assert_eq!(
            expand("{% liquid if a\necho 1 %}"),
            "{% if a %}{% echo 1 %}{% __liquidjs_error 'tag if not closed' %}"
        );
        assert_eq!(
            expand("{% if a %}{% liquid endif %}"),
            "{% if a %}{% __liquidjs_error 'tag \"endif\" not found' %}"
        );
        assert_eq!(
            expand("{% liquid capture c\nelse\nendcapture %}"),
            "{% capture c %}{% __liquidjs_error 'tag \"else\" not found' %}"
        );
        assert_eq!(
            expand("{% liquid echo 1\n{{ x }} %}"),
            "{% __liquidjs_error 'illegal liquid tag syntax' %}"
        );
        assert_eq!(
            expand("{% liquid raw\nx %}"),
            "{% __liquidjs_error 'tag raw not closed' %}"
        );
    }

    #[test]
    fn trailing_empty_filter() {
        assert_eq!(expand("{{ a | }}"), "{{ a }}");
        assert_eq!(expand("{{- a |-}}"), "{{- a -}}");
        assert_eq!(expand("{{ a | upcase |\n}}"), "{{ a | upcase }}");
        assert_eq!(expand("{{ a | append: '|' | }}"), "{{ a | append: '|' }}");
        assert_eq!(
            expand("{% echo a | %}{% assign b = a | %}"),
            "{% echo a %}{% assign b = a %}"
        );
        assert_eq!(expand("{% if a | %}y{% endif %}"), "{% if a %}y{% endif %}");
        // One pipe goes; what remains fails to parse, as in liquidjs.
        assert_eq!(expand("{{ a || }}"), "{{ a | }}");
        // Unchanged: no trailing pipe, a pipe inside a string, an unterminated string.
        for text in [
            "{{ a | upcase }}",
            "{{ 'a |' }}",
            "{% echo 'a | %}",
            "{{ a | : 1 }}",
        ] {
            assert!(matches!(expand(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn raw_and_comment_stay() {
        for text in [
            "{% raw %}{% liquid echo 1 %}{{ a | }}{% endraw %}",
            "{% comment %}{% liquid {{ %}{{ a | }}{% # x\ny %}{% endcomment %}",
        ] {
            assert!(matches!(expand(text), Cow::Borrowed(_)), "{text}");
        }
        assert_eq!(
            expand("{% comment %}{{ a | }}{% endcomment %}{{ a | }}"),
            "{% comment %}{{ a | }}{% endcomment %}{{ a }}"
        );
    }

    #[test]
    fn inline_comments() {
        assert_eq!(
            expand("{%- # a\n  # b -%}"),
            "{%- comment %}{% endcomment -%}"
        );
        assert_eq!(
            expand("{% # a\nb %}"),
            "{% __liquidjs_error \"every line of an inline comment must start with a '#' character\" %}"
        );
    }
}
