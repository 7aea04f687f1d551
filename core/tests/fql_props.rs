//! Property tests of the subscription language.
//!
//! * `parse(print(ast)) == ast` for generated ASTs. FQL cannot write every AST the
//!   reference's JSON shape allows (`generateFql` output often does not re-parse to the
//!   same AST), so the generator stays inside what the printer represents faithfully:
//!   - the root group has one leaf, or two or more children; a child group has two or
//!     more leaves, no group and no function call inside it (groups do not nest in FQL and
//!     end at the first `)`; a one-child group prints without its parentheses);
//!   - group operators are `and`/`or`;
//!   - operators per field as the parser produces them: on `type`/`event`/`name`/`userId`
//!     string values (`=`, `!=`, and relational operators with integer text), `exists`
//!     and friends only where the parser makes them (`name`, `userId`), string functions
//!     not on `type`; on paths `=` with a string, `!=` with a string or boolean,
//!     relational and `number_*` operators with finite numbers printed without exponent,
//!     `exists`, `not_exists`, `is_true`, `is_false`, the string functions;
//!   - strings contain no `"` (the printer does not escape it); an `ends_with` value is
//!     not empty and does not end with `*` (it would print as a `starts_with` pattern);
//!   - path segments are non-empty, do not start with a digit or `-` (that would lex as a
//!     number) and are not `and`, `or` or `null` (keywords); other characters are free,
//!     the printer escapes them (characters outside the BMP excepted: the lexer cannot
//!     escape half a surrogate pair).
//! * `parse` and `parse_strict` never panic, on arbitrary text and on FQL-like token soup;
//!   error positions are valid byte offsets; what `parse_strict` accepts, `parse` accepts
//!   with the same AST.
//! * Matching never panics on arbitrary events, and a `Subscription` agrees with
//!   `validate` on the same AST.
//! * Matching allocates nothing (a counting global allocator checks it).

mod common;

use actions_core::subscriptions::{
    Ast, Condition, Field, Group, GroupOperator, Leaf, Literal, Operator, Subscription,
    generate_fql, validate,
};
use common::alloc::{CountingAllocator, allocations};
use proptest::prelude::*;
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn string_value() -> impl Strategy<Value = String> {
    "[^\"]{0,12}"
}

fn ends_with_value() -> impl Strategy<Value = String> {
    "[^\"]{0,11}[^\"*]"
}

/// A number that JavaScript prints without an exponent and that is not `-0`.
fn plain_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64),
        (-100_000_000i64..100_000_000).prop_map(|n| n as f64 / 1000.0),
        (1u32..1_000_000).prop_map(|n| f64::from(n) / 1e6),
    ]
    .prop_filter("no negative zero", |x| !(*x == 0.0 && x.is_sign_negative()))
}

fn path_char_escaped() -> impl Strategy<Value = char> {
    any::<char>().prop_filter("BMP, needs escaping", |c| {
        c.len_utf16() == 1 && !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}

fn segment() -> impl Strategy<Value = String> {
    let first = prop_oneof![
        4 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '_'..='_'].into()),
        1 => path_char_escaped(),
    ];
    let rest = proptest::collection::vec(
        prop_oneof![
            6 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9', '_'..='_', '-'..='-'].into()),
            1 => path_char_escaped(),
        ],
        0..6,
    );
    (first, rest)
        .prop_map(|(f, r)| std::iter::once(f).chain(r).collect::<String>())
        .prop_filter("not a keyword", |s| {
            !matches!(s.as_str(), "and" | "or" | "null")
        })
}

fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec(segment(), 1..4).prop_map(|s| s.join("."))
}

fn string_function() -> impl Strategy<Value = (Operator, String)> {
    prop_oneof![
        (
            prop_oneof![Just(Operator::Contains), Just(Operator::NotContains)],
            string_value()
        ),
        (
            prop_oneof![Just(Operator::StartsWith), Just(Operator::NotStartsWith)],
            string_value()
        ),
        (
            prop_oneof![Just(Operator::EndsWith), Just(Operator::NotEndsWith)],
            ends_with_value()
        ),
    ]
}

fn relational() -> impl Strategy<Value = Operator> {
    prop_oneof![
        Just(Operator::LessThan),
        Just(Operator::LessThanOrEqual),
        Just(Operator::GreaterThan),
        Just(Operator::GreaterThanOrEqual),
    ]
}

