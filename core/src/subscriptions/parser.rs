//! The FQL parser: reproduces `parseFql` of `@segment/destination-subscriptions` 3.37.0
//! over the tokens of [`lexer`](super::lexer), quirks included (see the module docs of
//! [`subscriptions`](super)).
//!
//! It is a token-queue parser like the reference's: a loop over one nesting level that
//! recognises a condition at a field identifier, a function at `contains`/`match`
//! (optionally after `!`), a group at `(`, and remembers the last `and`/`or`; anything
//! else is skipped. A group is the run of tokens up to the first `)`, parsed on its own,
//! so groups cannot nest (recursion never goes deeper than one group).

use std::collections::VecDeque;

use super::ast::{Condition, Field, Group, GroupOperator, Leaf, Literal, Operator};
use super::error::{FqlError, FqlErrorKind};
use super::js::{self, Proto};
use super::lexer::{self, Token, TokenKind};

/// Parses FQL into its root group (a lone condition is wrapped in an `and` group).
pub(crate) fn parse(src: &str, strict: bool) -> Result<Group, FqlError> {
    let tokens = normalize(lexer::lex(src)?);
    let first_pos = tokens.first().map_or(0, |t| t.pos);
    let mut queue: VecDeque<Token> = tokens.into();
    let parser = Parser { strict };
    match parser.level(&mut queue, 0)? {
        None => Err(FqlError::new(
            FqlErrorKind::Structure,
            format!(
                "no condition found (byte {first_pos}); expected a comparison such as \
                 `type = \"track\"`, `contains(...)`, `match(...)` or a parenthesised group \
                 (unknown words, including upper-case AND/OR, are ignored)"
            ),
        )
        .at(first_pos)
        .expecting("a condition")),
        Some(PNode::Group(operator, children)) => Ok(Group {
            operator,
            children: children
                .into_iter()
                .map(PNode::into_condition)
                .collect::<Result<_, _>>()?,
        }),
        Some(node) => Ok(Group {
            operator: GroupOperator::And,
            children: vec![node.into_condition()?],
        }),
    }
}

/// Joins `ident . ident` into one identifier (`properties.a.b`), as the reference does.
fn normalize(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut iter = tokens.into_iter().peekable();
    while let Some(current) = iter.next() {
        let joins = current.kind == TokenKind::Dot
            && out.last().is_some_and(|t| t.kind == TokenKind::Ident)
            && iter.peek().is_some_and(|t| t.kind == TokenKind::Ident);
        if joins {
            if let (Some(last), Some(next)) = (out.last_mut(), iter.next()) {
                last.value.push('.');
                last.value.push_str(&next.value);
            }
        } else {
            out.push(current);
        }
    }
    out
}

/// A node of the parse, before empty groups are ruled out.
enum PNode {
    Leaf(Leaf),
    Group(GroupOperator, Vec<PNode>),
    /// A group with nothing recognisable in it (`()`), at this byte offset. The reference
    /// keeps it as an `undefined` child that makes `validate` and `generateFql` throw.
    Empty(usize),
}

impl PNode {
    fn into_condition(self) -> Result<Condition, FqlError> {
        match self {
            PNode::Leaf(leaf) => Ok(Condition::Leaf(leaf)),
            PNode::Group(operator, children) => Ok(Condition::Group(Group {
                operator,
                children: children
                    .into_iter()
                    .map(PNode::into_condition)
                    .collect::<Result<_, _>>()?,
            })),
            PNode::Empty(pos) => Err(FqlError::new(
                FqlErrorKind::Structure,
                format!(
                    "empty group: the parentheses at byte {pos} contain no condition; expected \
                     a condition inside them"
                ),
            )
            .at(pos)
            .expecting("a condition inside the parentheses")),
        }
    }
}

/// The field kinds a condition can start with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    EventType,
    Event,
    Name,
    UserId,
    Property,
    Trait,
    Context,
}

impl FieldKind {
    fn path_field(self, ident: &str) -> Field {
        let strip = |prefix: &str| ident.strip_prefix(prefix).unwrap_or(ident).to_string();
        match self {
            FieldKind::Property => Field::Property(strip("properties.")),
            FieldKind::Trait => Field::Trait(strip("traits.")),
            FieldKind::Context => Field::Context(strip("context.")),
            FieldKind::EventType => Field::EventType,
            FieldKind::Event => Field::Event,
            FieldKind::Name => Field::Name,
            FieldKind::UserId => Field::UserId,
        }
    }
}

