//! The printer: the reference's `generateFql(ast)`.
//!
//! Strings are quoted with `"` and not escaped; numbers and booleans are printed bare
//! (JavaScript's `String(x)`); relational and `number_*` operators print
//! `Number(value)`; path characters outside `[a-zA-Z0-9._-]` get a backslash; nested groups
//! are parenthesised, and a result that starts with `(`, ends with `)` and has exactly two
//! parentheses in all loses them.

use super::ast::{Ast, Condition, Field, Group, Leaf, Literal, Operator};
use super::error::{FqlError, FqlErrorKind};
use super::js;

/// Prints an AST as FQL (the reference's `generateFql`).
pub(crate) fn generate(ast: &Ast) -> Result<String, FqlError> {
    let group = match ast {
        Ast::Group(g) => g,
        Ast::Error(e) => {
            return Err(FqlError::new(FqlErrorKind::ErrorAst, e.message.clone())
                .with_class(e.class.clone()));
        }
    };
    let mut out = String::new();
    write_group(&mut out, group)?;
    let parens = out.chars().filter(|c| *c == '(' || *c == ')').count();
    if parens == 2
        && let Some(inner) = out.strip_prefix('(').and_then(|s| s.strip_suffix(')'))
    {
        return Ok(inner.to_string());
    }
    Ok(out)
}

fn write_group(out: &mut String, group: &Group) -> Result<(), FqlError> {
    for (i, child) in group.children.iter().enumerate() {
        if i > 0 {
            out.push(' ');
            out.push_str(group.operator.as_str());
            out.push(' ');
        }
        match child {
            Condition::Group(g) => {
                out.push('(');
                write_group(out, g)?;
                out.push(')');
            }
            Condition::Leaf(leaf) => write_leaf(out, leaf)?,
        }
    }
    Ok(())
}

/// `\`-escapes every character outside `[a-zA-Z0-9._-]`.
fn write_escaped_path(out: &mut String, path: &str) {
    for c in path.chars() {
        if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            out.push('\\');
        }
        out.push(c);
    }
}

fn write_leaf(out: &mut String, leaf: &Leaf) -> Result<(), FqlError> {
    let mut name = String::new();
    match &leaf.field {
        Field::EventType => name.push_str("type"),
        Field::Event => name.push_str("event"),
        Field::Name => name.push_str("name"),
        Field::UserId => name.push_str("userId"),
        Field::Property(p) => {
            name.push_str("properties.");
            write_escaped_path(&mut name, p);
        }
        Field::Trait(p) => {
            name.push_str("traits.");
            write_escaped_path(&mut name, p);
        }
        Field::Context(p) => {
            name.push_str("context.");
            write_escaped_path(&mut name, p);
        }
        Field::Unknown { .. } => {
            return Err(FqlError::new(
                FqlErrorKind::Generate,
                "Unknown condition type",
            ));
        }
    }
    write_expression(out, &name, &leaf.operator, leaf.value.as_ref());
    Ok(())
}

/// `String(value)`, with `undefined` for a missing value.
fn js_string(value: Option<&Literal>) -> String {
    value.map_or_else(|| "undefined".to_string(), Literal::to_js_string)
}

/// The reference's `stringifyValue`: booleans and numbers bare, anything else quoted.
fn write_value(out: &mut String, value: Option<&Literal>) {
    match value {
        Some(Literal::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Literal::Number(n)) => js::write_number(out, *n),
        other => {
            out.push('"');
            out.push_str(&js_string(other));
            out.push('"');
        }
    }
}

fn write_number_of(out: &mut String, value: Option<&Literal>) {
    js::write_number(out, value.map_or(f64::NAN, Literal::to_js_number));
}

