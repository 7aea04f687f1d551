//! The FQL lexer: a character-for-character equivalent of `@segment/fql-ts` 1.10.1.
//!
//! It works on UTF-16 code units, as the reference does, because a few decisions depend
//! on them (an escaped astral character in an identifier, length limits). Token values
//! are the reference's: strings keep their quotes, numbers keep their source text.
//!
//! Behaviour worth knowing (all reproduced on purpose):
//! * `and`, `or` and `null` are recognised only when followed by a terminator
//!   (whitespace, `,`, `]`, `)` or the end); otherwise they start an identifier.
//!   Upper-case `AND`/`OR` are plain identifiers.
//! * When such a keyword runs into the end of the input (`type = an`), the characters
//!   read ahead are not put back: `an` at the very end lexes as the identifier `a`.
//! * An identifier must be followed by a terminator, `.`, `(`, `=` or `!`:
//!   `properties.total>40` is an error. A backslash escapes any character.
//! * `!` is an operator when followed by a letter or `(`, otherwise it must start `!=`
//!   followed by a terminator (`userId!=null` is an error).
//! * `=` is always an operator on its own (`==` is two of them); `<`, `>`, `<=`, `>=`
//!   need a terminator after them to include the `=`.
//! * A number is a sign or digit followed by digits and at most one `.`; a `.` must be
//!   followed by a non-terminator. A number needs no terminator (`1e5` is `1`, `e5`).
//! * A string runs to the next quote of the same kind and has no escapes; if its closing
//!   quote is not followed by a terminator, that quote also opens the next string.
//! * Strings, identifiers and numbers are limited to 100 000 UTF-16 code units.

use super::error::{FqlError, FqlErrorKind};

/// The kinds of token of the reference lexer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident,
    Dot,
    Operator,
    Conditional,
    Str,
    Number,
    Null,
    BrackLeft,
    BrackRight,
    ParenLeft,
    ParenRight,
    Comma,
    Eos,
}

/// A token: its kind, the reference's token value and its byte offset in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) value: String,
    pub(crate) pos: usize,
}

impl Token {
    pub(crate) fn new(kind: TokenKind, value: impl Into<String>, pos: usize) -> Self {
        Token {
            kind,
            value: value.into(),
            pos,
        }
    }
}

/// Maximum length (UTF-16 code units) of a string, identifier or number.
const MAX_LEN: usize = 100_000;

const EXPECTED_TOKEN: &str = "a field, a value, an operator, `and`/`or`, a parenthesis or a comma";
const EXPECTED_AFTER_IDENT: &str =
    "whitespace, `.`, `(`, `)`, `,`, `]`, `=` or `!` after an identifier";

/// Byte offset of the character that UTF-16 code unit `unit_index` of `src` belongs to
/// (`src.len()` past the end).
fn byte_offset(src: &str, unit_index: usize) -> usize {
    let mut units = 0;
    for (offset, c) in src.char_indices() {
        units += c.len_utf16();
        if unit_index < units {
            return offset;
        }
    }
    src.len()
}

/// Turns the tokens' UTF-16 positions (ascending) into byte offsets in one pass.
fn to_byte_positions(src: &str, tokens: &mut [Token]) {
    let mut chars = src.char_indices().peekable();
    let mut units = 0; // UTF-16 units before the character `chars` is at
    for token in tokens {
        while let Some(&(_, c)) = chars.peek() {
            if token.pos < units + c.len_utf16() {
                break;
            }
            units += c.len_utf16();
            chars.next();
        }
        token.pos = chars.peek().map_or(src.len(), |&(offset, _)| offset);
    }
}

/// Splits FQL source into tokens, ending with an end-of-source token.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, FqlError> {
    Lexer::new(src).run()
}

struct Lexer<'a> {
    src: &'a str,
    units: Vec<u16>,
    pos: usize,
}

fn unit(c: char) -> u16 {
    c as u16
}

fn is_alpha(c: Option<u16>) -> bool {
    matches!(c, Some(u) if u < 128 && (u as u8).is_ascii_alphabetic())
}

fn is_digit(c: Option<u16>) -> bool {
    matches!(c, Some(u) if u < 128 && (u as u8).is_ascii_digit())
}