/// What the reference's `tokenToConditionType[word]` finds for the first segment of an
/// identifier: one of its own keys, a member inherited from `Object.prototype`
/// (`constructor`, `toString`, ...: truthy, so the operator and value tokens are taken,
/// but no condition is built), or nothing.
enum Lookup {
    Field(FieldKind),
    Inherited,
    Nothing,
}

fn lookup(word: &str) -> Lookup {
    match word {
        "type" => Lookup::Field(FieldKind::EventType),
        "event" => Lookup::Field(FieldKind::Event),
        "name" => Lookup::Field(FieldKind::Name),
        "userId" => Lookup::Field(FieldKind::UserId),
        "properties" => Lookup::Field(FieldKind::Property),
        "traits" => Lookup::Field(FieldKind::Trait),
        "context" => Lookup::Field(FieldKind::Context),
        other if js::inherits(Proto::Object, other) => Lookup::Inherited,
        _ => Lookup::Nothing,
    }
}

/// The reference's `getTokenValue`: strings lose one leading and one trailing double
/// quote (single quotes stay), numbers become `Number(text)`, `true`/`false` identifiers
/// become booleans, anything else its token text.
fn token_literal(token: &Token) -> Literal {
    match token.kind {
        TokenKind::Str => {
            let v = token.value.strip_prefix('"').unwrap_or(&token.value);
            Literal::String(v.strip_suffix('"').unwrap_or(v).to_string())
        }
        TokenKind::Number => Literal::Number(js::string_to_number(&token.value)),
        TokenKind::Ident if token.value == "true" => Literal::Bool(true),
        TokenKind::Ident if token.value == "false" => Literal::Bool(false),
        _ => Literal::String(token.value.clone()),
    }
}

/// `String(getTokenValue(token))`.
fn token_string(token: &Token) -> String {
    token_literal(token).to_js_string()
}

fn is_function(token: Option<&Token>) -> bool {
    token.is_some_and(|t| {
        t.kind == TokenKind::Ident && (t.value == "contains" || t.value == "match")
    })
}

fn strict_error(pos: usize, message: String, expected: &str) -> FqlError {
    FqlError::new(FqlErrorKind::Strict, message)
        .at(pos)
        .expecting(expected)
}

struct Parser {
    strict: bool,
}

impl Parser {
    /// Parses one nesting level: the reference's `parse(tokens)`.
    fn level(&self, tokens: &mut VecDeque<Token>, depth: usize) -> Result<Option<PNode>, FqlError> {
        let mut nodes: Vec<PNode> = Vec::new();
        let mut operator = GroupOperator::And;
        let mut conjunctions: (Option<usize>, Option<usize>) = (None, None);
        while let Some(token) = tokens.pop_front() {
            if token.kind == TokenKind::Eos {
                break;
            }
            let mut handled = false;
            if token.kind == TokenKind::Ident {
                let first_segment = token.value.split('.').next().unwrap_or_default();
                match lookup(first_segment) {
                    Lookup::Field(kind) => {
                        handled = true;
                        nodes.push(PNode::Leaf(self.comparison(kind, &token, tokens)?));
                    }
                    Lookup::Inherited => {
                        let (_, _) = take_operator_and_value(&token, tokens)?;
                        if self.strict {
                            return Err(strict_error(
                                token.pos,
                                format!("unknown field `{}` at byte {}", token.value, token.pos),
                                "one of type, event, name, userId, properties.*, traits.*, context.*",
                            ));
                        }
                        handled = true;
                    }
                    Lookup::Nothing => {}
                }
                if is_function(Some(&token)) {
                    handled = true;
                    if let Some(leaf) = self.function(&token, false, tokens)? {
                        nodes.push(PNode::Leaf(leaf));
                    }
                }
            }
            if token.kind == TokenKind::Operator
                && token.value == "!"
                && is_function(tokens.front())
                && let Some(function) = tokens.pop_front()
            {
                handled = true;
                if let Some(leaf) = self.function(&function, true, tokens)? {
                    nodes.push(PNode::Leaf(leaf));
                }
            }
            if token.kind == TokenKind::ParenLeft {
                handled = true;
                nodes.push(self.group(&token, tokens, depth)?);
            }
            if token.kind == TokenKind::Conditional {
                handled = true;
                operator = GroupOperator::from_name(&token.value);
                match operator {
                    GroupOperator::And => conjunctions.0 = conjunctions.0.or(Some(token.pos)),
                    _ => conjunctions.1 = conjunctions.1.or(Some(token.pos)),
                }
            }
            if self.strict && !handled {
                return Err(strict_error(
                    token.pos,
                    format!(
                        "unexpected `{}` at byte {}: it would be ignored; expected a condition, \
                         `and`/`or` or parentheses (write conjunctions in lower case)",
                        token.value, token.pos
                    ),
                    "a condition, `and`/`or` or parentheses",
                ));
            }
        }
        if self.strict
            && let (Some(and_pos), Some(or_pos)) = conjunctions
        {
            let pos = and_pos.max(or_pos);
            return Err(strict_error(
                pos,
                format!(
                    "`and` and `or` are mixed at one level (byte {pos}); FQL has no \
                     precedence (all terms would use the last one), so add parentheses"
                ),
                "parentheses around the `and` or the `or` terms",
            ));
        }
        Ok(match nodes.len() {
            0 => None,
            1 => nodes.pop(),
            _ => Some(PNode::Group(operator, nodes)),
        })
    }