fn top_level_leaf() -> impl Strategy<Value = Leaf> {
    let field = prop_oneof![
        Just(Field::EventType),
        Just(Field::Event),
        Just(Field::Name),
        Just(Field::UserId)
    ];
    let string_leaf = (
        field.clone(),
        prop_oneof![Just(Operator::Equals), Just(Operator::NotEquals)],
        string_value(),
    )
        .prop_map(|(field, operator, v)| Leaf {
            field,
            operator,
            value: Some(Literal::String(v)),
        });
    let relational_leaf =
        (field, relational(), -1_000_000i64..1_000_000).prop_map(|(field, operator, n)| Leaf {
            field,
            operator,
            value: Some(Literal::String(n.to_string())),
        });
    let function_leaf = (
        prop_oneof![Just(Field::Event), Just(Field::Name), Just(Field::UserId)],
        string_function(),
    )
        .prop_map(|(field, (operator, v))| Leaf {
            field,
            operator,
            value: Some(Literal::String(v)),
        });
    let existence = prop_oneof![
        (
            prop_oneof![Just(Field::Name), Just(Field::UserId)],
            prop_oneof![Just(Operator::Exists), Just(Operator::NotExists)]
        ),
        (
            Just(Field::UserId),
            prop_oneof![Just(Operator::IsTrue), Just(Operator::IsFalse)]
        ),
    ]
    .prop_map(|(field, operator)| Leaf {
        field,
        operator,
        value: None,
    });
    prop_oneof![string_leaf, relational_leaf, function_leaf, existence]
}

fn path_leaf() -> impl Strategy<Value = Leaf> {
    let field = (0..3u8, path()).prop_map(|(k, p)| match k {
        0 => Field::Property(p),
        1 => Field::Trait(p),
        _ => Field::Context(p),
    });
    let value_op = prop_oneof![
        string_value().prop_map(|s| (Operator::Equals, Some(Literal::String(s)))),
        string_value().prop_map(|s| (Operator::NotEquals, Some(Literal::String(s)))),
        any::<bool>().prop_map(|b| (Operator::NotEquals, Some(Literal::Bool(b)))),
        (relational(), plain_number()).prop_map(|(o, n)| (o, Some(Literal::Number(n)))),
        (
            prop_oneof![
                Just(Operator::NumberEquals),
                Just(Operator::NumberNotEquals)
            ],
            plain_number()
        )
            .prop_map(|(o, n)| (o, Some(Literal::Number(n)))),
        prop_oneof![
            Just(Operator::Exists),
            Just(Operator::NotExists),
            Just(Operator::IsTrue),
            Just(Operator::IsFalse)
        ]
        .prop_map(|o| (o, None)),
        string_function().prop_map(|(o, s)| (o, Some(Literal::String(s)))),
    ];
    (field, value_op).prop_map(|(field, (operator, value))| Leaf {
        field,
        operator,
        value,
    })
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![top_level_leaf(), path_leaf()]
}

fn group_operator() -> impl Strategy<Value = GroupOperator> {
    prop_oneof![Just(GroupOperator::And), Just(GroupOperator::Or)]
}

