//! Cutting a template into text, outputs (`{{ }}`) and tags (`{% %}`) exactly where liquidjs
//! cuts it (its `Tokenizer`): a tag ends at the first `%}` (quotes do not protect it), an
//! output at the first `}}` outside a quoted string, and after `{% raw %}` everything up to
//! `{% endraw %}` is text. The `liquid` crates cut differently in corner cases, so the
//! rewriting in [`super::expand`] and the key scan in [`super::keys`] go through this.

/// The characters liquidjs skips as blank.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// A character liquidjs accepts in an identifier (tag and filter names, variables).
pub(super) fn is_identifier(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A template piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// Literal text (including the content of a `raw` block, and an unclosed delimiter with
    /// everything after it, which the parser reports).
    Text(&'a str),
    /// `{{ ... }}`.
    Output(Delimited<'a>),
    /// `{% ... %}`.
    Tag(Delimited<'a>),
}

/// An output or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Delimited<'a> {
    /// The whole token, delimiters included.
    pub source: &'a str,
    /// What is between the delimiters, without the `-` whitespace-control markers and
    /// without surrounding blanks.
    pub content: &'a str,
    /// `{%-` / `{{-`: whitespace before the token is removed.
    pub trim_left: bool,
    /// `-%}` / `-}}`: whitespace after the token is removed.
    pub trim_right: bool,
}

impl<'a> Delimited<'a> {
    fn new(source: &'a str) -> Self {
        // Both delimiters are two ASCII characters.
        let inner = source.get(2..source.len().saturating_sub(2)).unwrap_or("");
        let (inner, trim_left) = match inner.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (inner, false),
        };
        let (inner, trim_right) = match inner.strip_suffix('-') {
            Some(rest) => (rest, true),
            None => (inner, false),
        };
        Delimited {
            source,
            content: inner.trim_matches(is_blank),
            trim_left,
            trim_right,
        }
    }

    /// A tag's name and arguments (liquidjs `readTagName`): `#` (inline comment) or the leading
    /// identifier; the name is empty when the content starts with neither.
    pub(super) fn name_and_args(&self) -> (&'a str, &'a str) {
        split_name(self.content)
    }
}

/// Splits `text` (starting with no blank) into a tag name and its arguments.
pub(super) fn split_name(text: &str) -> (&str, &str) {
    let end = if text.starts_with('#') {
        1
    } else {
        text.find(|c: char| !is_identifier(c)).unwrap_or(text.len())
    };
    let (name, args) = text.split_at(end);
    (name, args.trim_start_matches(is_blank))
}

/// Where a quoted string starting at byte `start` (a quote) ends, after its closing quote,
/// with liquidjs' backslash escapes; `None` when it is not closed.
pub(super) fn quoted_end(text: &str, start: usize) -> Option<usize> {
    let mut chars = text.get(start..)?.char_indices();
    let (_, quote) = chars.next()?;
    let mut escaped = false;
    for (i, c) in chars {
        if c == quote && !escaped {
            return Some(start + i + c.len_utf8());
        }
        escaped = !escaped && c == '\\';
    }
    None
}

/// The tokens of a template, in order; concatenating their texts gives the template back.
pub(super) struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    in_raw: bool,
}

/// Iterates over the tokens of `text`.
pub(super) fn tokens(text: &str) -> Tokens<'_> {
    Tokens {
        text,
        pos: 0,
        in_raw: false,
    }
}

impl<'a> Tokens<'a> {
    /// The end of the output token starting at `start`: the first `}}` outside quotes.
    fn output_end(&self, start: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut i = start + 2;
        while i < bytes.len() {
            match bytes.get(i) {
                Some(b'"' | b'\'') => i = quoted_end(self.text, i)?,
                Some(b'}') if bytes.get(i + 1) == Some(&b'}') => return Some(i + 2),
                _ => i += 1,
            }
        }
        None
    }