    /// A parenthesised group: every token up to the first `)`, parsed on its own.
    fn group(
        &self,
        open: &Token,
        tokens: &mut VecDeque<Token>,
        depth: usize,
    ) -> Result<PNode, FqlError> {
        let mut inner: VecDeque<Token> = VecDeque::new();
        loop {
            match tokens.pop_front() {
                Some(t) if t.kind == TokenKind::ParenRight => break,
                Some(t) => inner.push_back(t),
                None => {
                    let message = if depth == 0 {
                        format!(
                            "missing `)` for the `(` at byte {}; expected `)` before the end of \
                             the input",
                            open.pos
                        )
                    } else {
                        format!(
                            "nested parentheses are not supported: the `(` at byte {} is inside \
                             another group, which ends at the first `)`",
                            open.pos
                        )
                    };
                    return Err(FqlError::new(FqlErrorKind::Structure, message)
                        .at(open.pos)
                        .expecting("`)`"));
                }
            }
        }
        let end = inner.back().map_or(open.pos, |t| t.pos);
        inner.push_back(Token::new(TokenKind::Eos, "eos", end));
        match self.level(&mut inner, depth + 1)? {
            Some(node) => Ok(node),
            None => Ok(PNode::Empty(open.pos)),
        }
    }

    /// `field op value` for a field identifier.
    fn comparison(
        &self,
        kind: FieldKind,
        field: &Token,
        tokens: &mut VecDeque<Token>,
    ) -> Result<Leaf, FqlError> {
        let (op, value) = take_operator_and_value(field, tokens)?;
        if self.strict {
            check_strict_comparison(field, &op, &value)?;
        }
        let is_true = op.value == "=" && value.value == "true";
        let is_false = op.value == "=" && value.value == "false";
        let is_exists = op.value == "!=" && value.value == "null";
        let is_not_exists = op.value == "=" && value.value == "null";
        let is_number_equals = op.value == "=" && value.kind == TokenKind::Number;
        let is_number_not_equals = op.value == "!=" && value.kind == TokenKind::Number;
        let literal_op = Operator::from_name(&op.value);
        let leaf = |field: Field, operator: Operator, value: Option<Literal>| Leaf {
            field,
            operator,
            value,
        };
        let as_string = || Some(Literal::String(token_string(&value)));
        Ok(match kind {
            FieldKind::Event | FieldKind::EventType => {
                leaf(kind.path_field(&field.value), literal_op, as_string())
            }
            FieldKind::Name => {
                if is_exists {
                    leaf(Field::Name, Operator::Exists, None)
                } else if is_not_exists {
                    leaf(Field::Name, Operator::NotExists, None)
                } else {
                    leaf(Field::Name, literal_op, as_string())
                }
            }
            FieldKind::UserId => {
                if is_exists {
                    leaf(Field::UserId, Operator::Exists, None)
                } else if is_not_exists {
                    leaf(Field::UserId, Operator::NotExists, None)
                } else if is_true {
                    leaf(Field::UserId, Operator::IsTrue, None)
                } else if is_false {
                    leaf(Field::UserId, Operator::IsFalse, None)
                } else {
                    leaf(Field::UserId, literal_op, as_string())
                }
            }
            FieldKind::Property | FieldKind::Trait | FieldKind::Context => {
                let f = kind.path_field(&field.value);
                if is_exists {
                    leaf(f, Operator::Exists, None)
                } else if is_not_exists {
                    leaf(f, Operator::NotExists, None)
                } else if is_true {
                    leaf(f, Operator::IsTrue, None)
                } else if is_false {
                    leaf(f, Operator::IsFalse, None)
                } else if is_number_equals {
                    leaf(f, Operator::NumberEquals, Some(token_literal(&value)))
                } else if is_number_not_equals {
                    leaf(f, Operator::NumberNotEquals, Some(token_literal(&value)))
                } else {
                    leaf(f, literal_op, Some(token_literal(&value)))
                }
            }
        })
    }