/// ASTs that the printer represents faithfully (see the module docs).
fn printable_ast() -> impl Strategy<Value = Ast> {
    // A function call inside parentheses would close the group early: no functions there.
    let no_function = leaf().prop_filter("no function inside a group", |l| {
        !matches!(
            l.operator,
            Operator::Contains
                | Operator::NotContains
                | Operator::StartsWith
                | Operator::NotStartsWith
                | Operator::EndsWith
                | Operator::NotEndsWith
        )
    });
    let inner_group = (
        group_operator(),
        proptest::collection::vec(no_function, 2..4),
    )
        .prop_map(|(operator, leaves)| {
            Condition::Group(Group {
                operator,
                children: leaves.into_iter().map(Condition::Leaf).collect(),
            })
        });
    let child = prop_oneof![3 => leaf().prop_map(Condition::Leaf), 1 => inner_group];
    prop_oneof![
        leaf().prop_map(|l| Ast::Group(Group {
            operator: GroupOperator::And,
            children: vec![Condition::Leaf(l)],
        })),
        (group_operator(), proptest::collection::vec(child, 2..5))
            .prop_map(|(operator, children)| Ast::Group(Group { operator, children })),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![
            Just("track".to_string()),
            Just(String::new()),
            Just("😀".to_string()),
            "[a-z*]{0,6}",
            any::<String>()
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("type".to_string()),
                        Just("event".to_string()),
                        Just("name".to_string()),
                        Just("userId".to_string()),
                        Just("properties".to_string()),
                        Just("traits".to_string()),
                        Just("context".to_string()),
                        Just("a".to_string()),
                        Just("b".to_string()),
                        Just("0".to_string()),
                        Just("constructor".to_string()),
                        "[a-z ]{1,4}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// FQL-like token soup: the words, operators and punctuation of the language.
fn fql_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("type"),
        Just("event"),
        Just("name"),
        Just("userId"),
        Just("properties.a"),
        Just("traits.b.c"),
        Just("context.x"),
        Just("contains"),
        Just("match"),
        Just("!"),
        Just("="),
        Just("!="),
        Just("<"),
        Just(">="),
        Just("and"),
        Just("or"),
        Just("AND"),
        Just("null"),
        Just("true"),
        Just("\"x\""),
        Just("\"a*\""),
        Just("'y'"),
        Just("42"),
        Just("-1.5"),
        Just("("),
        Just(")"),
        Just(","),
        Just("."),
        Just("["),
        Just("\\"),
        Just("\""),
        Just("constructor"),
        Just("😀"),
    ];
    let sep = prop_oneof![Just(" "), Just(""), Just("\n"), Just("\t")];
    proptest::collection::vec((token, sep), 0..16)
        .prop_map(|parts| parts.into_iter().map(|(t, s)| format!("{t}{s}")).collect())
}

const SUBSCRIPTIONS: &[&str] = &[
    "type = \"track\" and event = \"Order Completed\" and properties.revenue > 10",
    "properties.a.b != null or traits.b = true",
    "contains(properties.a, \"x\") and !match(context.a.\\0, \"*b\")",
    "properties.a.length = 3 or properties.b.\\0 = \"t\" or properties.constructor != null",
    "userId = null and name != null and (properties.a < 5 or properties.a >= 7)",
    "properties.a\\[0\\].b = 1 and traits.a != 2 and context.b = \"x\"",
    "match(name, \"a*\") or !contains(userId, \"q\") or event != \"e\"",
];

fn check_error_position(
    src: &str,
    result: &Result<Subscription, actions_core::subscriptions::FqlError>,
) {
    if let Err(e) = result
        && let Some(p) = e.position()
    {
        assert!(
            p <= src.len() && src.is_char_boundary(p),
            "bad position {p} in {src:?}: {e}"
        );
    }
}

fn check_parsers_agree(src: &str) {
    let loose = Subscription::parse(src);
    let strict = Subscription::parse_strict(src);
    check_error_position(src, &loose);
    check_error_position(src, &strict);
    if let Ok(strict) = &strict {
        match &loose {
            Ok(loose) => assert_eq!(loose.ast(), strict.ast(), "{src:?}"),
            Err(e) => panic!("parse_strict accepts {src:?} but parse fails: {e}"),
        }
    }
    if let Ok(sub) = loose {
        let _ = sub.to_fql();
        let _ = sub.matches(&Value::Null);
    }
}

#[test]
fn matching_allocates_nothing() {
    let events = [
        serde_json::json!({"type": "track", "event": "Order Completed", "userId": "u",
            "properties": {"revenue": 12.5, "a": {"b": 1}, "s": "a😀", "arr": [1, "t"],
                           "constructor": null, "coupon": "TESTX"},
            "traits": {"b": true, "a": 2}, "context": {"a": "xb", "b": "x", "page": {"url": "/x"}}}),
        serde_json::json!({"properties": "abc", "traits": [1, 2], "context": 0}),
        serde_json::json!(5),
        serde_json::json!(null),
    ];
    let mut subscriptions: Vec<Subscription> = SUBSCRIPTIONS
        .iter()
        .map(|s| Subscription::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
    for extra in [
        "properties.s.1 = \"x\" or contains(properties.s, \"😀\") or properties.arr.length > 1",
        "properties.a.toString != null and match(properties.coupon, \"*X\") and traits.b = true",
        "properties.revenue = 12.5 or properties.revenue != 3 or properties.revenue <= 20",
    ] {
        subscriptions.push(Subscription::parse(extra).unwrap_or_else(|e| panic!("{extra}: {e}")));
    }
    let mut matched = 0;
    let before = allocations();
    for sub in &subscriptions {
        for event in &events {
            matched += usize::from(sub.matches(event));
        }
    }
    let after = allocations();
    assert_eq!(after - before, 0, "matching allocated");
    // The counter is live: an allocation in the same window is seen.
    let probe = allocations();
    let text = std::hint::black_box(String::from("allocates"));
    assert!(allocations() > probe && !text.is_empty());
    assert!(matched > 0, "some subscription matches some event");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn printing_then_parsing_gives_the_same_ast(ast in printable_ast()) {
        let fql = generate_fql(&ast).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let sub = Subscription::parse(&fql)
            .map_err(|e| TestCaseError::fail(format!("{fql:?} does not parse: {e}")))?;
        prop_assert_eq!(sub.ast(), &ast, "printed as {:?}", fql);
        prop_assert_eq!(sub.to_fql(), fql);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(src in any::<String>()) {
        check_parsers_agree(&src);
    }

    #[test]
    fn parse_never_panics_on_fql_like_text(src in fql_like()) {
        check_parsers_agree(&src);
    }

    #[test]
    fn matching_never_panics_and_agrees_with_validate(
        ast in printable_ast(),
        event in json_value(),
        fixed in 0..SUBSCRIPTIONS.len(),
    ) {
        let sub = Subscription::from_ast(ast.clone())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reference = validate(&ast, Some(&event));
        prop_assert_eq!(sub.try_matches(&event), reference.clone());
        prop_assert_eq!(sub.matches(&event), reference.unwrap_or(false));
        let fixed = Subscription::parse(SUBSCRIPTIONS[fixed])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = fixed.matches(&event);
        let wrapped = serde_json::json!({"type": "track", "properties": event.clone(),
                                         "traits": event.clone(), "context": event});
        prop_assert_eq!(fixed.try_matches(&wrapped), validate(fixed.ast(), Some(&wrapped)));
    }
}
