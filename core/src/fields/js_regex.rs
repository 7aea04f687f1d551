//! Whether `new RegExp(source)` (no flags, with the web-compatibility grammar of Annex B, as in
//! Node.js 20) accepts a pattern: the `regex` format of `ajv-formats`.

/// Group nesting beyond which the pattern is refused (protects the stack).
const MAX_NESTING: usize = 256;

/// Whether JavaScript accepts `source` as a regular expression without flags.
pub(crate) fn is_valid_js_regex(source: &str) -> bool {
    let chars: Vec<char> = source.chars().collect();
    let has_named_groups = chars.windows(3).enumerate().any(|(i, w)| {
        w == ['(', '?', '<']
            && !matches!(chars.get(i + 3), Some('=' | '!'))
            && !is_escaped(&chars, i)
    });
    let mut p = Parser {
        chars,
        i: 0,
        has_named_groups,
        names: Vec::new(),
        references: Vec::new(),
    };
    if p.disjunction(0).is_err() || p.i != p.chars.len() {
        return false;
    }
    p.references.iter().all(|r| p.names.contains(r))
}

fn is_escaped(chars: &[char], i: usize) -> bool {
    let mut backslashes = 0;
    let mut j = i;
    while j > 0 && chars.get(j - 1) == Some(&'\\') {
        backslashes += 1;
        j -= 1;
    }
    backslashes % 2 == 1
}

struct Parser {
    chars: Vec<char>,
    i: usize,
    has_named_groups: bool,
    names: Vec<String>,
    references: Vec<String>,
}