    /// `contains(field, value)` / `match(field, pattern)`, possibly negated. The
    /// reference takes the five tokens after the name by position, whatever they are.
    fn function(
        &self,
        name: &Token,
        negate: bool,
        tokens: &mut VecDeque<Token>,
    ) -> Result<Option<Leaf>, FqlError> {
        let fname = name.value.as_str();
        let open = tokens.pop_front();
        let Some(field) = tokens.pop_front() else {
            return Err(FqlError::new(
                FqlErrorKind::Parser,
                format!("{fname}() is missing a 1st argument"),
            )
            .at(name.pos)
            .expecting("a field as the 1st argument"));
        };
        let comma = tokens.pop_front();
        let Some(value) = tokens.pop_front() else {
            return Err(FqlError::new(
                FqlErrorKind::Parser,
                format!("{fname}() is missing a 2nd argument"),
            )
            .at(field.pos)
            .expecting("a quoted string as the 2nd argument"));
        };
        let close = tokens.pop_front();
        if self.strict {
            check_strict_function(
                name,
                open.as_ref(),
                &field,
                comma.as_ref(),
                &value,
                close.as_ref(),
            )?;
        }
        let target = field.value.as_str();
        let field = match target {
            "event" => Field::Event,
            "name" => Field::Name,
            "userId" => Field::UserId,
            _ if target.starts_with("properties") => FieldKind::Property.path_field(target),
            _ if target.starts_with("traits") => FieldKind::Trait.path_field(target),
            _ if target.starts_with("context") => FieldKind::Context.path_field(target),
            // `type` and anything else: the reference builds no condition.
            _ => return Ok(None),
        };
        let (operator, text) = if fname == "contains" {
            let op = if negate {
                Operator::NotContains
            } else {
                Operator::Contains
            };
            (op, token_string(&value))
        } else if value.value.ends_with("*\"") {
            let op = if negate {
                Operator::NotStartsWith
            } else {
                Operator::StartsWith
            };
            (op, drop_last_unit(&token_string(&value), &value)?)
        } else {
            let op = if negate {
                Operator::NotEndsWith
            } else {
                Operator::EndsWith
            };
            (op, drop_first_unit(&token_string(&value), &value)?)
        };
        Ok(Some(Leaf {
            field,
            operator,
            value: Some(Literal::String(text)),
        }))
    }
}

fn take_operator_and_value(
    field: &Token,
    tokens: &mut VecDeque<Token>,
) -> Result<(Token, Token), FqlError> {
    let Some(op) = tokens.pop_front() else {
        return Err(
            FqlError::new(FqlErrorKind::Parser, "Operator token is missing")
                .at(field.pos)
                .expecting("an operator (=, !=, <, <=, >, >=) after the field"),
        );
    };
    let Some(value) = tokens.pop_front() else {
        return Err(
            FqlError::new(FqlErrorKind::Parser, "Value token is missing")
                .at(op.pos)
                .expecting(
                    "a value (a quoted string, a number, true, false or null) after the operator",
                ),
        );
    };
    Ok((op, value))
}

/// `String(...).slice(1)`: drops the first UTF-16 code unit.
fn drop_first_unit(text: &str, token: &Token) -> Result<String, FqlError> {
    let mut chars = text.chars();
    match chars.next() {
        None => Ok(String::new()),
        Some(c) if c.len_utf16() == 1 => Ok(chars.as_str().to_string()),
        Some(_) => Err(surrogate_split(token)),
    }
}

