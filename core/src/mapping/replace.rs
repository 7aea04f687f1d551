//! `@replace`: literal search and replace with JavaScript's `String.prototype.replace` semantics.
//!
//! The reference escapes every regex metacharacter of the pattern, so the pattern is matched
//! literally; this module therefore matches literally too (no regex is needed, and the search is
//! linear in the input for the ≤ 10-unit pattern). `ignorecase` follows JavaScript's non-Unicode
//! `i` flag (per UTF-16 unit: upper-case mapping to a single unit, never from non-ASCII to
//! ASCII). The replacement text honours `$$`, `$&`, `` $` `` and `$'`; `$1` etc. stay literal
//! (the escaped pattern has no groups).

use super::error::MappingError;
use super::js::utf16_len;

/// Longest pattern accepted (UTF-16 code units).
pub(crate) const MAX_PATTERN_LENGTH: usize = 10;
/// Longest replacement accepted (UTF-16 code units).
pub(crate) const MAX_REPLACEMENT_LENGTH: usize = 10;

/// A pre-built literal pattern.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    text: String,
    folded: Vec<char>,
    too_long: bool,
}

impl Literal {
    pub(crate) fn new(text: &str) -> Self {
        Literal {
            text: text.to_owned(),
            folded: text.chars().map(canonicalize).collect(),
            too_long: utf16_len(text) > MAX_PATTERN_LENGTH,
        }
    }
}

/// JavaScript's `Canonicalize` for a non-Unicode, ignore-case regular expression.
fn canonicalize(c: char) -> char {
    if c.len_utf16() != 1 {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u.len_utf16() == 1 => {
            if (c as u32) >= 128 && (u as u32) < 128 {
                c
            } else {
                u
            }
        }
        _ => c,
    }
}

/// Checks the replacement's length as the reference does at run time.
pub(crate) fn check_replacement(replacement: &str) -> Result<(), MappingError> {
    if utf16_len(replacement) > MAX_REPLACEMENT_LENGTH {
        return Err(MappingError::runtime(format!(
            "@replace requires a \"replacement\" less than {MAX_REPLACEMENT_LENGTH} characters"
        )));
    }
    Ok(())
}

/// `performReplace(value, pattern, replacement, flags)`.
pub(crate) fn perform_replace(
    value: &str,
    pattern: &Literal,
    replacement: &str,
    global: bool,
    ignore_case: bool,
) -> Result<String, MappingError> {
    if pattern.too_long {
        return Err(MappingError::runtime(format!(
            "@replace requires a \"pattern\" less than {MAX_PATTERN_LENGTH} characters"
        )));
    }
    check_replacement(replacement)?;
    let mut out = String::with_capacity(value.len());
    let mut last = 0usize;
    let mut from = 0usize;
    while let Some((start, end)) = find(value, from, pattern, ignore_case) {
        out.push_str(&value[last..start]);
        substitute(value, start, end, replacement, &mut out);
        last = end;
        from = end;
        if !global {
            break;
        }
    }
    out.push_str(&value[last..]);
    Ok(out)
}

fn find(hay: &str, from: usize, pattern: &Literal, ignore_case: bool) -> Option<(usize, usize)> {
    let rest = hay.get(from..)?;
    if !ignore_case {
        return rest
            .find(pattern.text.as_str())
            .map(|i| (from + i, from + i + pattern.text.len()));
    }
    for (i, _) in rest.char_indices() {
        let mut chars = rest[i..].char_indices();
        let mut matched = true;
        let mut end = i;
        for want in &pattern.folded {
            match chars.next() {
                Some((j, c)) if canonicalize(c) == *want => end = i + j + c.len_utf8(),
                _ => {
                    matched = false;
                    break;
                }
            }
        }
        if matched {
            return Some((from + i, from + end));
        }
    }
    None
}

/// JavaScript's `GetSubstitution` with no capture groups.
fn substitute(value: &str, start: usize, end: usize, replacement: &str, out: &mut String) {
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('$') => {
                out.push('$');
                chars.next();
            }
            Some('&') => {
                out.push_str(&value[start..end]);
                chars.next();
            }
            Some('`') => {
                out.push_str(&value[..start]);
                chars.next();
            }
            Some('\'') => {
                out.push_str(&value[end..]);
                chars.next();
            }
            _ => out.push('$'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(v: &str, p: &str, r: &str, g: bool, i: bool) -> String {
        perform_replace(v, &Literal::new(p), r, g, i).unwrap()
    }

    #[test]
    fn literal_global_and_first() {
        assert_eq!(
            rep("many+different+things", "+", "_", true, false),
            "many_different_things"
        );
        assert_eq!(rep("a.b.c", ".", "-", false, false), "a-b.c");
        assert_eq!(rep("aaaaa", "aa", "b", true, false), "bba");
    }

    #[test]
    fn ignore_case_follows_javascript() {
        assert_eq!(
            rep("aab-----AaB---aab", "AaB", "nice", true, true),
            "nice-----nice---nice"
        );
        // U+017F (long s) upper-cases to ASCII "S": JavaScript's non-Unicode `i` refuses that.
        assert_eq!(rep("\u{17f}", "s", "x", true, true), "\u{17f}");
        assert_eq!(rep("ÉTÉ", "é", "e", true, true), "eTe");
    }

    #[test]
    fn replacement_patterns() {
        assert_eq!(rep("hello", "l", "[$&]", true, false), "he[l][l]o");
        assert_eq!(rep("hello", "l", "$$", true, false), "he$$o");
        assert_eq!(rep("hello", "l", "$1", true, false), "he$1$1o");
        assert_eq!(rep("hello", "l", "<$`>", false, false), "he<he>lo");
        assert_eq!(rep("hello", "l", "<$'>", false, false), "he<lo>lo");
        assert_eq!(rep("hello", "l", "$", true, false), "he$$o");
    }

    #[test]
    fn length_limits_count_utf16_units() {
        let err = perform_replace("x", &Literal::new("😀😀😀😀😀😀"), "", true, false).unwrap_err();
        assert_eq!(
            err.message(),
            "@replace requires a \"pattern\" less than 10 characters"
        );
        let err = perform_replace("x", &Literal::new("x"), "12345678901", true, false).unwrap_err();
        assert_eq!(
            err.message(),
            "@replace requires a \"replacement\" less than 10 characters"
        );
    }
}