fn is_whitespace(c: Option<u16>) -> bool {
    matches!(c, Some(u) if u == unit(' ') || u == unit('\t') || u == unit('\n'))
}

fn is_terminator(c: Option<u16>) -> bool {
    match c {
        None => true,
        Some(u) => is_whitespace(c) || u == unit(',') || u == unit(']') || u == unit(')'),
    }
}

fn is_ident(c: Option<u16>) -> bool {
    is_alpha(c)
        || is_digit(c)
        || matches!(c, Some(u) if u == unit('_') || u == unit('-') || u == unit('\\'))
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            units: src.encode_utf16().collect(),
            pos: 0,
        }
    }

    /// Byte offset of the character a code unit belongs to (used for errors only).
    fn byte(&self, unit_index: usize) -> usize {
        byte_offset(self.src, unit_index)
    }

    /// The character (not code unit) at a unit index, for messages.
    fn describe(&self, unit_index: Option<usize>) -> String {
        match unit_index {
            None => "the end of the input".to_string(),
            Some(i) => match self.src.get(self.byte(i)..).and_then(|s| s.chars().next()) {
                Some(c) => format!("{:?}", c.to_string()),
                None => "the end of the input".to_string(),
            },
        }
    }

    fn next(&mut self) -> Option<u16> {
        let u = self.units.get(self.pos).copied()?;
        self.pos += 1;
        Some(u)
    }

    fn peek(&self) -> Option<u16> {
        self.units.get(self.pos).copied()
    }

    fn backup(&mut self, count: usize) {
        self.pos = self.pos.saturating_sub(count);
    }

    fn error(&self, unit_index: usize, message: String, expected: &str) -> FqlError {
        FqlError::new(FqlErrorKind::Lex, message)
            .at(self.byte(unit_index))
            .expecting(expected)
    }

    fn run(mut self) -> Result<Vec<Token>, FqlError> {
        let mut tokens = Vec::new();
        loop {
            let start = self.pos;
            let pos = start;
            let Some(c) = self.next() else {
                tokens.push(Token::new(TokenKind::Eos, "eos", pos));
                to_byte_positions(self.src, &mut tokens);
                return Ok(tokens);
            };
            if is_whitespace(Some(c)) {
                continue;
            }
            if c == unit('!') {
                let next = self.peek();
                if is_alpha(next) || next == Some(unit('(')) {
                    tokens.push(Token::new(TokenKind::Operator, "!", pos));
                    continue;
                }
            }
            if is_alpha(Some(c)) || "!=><\\_".encode_utf16().any(|u| u == c) {
                tokens.push(self.operator_or_conditional(c, start)?);
                continue;
            }
            if is_digit(Some(c)) || c == unit('-') || c == unit('+') {
                tokens.push(self.number(c, start)?);
                continue;
            }
            if c == unit('"') || c == unit('\'') {
                tokens.push(self.string(c, start)?);
                continue;
            }
            let single = match char::from_u32(u32::from(c)) {
                Some('.') => Some((TokenKind::Dot, ".")),
                Some('[') => Some((TokenKind::BrackLeft, "[")),
                Some(']') => Some((TokenKind::BrackRight, "]")),
                Some(',') => Some((TokenKind::Comma, ",")),
                Some('(') => Some((TokenKind::ParenLeft, "(")),
                Some(')') => Some((TokenKind::ParenRight, ")")),
                _ => None,
            };
            match single {
                Some((kind, value)) => tokens.push(Token::new(kind, value, pos)),
                None => {
                    let what = self.describe(Some(start));
                    return Err(self.error(
                        start,
                        format!(
                            "unexpected character {what} at byte {}; expected {EXPECTED_TOKEN}",
                            self.byte(start)
                        ),
                        EXPECTED_TOKEN,
                    ));
                }
            }
        }
    }

    /// Tries to read `word` followed by a terminator; puts the characters back when it
    /// does not match, except when the input ends first (as the reference does).
    fn accept(&mut self, word: &str) -> bool {
        let mut read = Vec::with_capacity(word.len());
        for _ in word.encode_utf16() {
            let Some(c) = self.next() else {
                return false;
            };
            read.push(c);
            if is_terminator(Some(c)) {
                break;
            }
        }
        if read.iter().copied().eq(word.encode_utf16()) && is_terminator(self.peek()) {
            return true;
        }
        self.backup(read.len());
        false
    }

    fn operator_or_conditional(&mut self, first: u16, start: usize) -> Result<Token, FqlError> {
        let pos = start;
        let first_char = char::from_u32(u32::from(first));
        match first_char {
            Some('=') => Ok(Token::new(TokenKind::Operator, "=", pos)),
            Some('!') => {
                if self.accept("=") {
                    Ok(Token::new(TokenKind::Operator, "!=", pos))
                } else {
                    let got = self.describe(self.peek().map(|_| self.pos));
                    Err(self.error(
                        start,
                        format!(
                            "expected `=` after `!` at byte {}, got {got}; `!=` must be followed \
                             by whitespace, and `!` alone only negates contains()/match()",
                            self.byte(start)
                        ),
                        "`=` then whitespace",
                    ))
                }
            }
            Some('a') if self.accept("nd") => Ok(Token::new(TokenKind::Conditional, "and", pos)),
            Some('o') if self.accept("r") => Ok(Token::new(TokenKind::Conditional, "or", pos)),
            Some('n') if self.accept("ull") => Ok(Token::new(TokenKind::Null, "null", pos)),
            Some(op @ ('<' | '>')) => {
                if self.accept("=") {
                    Ok(Token::new(TokenKind::Operator, format!("{op}="), pos))
                } else {
                    Ok(Token::new(TokenKind::Operator, op.to_string(), pos))
                }
            }
            _ => self.ident(first, start),
        }
    }

    fn ident(&mut self, first: u16, start: usize) -> Result<Token, FqlError> {
        let pos = start;
        let mut value: Vec<u16> = Vec::new();
        let mut c = first;
        loop {
            if c == unit('\\') {
                match self.next() {
                    Some(escaped) => c = escaped,
                    None => {
                        let at = self.pos.saturating_sub(1);
                        return Err(self.error(
                            at,
                            format!(
                                "expected a character after the escape `\\` at byte {}",
                                self.byte(at)
                            ),
                            "a character after `\\`",
                        ));
                    }
                }
            }
            value.push(c);
            if value.len() >= MAX_LEN {
                return Err(self.error(
                    start,
                    format!(
                        "identifier at byte {} is too long (100000 characters or more)",
                        self.byte(start)
                    ),
                    "a shorter identifier",
                ));
            }
            if !is_ident(self.peek()) {
                break;
            }
            match self.next() {
                Some(n) => c = n,
                None => break,
            }
        }
        let coming = self.peek();
        let allowed = is_terminator(coming)
            || matches!(coming, Some(u) if u == unit('.') || u == unit('(') || u == unit('=') || u == unit('!'));
        let text = String::from_utf16(&value);
        match (allowed, text) {
            (true, Ok(text)) => Ok(Token::new(TokenKind::Ident, text, pos)),
            _ => {
                let at = self.pos;
                let got = self.describe(coming.map(|_| at));
                let shown = String::from_utf16_lossy(&value);
                Err(self.error(
                    at,
                    format!(
                        "unexpected {got} after identifier `{shown}` at byte {}; expected \
                         {EXPECTED_AFTER_IDENT} (separate operators such as `>` with a space)",
                        self.byte(at)
                    ),
                    EXPECTED_AFTER_IDENT,
                ))
            }
        }
    }

    fn number(&mut self, first: u16, start: usize) -> Result<Token, FqlError> {
        let pos = start;
        let mut text = String::new();
        text.push(char::from_u32(u32::from(first)).unwrap_or('?'));
        let mut len = 0usize;
        let mut decimal = false;
        let mut coming = self.peek();
        while is_digit(coming) || coming == Some(unit('.')) {
            let at = self.pos;
            let Some(c) = self.next() else { break };
            text.push(char::from_u32(u32::from(c)).unwrap_or('?'));
            len += 1;
            if c == unit('.') {
                if is_terminator(self.peek()) {
                    return Err(self.error(
                        at,
                        format!(
                            "number at byte {} ends with a decimal point (byte {}); expected \
                             a digit after it",
                            self.byte(start),
                            self.byte(at)
                        ),
                        "a digit after the decimal point",
                    ));
                }
                if decimal {
                    return Err(self.error(
                        at,
                        format!(
                            "number at byte {} has a second decimal point (byte {})",
                            self.byte(start),
                            self.byte(at)
                        ),
                        "at most one decimal point",
                    ));
                }
                decimal = true;
            }
            if len >= MAX_LEN {
                return Err(self.error(
                    start,
                    format!(
                        "number at byte {} is too long (100000 digits or more)",
                        self.byte(start)
                    ),
                    "a shorter number",
                ));
            }
            coming = self.peek();
        }
        Ok(Token::new(TokenKind::Number, text, pos))
    }

    fn string(&mut self, quote: u16, start: usize) -> Result<Token, FqlError> {
        let pos = start;
        let mut content: Vec<u16> = Vec::new();
        while self.peek() != Some(quote) {
            let Some(c) = self.next() else {
                return Err(self.error(
                    start,
                    format!(
                        "unterminated string starting at byte {}; expected a closing quote",
                        self.byte(start)
                    ),
                    "a closing quote",
                ));
            };
            content.push(c);
            if content.len() >= MAX_LEN {
                return Err(self.error(
                    start,
                    format!(
                        "string at byte {} is too long (100000 characters or more)",
                        self.byte(start)
                    ),
                    "a shorter string",
                ));
            }
        }
        let quote_char = char::from_u32(u32::from(quote)).unwrap_or('"');
        self.accept(&quote_char.to_string());
        let mut value = String::with_capacity(content.len() + 2);
        value.push(quote_char);
        match String::from_utf16(&content) {
            Ok(text) => value.push_str(&text),
            Err(_) => {
                return Err(self.error(
                    start,
                    format!("string at byte {} is not valid text", self.byte(start)),
                    "valid text",
                ));
            }
        }
        value.push(quote_char);
        Ok(Token::new(TokenKind::Str, value, pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_values(src: &str) -> Vec<(TokenKind, String)> {
        match lex(src) {
            Ok(tokens) => tokens.into_iter().map(|t| (t.kind, t.value)).collect(),
            Err(e) => panic!("lex({src:?}) failed: {e}"),
        }
    }

    fn values(src: &str) -> Vec<String> {
        kinds_values(src).into_iter().map(|(_, v)| v).collect()
    }

    #[test]
    fn lexes_a_comparison_with_positions() {
        let tokens = lex("type = \"track\"").unwrap_or_default();
        let got: Vec<(TokenKind, &str, usize)> = tokens
            .iter()
            .map(|t| (t.kind, t.value.as_str(), t.pos))
            .collect();
        assert_eq!(
            got,
            vec![
                (TokenKind::Ident, "type", 0),
                (TokenKind::Operator, "=", 5),
                (TokenKind::Str, "\"track\"", 7),
                (TokenKind::Eos, "eos", 14),
            ]
        );
    }

    #[test]
    fn positions_are_byte_offsets_after_multibyte_characters() {
        let tokens = lex("event = \"é😀\" and x").unwrap_or_default();
        let positions: Vec<usize> = tokens.iter().map(|t| t.pos).collect();
        assert_eq!(positions, vec![0, 6, 8, 17, 21, 22]);
        let err = lex("\"é😀\" @").expect_err("@ is not a token");
        assert_eq!(err.position(), Some(9));
        assert!(
            err.message().contains("\"@\" at byte 9"),
            "{}",
            err.message()
        );
        let err = lex("\"😀").expect_err("unterminated");
        assert_eq!(err.position(), Some(0));
    }

    #[test]
    fn keywords_need_a_terminator() {
        use TokenKind::*;
        assert_eq!(
            kinds_values("a and b or c"),
            vec![
                (Ident, "a".into()),
                (Conditional, "and".into()),
                (Ident, "b".into()),
                (Conditional, "or".into()),
                (Ident, "c".into()),
                (Eos, "eos".into()),
            ]
        );
        assert_eq!(values("android"), vec!["android", "eos"]);
        assert_eq!(values("AND"), vec!["AND", "eos"]);
        assert_eq!(kinds_values("null")[0], (Null, "null".into()));
        assert_eq!(kinds_values("nullx")[0], (Ident, "nullx".into()));
    }

    #[test]
    fn a_keyword_cut_by_the_end_of_input_loses_its_lookahead() {
        // The reference does not put back what it read before hitting the end.
        assert_eq!(values("type = an"), vec!["type", "=", "a", "eos"]);
        assert_eq!(values("x = nul"), vec!["x", "=", "n", "eos"]);
    }

    #[test]
    fn operators() {
        assert_eq!(values("a != b"), vec!["a", "!=", "b", "eos"]);
        assert_eq!(values("a <= 1"), vec!["a", "<=", "1", "eos"]);
        assert_eq!(values("a >=5"), vec!["a", ">", "=", "5", "eos"]);
        assert_eq!(values("a == b"), vec!["a", "=", "=", "b", "eos"]);
        assert_eq!(values("!contains("), vec!["!", "contains", "(", "eos"]);
        assert_eq!(values("a=1"), vec!["a", "=", "1", "eos"]);
    }

    #[test]
    fn operators_glued_to_identifiers_are_errors() {
        for src in [
            "properties.total>40",
            "userId!=null",
            "a@b",
            "!!x",
            "type = \"track\";",
        ] {
            let err = lex(src).expect_err(src);
            assert_eq!(err.kind(), FqlErrorKind::Lex, "{src}");
            assert!(err.position().is_some(), "{src}");
        }
        let err = lex("properties.total>40").expect_err("glued");
        assert_eq!(err.position(), Some(16));
        assert!(err.message().contains("byte 16"), "{}", err.message());
    }

    #[test]
    fn numbers() {
        use TokenKind::*;
        assert_eq!(kinds_values("-5")[0], (Number, "-5".into()));
        assert_eq!(kinds_values("1.5")[0], (Number, "1.5".into()));
        assert_eq!(values("1e5"), vec!["1", "e5", "eos"]);
        assert_eq!(values("-"), vec!["-", "eos"]);
        assert_eq!(values(".5"), vec![".", "5", "eos"]);
        assert_eq!(values("1.a"), vec!["1.", "a", "eos"]);
        assert!(lex("1.").is_err());
        assert!(lex("1. ").is_err());
        assert!(lex("1.2.3").is_err());
    }

    #[test]
    fn strings_keep_their_quotes_and_have_no_escapes() {
        use TokenKind::*;
        assert_eq!(kinds_values("'a b'")[0], (Str, "'a b'".into()));
        assert_eq!(kinds_values("\"a\\\\b\"")[0], (Str, "\"a\\\\b\"".into()));
        assert_eq!(kinds_values("\"café ☕\"")[0], (Str, "\"café ☕\"".into()));
        assert!(lex("\"unterminated").is_err());
        assert!(lex("'unterminated").is_err());
        // A closing quote not followed by a terminator also opens the next string.
        assert_eq!(values("\"a\"\"b\""), vec!["\"a\"", "\"\"", "\"b\"", "eos"]);
        assert!(lex("\"with \\\"escaped\\\" quotes\"").is_err());
    }

    #[test]
    fn identifiers_and_escapes() {
        assert_eq!(values("a\\.b"), vec!["a.b", "eos"]);
        assert_eq!(values("a\\ b\\ c"), vec!["a b c", "eos"]);
        assert_eq!(values("a\\é"), vec!["aé", "eos"]);
        assert_eq!(values("_x-1"), vec!["_x-1", "eos"]);
        assert_eq!(values("\\x"), vec!["x", "eos"]);
        // An escaped astral character leaves half a surrogate pair behind: an error.
        assert!(lex("a\\😀").is_err());
        assert!(lex("b\\").is_err());
        // `a` first tries to be `and`; reading ahead into the end loses the backslash.
        assert_eq!(values("a\\"), vec!["a", "eos"]);
        assert!(lex("properties.😀").is_err());
    }

    #[test]
    fn carriage_return_is_not_whitespace() {
        assert!(lex("a\r\nb").is_err());
        assert_eq!(values("a\n\tb"), vec!["a", "b", "eos"]);
    }

    #[test]
    fn length_limits_count_utf16_units() {
        let long = format!("\"{}\"", "a".repeat(99_999));
        assert!(lex(&long).is_ok());
        let too_long = format!("\"{}\"", "a".repeat(100_000));
        assert!(lex(&too_long).is_err());
        let astral = format!("\"{}\"", "😀".repeat(50_000));
        assert!(lex(&astral).is_err());
        assert!(lex(&"a".repeat(100_000)).is_err());
        assert!(lex(&"a".repeat(99_999)).is_ok());
    }
}