/// `String(...).slice(0, -1)`: drops the last UTF-16 code unit.
fn drop_last_unit(text: &str, token: &Token) -> Result<String, FqlError> {
    let mut chars = text.chars();
    match chars.next_back() {
        None => Ok(String::new()),
        Some(c) if c.len_utf16() == 1 => Ok(chars.as_str().to_string()),
        Some(_) => Err(surrogate_split(token)),
    }
}

fn surrogate_split(token: &Token) -> FqlError {
    FqlError::new(
        FqlErrorKind::Unsupported,
        format!(
            "match() pattern at byte {} starts with a character outside the Basic Multilingual \
             Plane and has no `*`: the reference would cut that character in half; expected a \
             pattern starting or ending with `*`",
            token.pos
        ),
    )
    .at(token.pos)
    .expecting("a pattern starting or ending with `*`")
}

fn check_strict_comparison(field: &Token, op: &Token, value: &Token) -> Result<(), FqlError> {
    let op_ok = op.kind == TokenKind::Operator && op.value != "!";
    if !op_ok {
        return Err(strict_error(
            op.pos,
            format!(
                "expected an operator (=, !=, <, <=, >, >=) after `{}` at byte {}, found `{}`",
                field.value, op.pos, op.value
            ),
            "=, !=, <, <=, >, >=",
        ));
    }
    check_strict_value(
        value,
        "a quoted string, a number, true, false or null",
        true,
    )
}