    /// Within a `raw` block: where its text ends and the `{% endraw %}` tag ends. liquidjs
    /// looks for `{%`, blanks and the identifier `endraw` (so `{%- endraw %}` does not close).
    fn endraw(&self) -> Option<(usize, usize)> {
        let mut from = self.pos;
        loop {
            let open = from + self.text.get(from..)?.find("{%")?;
            let after = self.text.get(open + 2..)?;
            let name_start = after.len() - after.trim_start_matches(is_blank).len();
            let (name, _) = split_name(after.get(name_start..)?);
            if name == "endraw" {
                let close = open + 2 + after.find("%}")? + 2;
                return Some((open, close));
            }
            from = open + 2;
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
        let start = self.pos;
        if self.in_raw {
            let Some((open, close)) = self.endraw() else {
                self.pos = self.text.len();
                return Some(Token::Text(rest));
            };
            if open > start {
                self.pos = open;
                return self.text.get(start..open).map(Token::Text);
            }
            self.in_raw = false;
            self.pos = close;
            return self
                .text
                .get(start..close)
                .map(|s| Token::Tag(Delimited::new(s)));
        }
        let end = if rest.starts_with("{%") {
            // A tag ends at the first `%}` after its `{`, quotes or not (`{%}` is a tag).
            rest.get(1..)
                .and_then(|r| r.find("%}"))
                .map(|i| start + 1 + i + 2)
        } else if rest.starts_with("{{") {
            self.output_end(start)
        } else {
            let next = [rest.find("{%"), rest.find("{{")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            self.pos = start + next;
            return Some(Token::Text(rest.get(..next).unwrap_or(rest)));
        };
        let Some(end) = end else {
            // Not closed: liquidjs refuses the template; the parser will too.
            self.pos = self.text.len();
            return Some(Token::Text(rest));
        };
        self.pos = end;
        let source = self.text.get(start..end)?;
        let token = Delimited::new(source);
        if rest.starts_with("{{") {
            return Some(Token::Output(token));
        }
        if token.name_and_args().0 == "raw" {
            self.in_raw = true;
        }
        Some(Token::Tag(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        tokens(text)
            .map(|t| match t {
                Token::Text(s) => format!("T[{s}]"),
                Token::Output(d) => format!("O[{}]", d.content),
                Token::Tag(d) => format!(
                    "G[{}{}{}]",
                    if d.trim_left { "<" } else { "" },
                    d.content,
                    if d.trim_right { ">" } else { "" }
                ),
            })
            .collect()
    }

    #[test]
    fn cuts_like_liquidjs() {
        assert_eq!(
            kinds("a{{ x }}b{%- if y -%}c"),
            ["T[a]", "O[x]", "T[b]", "G[<if y>]", "T[c]"]
        );
        // Outputs respect quotes, tags do not.
        assert_eq!(kinds("{{ 'a }}' }}"), ["O['a }}']"]);
        assert_eq!(kinds("{% echo 'a %}' %}"), ["G[echo 'a]", "T[' %}]"]);
        assert_eq!(kinds("{{ 'a\\'}}' }}"), ["O['a\\'}}']"]);
        // Raw content is text; `{%- endraw %}` does not close a raw block in liquidjs.
        assert_eq!(
            kinds("{% raw %}{{ a | }}{%- endraw %}{% endraw %}x"),
            ["G[raw]", "T[{{ a | }}{%- endraw %}]", "G[endraw]", "T[x]"]
        );
        // Unclosed delimiters keep the rest as text.
        assert_eq!(kinds("a{{ b"), ["T[a]", "T[{{ b]"]);
        assert_eq!(kinds("{% b"), ["T[{% b]"]);
        assert_eq!(kinds("{%}"), ["G[]"]);
        assert_eq!(kinds("{%-%}"), ["G[<]"]);
    }

    #[test]
    fn names() {
        assert_eq!(split_name("liquid echo 1"), ("liquid", "echo 1"));
        assert_eq!(split_name("#comment"), ("#", "comment"));
        assert_eq!(split_name("{{ x }}"), ("", "{{ x }}"));
        assert_eq!(split_name("écho"), ("", "écho"));
        assert_eq!(quoted_end("'a\\'b' c", 0), Some(6));
        assert_eq!(quoted_end("'ab", 0), None);
    }

    #[test]
    fn tokens_cover_the_template() {
        for text in [
            "",
            "{{",
            "{%",
            "{% raw %}",
            "é{{ 'é }}' }}é{%- é -%}",
            "{{ '",
        ] {
            let joined: String = tokens(text)
                .map(|t| match t {
                    Token::Text(s) => s,
                    Token::Output(d) | Token::Tag(d) => d.source,
                })
                .collect();
            assert_eq!(joined, text);
        }
    }
}