type Parse = Result<(), ()>;

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn disjunction(&mut self, depth: usize) -> Parse {
        if depth > MAX_NESTING {
            return Err(());
        }
        loop {
            self.alternative(depth)?;
            if !self.eat('|') {
                return Ok(());
            }
        }
    }

    fn alternative(&mut self, depth: usize) -> Parse {
        while let Some(c) = self.peek() {
            let quantifiable = match c {
                '|' | ')' => return Ok(()),
                '^' | '$' => {
                    self.i += 1;
                    false
                }
                '\\' if matches!(self.peek_at(1), Some('b' | 'B')) => {
                    self.i += 2;
                    false
                }
                '(' => self.group(depth)?,
                '[' => {
                    self.class()?;
                    true
                }
                '*' | '+' | '?' => return Err(()),
                '{' => {
                    if self.brace_quantifier()?.is_some() {
                        // A well-formed quantifier with nothing to repeat.
                        return Err(());
                    }
                    self.i += 1;
                    true
                }
                '\\' => {
                    self.atom_escape()?;
                    true
                }
                _ => {
                    self.i += 1;
                    true
                }
            };
            if self.quantifier()? && !quantifiable {
                return Err(());
            }
        }
        Ok(())
    }

    /// Parses a quantifier if one starts here; `Ok(true)` when one was read.
    fn quantifier(&mut self) -> Result<bool, ()> {
        let read = match self.peek() {
            Some('*' | '+' | '?') => {
                self.i += 1;
                true
            }
            Some('{') => match self.brace_quantifier()? {
                Some(end) => {
                    self.i = end;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if read {
            self.eat('?');
        }
        Ok(read)
    }

    /// If a `{n}`, `{n,}` or `{n,m}` quantifier starts here, the index after it (`Err` when
    /// `n > m`); `None` when the brace is a literal.
    fn brace_quantifier(&self) -> Result<Option<usize>, ()> {
        let mut j = self.i + 1;
        let digits = |j: &mut usize| -> Option<f64> {
            let start = *j;
            let mut v = 0.0_f64;
            while let Some(d) = self.chars.get(*j).and_then(|c| c.to_digit(10)) {
                v = v * 10.0 + f64::from(d);
                *j += 1;
            }
            (*j > start).then_some(v)
        };
        let Some(min) = digits(&mut j) else {
            return Ok(None);
        };
        let mut max = Some(min);
        if self.chars.get(j) == Some(&',') {
            j += 1;
            max = digits(&mut j);
        }
        if self.chars.get(j) != Some(&'}') {
            return Ok(None);
        }
        if max.is_some_and(|m| m < min) {
            return Err(());
        }
        Ok(Some(j + 1))
    }

    /// A group; returns whether it can be quantified.
    fn group(&mut self, depth: usize) -> Result<bool, ()> {
        self.i += 1;
        let quantifiable = if self.eat('?') {
            match self.peek() {
                Some(':' | '=' | '!') => {
                    self.i += 1;
                    true
                }
                Some('<') if matches!(self.peek_at(1), Some('=' | '!')) => {
                    self.i += 2;
                    false
                }
                Some('<') => {
                    self.i += 1;
                    let name = self.group_name()?;
                    if self.names.contains(&name) {
                        return Err(());
                    }
                    self.names.push(name);
                    true
                }
                _ => return Err(()),
            }
        } else {
            true
        };
        self.disjunction(depth + 1)?;
        if !self.eat(')') {
            return Err(());
        }
        Ok(quantifiable)
    }

    /// A group name up to `>` (already past `<`).
    fn group_name(&mut self) -> Result<String, ()> {
        let mut name = String::new();
        loop {
            match self.peek() {
                Some('>') => {
                    self.i += 1;
                    break;
                }
                Some(c) if is_id_char(c, name.is_empty()) => {
                    name.push(c);
                    self.i += 1;
                }
                _ => return Err(()),
            }
        }
        if name.is_empty() { Err(()) } else { Ok(name) }
    }

    fn atom_escape(&mut self) -> Parse {
        self.i += 1;
        match self.peek() {
            None => Err(()),
            Some('k') if self.has_named_groups => {
                self.i += 1;
                if !self.eat('<') {
                    return Err(());
                }
                let name = self.group_name()?;
                self.references.push(name);
                Ok(())
            }
            Some(_) => {
                self.i += 1;
                Ok(())
            }
        }
    }

    fn class(&mut self) -> Parse {
        self.i += 1;
        self.eat('^');
        loop {
            match self.peek() {
                None => return Err(()),
                Some(']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => {}
            }
            let lo = self.class_atom()?;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.i += 1;
                let hi = self.class_atom()?;
                if let (Some(lo), Some(hi)) = (lo, hi)
                    && lo > hi
                {
                    return Err(());
                }
            }
        }
    }

    /// A class atom: its code point, or `None` for a class escape (`\d`, `\w`, ...).
    fn class_atom(&mut self) -> Result<Option<u32>, ()> {
        let Some(c) = self.peek() else {
            return Err(());
        };
        self.i += 1;
        if c != '\\' {
            return Ok(Some(c as u32));
        }
        let Some(e) = self.peek() else {
            return Err(());
        };
        self.i += 1;
        Ok(match e {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => None,
            'b' => Some(8),
            'n' => Some(10),
            'r' => Some(13),
            't' => Some(9),
            'v' => Some(11),
            'f' => Some(12),
            '0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => Some(0),
            'x' => self.hex_escape(2).or(Some('x' as u32)),
            'u' => self.hex_escape(4).or(Some('u' as u32)),
            'c' => match self.peek() {
                Some(l) if l.is_ascii_alphanumeric() || l == '_' => {
                    self.i += 1;
                    Some(l as u32 % 32)
                }
                // `\c` not followed by a control letter is a backslash.
                _ => {
                    self.i -= 1;
                    Some('\\' as u32)
                }
            },
            d if d.is_ascii_digit() => {
                // Legacy octal escape: up to three octal digits (value < 256).
                let mut v = d.to_digit(8).unwrap_or(d as u32 - '0' as u32);
                if d.to_digit(8).is_none() {
                    return Ok(Some(d as u32));
                }
                for _ in 0..2 {
                    match self.peek().and_then(|c| c.to_digit(8)) {
                        Some(n) if v * 8 + n < 256 => {
                            v = v * 8 + n;
                            self.i += 1;
                        }
                        _ => break,
                    }
                }
                Some(v)
            }
            other => Some(other as u32),
        })
    }

    fn hex_escape(&mut self, n: usize) -> Option<u32> {
        let digits: String = self.chars.iter().skip(self.i).take(n).collect();
        if digits.len() == n && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            self.i += n;
            u32::from_str_radix(&digits, 16).ok()
        } else {
            None
        }
    }
}

fn is_id_char(c: char, first: bool) -> bool {
    c == '$'
        || c == '_'
        || c.is_alphabetic()
        || (!first && (c.is_alphanumeric() || c == '\u{200c}' || c == '\u{200d}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_web_compatible_patterns() {
        for ok in [
            "",
            "^a+(b|c)*$",
            "a{2,3}?",
            "a{,3}",
            "{",
            "}",
            "]",
            "x{a}",
            "[a-z\\d-]",
            "[\\w-.]",
            "(?:x)(?=y)(?!z)(?<=w)(?<!v)",
            "(?=a)*",
            "(?<year>\\d{4})-\\k<year>",
            "\\k",
            "\\1(a)",
            "\\cJ\\c1",
            "[\\b]",
            "a|",
            "\\u{12}",
        ] {
            assert!(is_valid_js_regex(ok), "{ok:?} should be valid");
        }
    }

    #[test]
    fn rejects_what_v8_rejects() {
        for bad in [
            "(",
            ")",
            "a)",
            "[a",
            "*a",
            "a**",
            "+",
            "a{3,2}",
            "{2}",
            "^*",
            "\\b+",
            "(?<=a)+",
            "[z-a]",
            "\\",
            "(?x)",
            "(?<a>x)(?<a>y)",
            "(?<1a>x)",
            "(?<a>x)\\k<b>",
            "(?<a>x)\\k",
        ] {
            assert!(!is_valid_js_regex(bad), "{bad:?} should be invalid");
        }
    }
}