fn check_strict_value(value: &Token, expected: &str, allow_bare: bool) -> Result<(), FqlError> {
    let ok = match value.kind {
        TokenKind::Str => value.value.starts_with('"'),
        TokenKind::Number | TokenKind::Null => allow_bare,
        TokenKind::Ident => allow_bare && (value.value == "true" || value.value == "false"),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let hint = if value.value.starts_with('\'') {
        " (single-quoted strings keep their quotes; use double quotes)"
    } else {
        ""
    };
    Err(strict_error(
        value.pos,
        format!(
            "expected {expected} at byte {}, found `{}`{hint}",
            value.pos, value.value
        ),
        expected,
    ))
}

fn check_strict_function(
    name: &Token,
    open: Option<&Token>,
    field: &Token,
    comma: Option<&Token>,
    value: &Token,
    close: Option<&Token>,
) -> Result<(), FqlError> {
    let expect = |token: Option<&Token>, kind: TokenKind, text: &str| match token {
        Some(t) if t.kind == kind => Ok(()),
        Some(t) => Err(strict_error(
            t.pos,
            format!(
                "expected `{text}` in {}() at byte {}, found `{}`",
                name.value, t.pos, t.value
            ),
            text,
        )),
        None => Err(strict_error(
            name.pos,
            format!("expected `{text}` in {}() at byte {}", name.value, name.pos),
            text,
        )),
    };
    expect(open, TokenKind::ParenLeft, "(")?;
    let known = field.kind == TokenKind::Ident
        && (matches!(field.value.as_str(), "event" | "name" | "userId")
            || ["properties.", "traits.", "context."]
                .iter()
                .any(|p| field.value.starts_with(p)));
    if !known {
        return Err(strict_error(
            field.pos,
            format!(
                "expected a field (event, name, userId, properties.*, traits.*, context.*) as \
                 the 1st argument of {}() at byte {}, found `{}`",
                name.value, field.pos, field.value
            ),
            "event, name, userId, properties.*, traits.* or context.*",
        ));
    }
    expect(comma, TokenKind::Comma, ",")?;
    check_strict_value(value, "a double-quoted string", false)?;
    if name.value == "match" {
        let pattern = value.value.trim_matches('"');
        if !pattern.starts_with('*') && !pattern.ends_with('*') {
            return Err(strict_error(
                value.pos,
                format!(
                    "match() pattern at byte {} has no `*`; the reference would read it as \
                     \"ends with\" minus its first character",
                    value.pos
                ),
                "a pattern `prefix*` or `*suffix`",
            ));
        }
    }
    expect(close, TokenKind::ParenRight, ")")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ast(src: &str) -> Value {
        match parse(src, false) {
            Ok(g) => g.to_reference_json(),
            Err(e) => panic!("parse({src:?}) failed: {e}"),
        }
    }

    fn children(src: &str) -> Value {
        ast(src)["children"].clone()
    }

    fn err(src: &str) -> FqlError {
        match parse(src, false) {
            Ok(g) => panic!("parse({src:?}) should fail, got {}", g.to_reference_json()),
            Err(e) => e,
        }
    }

    #[test]
    fn single_condition_is_wrapped_in_an_and_group() {
        assert_eq!(
            ast("type = \"track\""),
            json!({"type": "group", "operator": "and", "children": [
                {"type": "event-type", "operator": "=", "value": "track"}
            ]})
        );
    }

    #[test]
    fn all_terms_of_a_level_use_the_last_conjunction() {
        assert_eq!(
            ast("type = \"a\" and event = \"b\" or type = \"c\"")["operator"],
            "or"
        );
        assert_eq!(
            ast("type = \"a\" or event = \"b\" and type = \"c\"")["operator"],
            "and"
        );
        assert_eq!(
            children("type = \"a\" or type = \"b\" and type = \"c\"")
                .as_array()
                .map(Vec::len),
            Some(3)
        );
    }

    #[test]
    fn groups_end_at_the_first_closing_parenthesis() {
        let g = ast("type = \"t\" and (event = \"a\" or event = \"b\")");
        assert_eq!(g["children"][1]["operator"], "or");
        // A function call inside parentheses closes the group early.
        let g =
            ast("(contains(event, \"A\") or contains(event, \"B\")) and properties.total >= 42");
        assert_eq!(g["operator"], "and");
        assert_eq!(g["children"].as_array().map(Vec::len), Some(3));
        // Parenthesised single conditions flatten.
        assert_eq!(
            ast("(type = \"a\") and (event = \"b\")")["children"][1]["type"],
            "event"
        );
        assert_eq!(err("((type = \"track\"))").kind(), FqlErrorKind::Structure);
        assert!(
            err("((type = \"track\"))")
                .message()
                .contains("nested parentheses")
        );
        assert!(err("(type = \"track\"").message().contains("missing `)`"));
    }

    #[test]
    fn empty_groups_are_rejected() {
        for src in ["()", "() and type = \"track\"", "type = \"x\" or ( )"] {
            let e = err(src);
            assert_eq!(e.kind(), FqlErrorKind::Structure, "{src}");
            assert!(e.message().contains("empty group"), "{src}: {e}");
        }
        // The reference's own errors still win when they come later in the input.
        assert_eq!(err("() type").message(), "Value token is missing");
    }

    #[test]
    fn reference_parser_messages() {
        assert_eq!(err("type").message(), "Value token is missing");
        assert_eq!(err("type").position(), Some(4));
        assert_eq!(err("(type)").message(), "Value token is missing");
        assert_eq!(
            err("contains").message(),
            "contains() is missing a 1st argument"
        );
        assert_eq!(
            err("contains()").message(),
            "contains() is missing a 2nd argument"
        );
        assert_eq!(
            err("match(event").message(),
            "match() is missing a 2nd argument"
        );
        assert_eq!(err("!match").message(), "match() is missing a 1st argument");
        for e in [err("type"), err("contains()")] {
            assert_eq!(e.kind(), FqlErrorKind::Parser);
            assert_eq!(e.reference_class(), "Error");
        }
    }

    #[test]
    fn nothing_recognisable_is_a_structure_error() {
        for src in [
            "",
            " ",
            "typo",
            "and",
            "TYPE = \"track\"",
            "\"track\"",
            "contains(type, \"x\")",
        ] {
            let e = err(src);
            assert_eq!(e.kind(), FqlErrorKind::Structure, "{src:?}");
            assert_eq!(e.reference_class(), "TypeError");
        }
    }

    #[test]
    fn inherited_object_members_swallow_two_tokens() {
        // `constructor` is found on Object.prototype: the reference takes `type` and `=`
        // as its operator and value and builds nothing.
        assert_eq!(
            err("constructor type = \"track\"").kind(),
            FqlErrorKind::Structure
        );
        assert_eq!(
            children("typo type = \"track\"").as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            children("__proto__ = 1 type = \"track\"")[0]["type"],
            "event-type"
        );
    }

    #[test]
    fn typed_values_on_paths_and_strings_elsewhere() {
        assert_eq!(
            children("properties.total = 42")[0],
            json!({"type": "event-property", "name": "total", "operator": "number_equals", "value": 42})
        );
        assert_eq!(
            children("properties.total != 42")[0]["operator"],
            "number_not_equals"
        );
        assert_eq!(children("properties.total = \"42\"")[0]["value"], "42");
        assert_eq!(children("properties.ok = true")[0]["operator"], "is_true");
        assert_eq!(
            children("properties.ok != true")[0],
            json!({"type": "event-property", "name": "ok", "operator": "!=", "value": true})
        );
        assert_eq!(children("traits.x = null")[0]["operator"], "not_exists");
        assert_eq!(children("context.x != null")[0]["operator"], "exists");
        assert_eq!(children("userId = 123")[0]["value"], "123");
        assert_eq!(children("userId = true")[0]["operator"], "is_true");
        assert_eq!(children("name = null")[0]["operator"], "not_exists");
        assert_eq!(children("name = true")[0]["value"], "true");
        assert_eq!(
            children("event != null")[0],
            json!({"type": "event", "operator": "!=", "value": "null"})
        );
        assert_eq!(children("type = 1.50")[0]["value"], "1.5");
        assert_eq!(
            children("properties.total = -")[0]["value"],
            json!({"$number": "NaN"})
        );
        assert_eq!(children("properties.a.b = 1")[0]["name"], "a.b");
        assert_eq!(children("properties.a\\ b = 1")[0]["name"], "a b");
    }

    #[test]
    fn odd_tokens_in_operator_and_value_places_are_kept() {
        assert_eq!(children("type = ")[0]["value"], "eos");
        assert_eq!(children("type \"track\"")[0]["operator"], "\"track\"");
        assert_eq!(children("type == \"track\"")[0]["value"], "=");
        assert_eq!(
            children("properties.")[0],
            json!({"type": "event-property", "name": "properties", "operator": ".", "value": "eos"})
        );
        assert_eq!(children("event = ''")[0]["value"], "''");
        assert_eq!(children("traits.age >")[0]["value"], "eos");
    }

    #[test]
    fn functions() {
        assert_eq!(
            children("contains(event, \"Nike\")")[0],
            json!({"type": "event", "operator": "contains", "value": "Nike"})
        );
        assert_eq!(
            children("!contains(properties.a, 4)")[0],
            json!({"type": "event-property", "name": "a", "operator": "not_contains", "value": "4"})
        );
        assert_eq!(
            children("match(event, \"X*\")")[0]["operator"],
            "starts_with"
        );
        assert_eq!(children("match(event, \"*X\")")[0]["operator"], "ends_with");
        assert_eq!(children("match(event, \"*X\")")[0]["value"], "X");
        // Without `*` the first character is dropped and the pattern means "ends with".
        assert_eq!(
            children("match(event, \"abc\")")[0],
            json!({"type": "event", "operator": "ends_with", "value": "bc"})
        );
        assert_eq!(children("!match(traits.x, \"*der*\")")[0]["value"], "*der");
        assert_eq!(
            children("contains(propertiesX, \"a\")")[0]["name"],
            "propertiesX"
        );
        assert_eq!(children("contains(event, )")[0]["value"], ")");
        assert_eq!(
            err("match(event, \"😀\")").kind(),
            FqlErrorKind::Unsupported
        );
        assert_eq!(children("match(event, \"😀*\")")[0]["value"], "😀");
        // No condition is built for `type`, so nothing is cut either.
        assert_eq!(err("match(type, \"😀\")").kind(), FqlErrorKind::Structure);
    }

    #[test]
    fn strict_mode_rejects_ambiguity_and_ignored_tokens() {
        let ok = [
            "type = \"track\" and (event = \"a\" or event = \"b\")",
            "contains(properties.email, \"@x\") or match(event, \"Order*\")",
            "properties.total >= 10 and userId != null",
        ];
        for src in ok {
            assert!(parse(src, true).is_ok(), "{src}");
        }
        let bad = [
            "type = \"a\" and event = \"b\" or type = \"c\"",
            "type = \"a\" OR type = \"b\"",
            "typo = 1 and type = \"a\"",
            "type \"track\"",
            "event = 'x'",
            "match(event, \"abc\")",
            "contains(event \"x\")",
            "type = \"a\")",
            "constructor = 1 and type = \"a\"",
        ];
        for src in bad {
            let e = parse(src, true).expect_err(src);
            assert_eq!(e.kind(), FqlErrorKind::Strict, "{src}: {e}");
            assert!(e.position().is_some(), "{src}");
            assert!(
                parse(src, false).is_ok(),
                "{src} is accepted when not strict"
            );
        }
    }
}
