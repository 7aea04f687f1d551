//! The variables a template reads (reference `getLiquidKeys`, liquidjs `fullVariablesSync`).

use super::expand::expand;
use super::lex::{self, Token};

/// The variables a template reads (reference `getLiquidKeys`, liquidjs `fullVariablesSync`):
/// variable paths in output and tag expressions, in order of appearance, without duplicates.
pub(crate) fn liquid_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let text = expand(text);
    let mut in_comment = false;
    for token in lex::tokens(&text) {
        match token {
            // Text, including what a `raw` block holds.
            Token::Text(_) => {}
            Token::Output(output) => {
                if !in_comment {
                    collect_variables(output.content, &mut keys);
                }
            }
            Token::Tag(tag) => {
                let (name, mut words) = tag.name_and_args();
                if in_comment {
                    in_comment = name != "endcomment";
                    continue;
                }
                in_comment = name == "comment";
                if name == "assign" || name == "capture" {
                    // skip the assigned name
                    let n = words
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                        .unwrap_or(words.len());
                    words = &words[n..];
                }
                collect_variables(words, &mut keys);
            }
        }
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