fn write_expression(out: &mut String, name: &str, operator: &Operator, value: Option<&Literal>) {
    let function = |out: &mut String, prefix: &str, before: &str, after: &str| {
        out.push_str(prefix);
        out.push_str(name);
        out.push_str(", \"");
        out.push_str(before);
        out.push_str(&js_string(value));
        out.push_str(after);
        out.push_str("\")");
    };
    match operator {
        Operator::Contains | Operator::NotContains => {
            out.push_str(if *operator == Operator::Contains {
                "contains("
            } else {
                "!contains("
            });
            out.push_str(name);
            out.push_str(", ");
            write_value(out, value);
            out.push(')');
        }
        Operator::Exists => {
            out.push_str(name);
            out.push_str(" != null");
        }
        Operator::NotExists => {
            out.push_str(name);
            out.push_str(" = null");
        }
        Operator::IsTrue => {
            out.push_str(name);
            out.push_str(" = true");
        }
        Operator::IsFalse => {
            out.push_str(name);
            out.push_str(" = false");
        }
        Operator::StartsWith => function(out, "match(", "", "*"),
        Operator::NotStartsWith => function(out, "!match(", "", "*"),
        Operator::EndsWith => function(out, "match(", "*", ""),
        Operator::NotEndsWith => function(out, "!match(", "*", ""),
        Operator::LessThan
        | Operator::GreaterThan
        | Operator::LessThanOrEqual
        | Operator::GreaterThanOrEqual => {
            out.push_str(name);
            out.push(' ');
            out.push_str(operator.as_str());
            out.push(' ');
            write_number_of(out, value);
        }
        Operator::NumberEquals | Operator::NumberNotEquals => {
            out.push_str(name);
            out.push_str(if *operator == Operator::NumberEquals {
                " = "
            } else {
                " != "
            });
            write_number_of(out, value);
        }
        Operator::Equals | Operator::NotEquals | Operator::Other(_) => {
            out.push_str(name);
            out.push(' ');
            out.push_str(operator.as_str());
            out.push(' ');
            write_value(out, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ast::{AstError, GroupOperator};
    use super::*;
    use serde_json::json;

    fn print(value: serde_json::Value) -> Result<String, FqlError> {
        let ast = Ast::from_reference_json(&value).unwrap_or_else(|e| panic!("{e}"));
        generate(&ast)
    }

    fn leaves(children: serde_json::Value) -> String {
        print(json!({"type": "group", "operator": "and", "children": children}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn prints_every_operator() {
        let p = |op: &str, value: serde_json::Value| {
            leaves(json!([{"type": "event-property", "name": "a", "operator": op, "value": value}]))
        };
        assert_eq!(p("=", json!("x")), "properties.a = \"x\"");
        assert_eq!(p("=", json!(3.5)), "properties.a = 3.5");
        assert_eq!(p("=", json!(null)), "properties.a = \"null\"");
        assert_eq!(p("!=", json!(true)), "properties.a != true");
        assert_eq!(p("<", json!("5")), "properties.a < 5");
        assert_eq!(p(">", json!("abc")), "properties.a > NaN");
        assert_eq!(p(">=", json!("1.50")), "properties.a >= 1.5");
        assert_eq!(p("number_equals", json!("123")), "properties.a = 123");
        assert_eq!(p("number_not_equals", json!(7)), "properties.a != 7");
        assert_eq!(p("contains", json!("x")), "contains(properties.a, \"x\")");
        assert_eq!(p("contains", json!(4)), "contains(properties.a, 4)");
        assert_eq!(
            p("not_contains", json!("x")),
            "!contains(properties.a, \"x\")"
        );
        assert_eq!(p("starts_with", json!("x")), "match(properties.a, \"x*\")");
        assert_eq!(
            p("not_starts_with", json!("x")),
            "!match(properties.a, \"x*\")"
        );
        assert_eq!(p("ends_with", json!("x")), "match(properties.a, \"*x\")");
        assert_eq!(p("not_ends_with", json!(1)), "!match(properties.a, \"*1\")");
        assert_eq!(p("exists", json!(1)), "properties.a != null");
        assert_eq!(p("not_exists", json!(1)), "properties.a = null");
        assert_eq!(p("is_true", json!(1)), "properties.a = true");
        assert_eq!(p("is_false", json!(1)), "properties.a = false");
        assert_eq!(p("regex", json!("x")), "properties.a regex \"x\"");
        assert_eq!(
            leaves(json!([{"type": "event-property", "name": "a", "operator": "="}])),
            "properties.a = \"undefined\""
        );
    }

    #[test]
    fn escapes_paths_and_not_strings() {
        assert_eq!(
            leaves(
                json!([{"type": "event-trait", "name": "property dos", "operator": "=", "value": "say \"hi\""}])
            ),
            "traits.property\\ dos = \"say \"hi\"\""
        );
        assert_eq!(
            leaves(json!([{"type": "event-context", "name": "a\\b.c-d_e", "operator": "exists"}])),
            "context.a\\\\b.c-d_e != null"
        );
    }

    #[test]
    fn groups_and_the_outer_parenthesis_rule() {
        let inner = json!({"type": "group", "operator": "or", "children": [
            {"type": "event", "operator": "=", "value": "a"},
            {"type": "event", "operator": "=", "value": "b"}]});
        assert_eq!(
            leaves(json!([{"type": "event-type", "operator": "=", "value": "t"}, inner])),
            "type = \"t\" and (event = \"a\" or event = \"b\")"
        );
        assert_eq!(leaves(json!([inner])), "event = \"a\" or event = \"b\"");
        let with_parens = json!({"type": "group", "operator": "or", "children": [
            {"type": "event", "operator": "=", "value": "(x)"}]});
        assert_eq!(leaves(json!([with_parens])), "(event = \"(x)\")");
        assert_eq!(leaves(json!([])), "");
    }

    #[test]
    fn errors() {
        let unknown = print(json!({"type": "group", "operator": "and", "children": [
            {"type": "event-thing", "operator": "exists"}]}));
        assert_eq!(
            unknown.map_err(|e| e.message().to_string()),
            Err("Unknown condition type".to_string())
        );
        let err = generate(&Ast::Error(AstError {
            class: "TypeError".into(),
            message: "bad".into(),
        }))
        .expect_err("error AST");
        assert_eq!(
            (err.kind(), err.message(), err.reference_class()),
            (FqlErrorKind::ErrorAst, "bad", "TypeError")
        );
        let g = Ast::Group(Group {
            operator: GroupOperator::Other("xor".into()),
            children: vec![],
        });
        assert_eq!(generate(&g).ok(), Some(String::new()));
    }
}
