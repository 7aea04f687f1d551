//! String and number formats, as `ajv-formats` 2.1.1 ("full" mode) checks them, plus the
//! reference's custom `text`, `password` and `date-like` formats.
//!
//! The `ajv-formats` regular expressions are JavaScript regular expressions with the `i` flag;
//! they are translated once (see [`js_to_rust`]) so that case folding stays ASCII-only, as it is in a
//! non-unicode JavaScript regular expression.

use std::sync::LazyLock;

use regex::Regex;

use super::date_like::is_date_like;
use super::js_regex::is_valid_js_regex;

/// How a format is checked.
#[derive(Clone, Copy)]
pub(crate) enum FormatCheck {
    /// A format of strings (numbers pass).
    Str(fn(&str) -> bool),
    /// A format of numbers (strings pass).
    Num(fn(f64) -> bool),
}

/// Every format the reference's validator knows, by name.
pub(crate) fn lookup(name: &str) -> Option<FormatCheck> {
    use FormatCheck::{Num, Str};
    Some(match name {
        "date" => Str(date),
        "time" => Str(|s| time(s, false)),
        "date-time" => Str(date_time),
        "duration" => Str(duration),
        "uri" => Str(uri),
        "uri-reference" => Str(|s| matches(&URI_REFERENCE, s)),
        "uri-template" => Str(|s| matches(&URI_TEMPLATE, s)),
        "url" => Str(url),
        "email" => Str(|s| matches(&EMAIL, s)),
        "hostname" => Str(hostname),
        "ipv4" => Str(|s| matches(&IPV4, s)),
        "ipv6" => Str(|s| matches(&IPV6, s)),
        "regex" => Str(regex_format),
        "uuid" => Str(|s| matches(&UUID, s)),
        "json-pointer" => Str(|s| matches(&JSON_POINTER, s)),
        "json-pointer-uri-fragment" => Str(|s| matches(&JSON_POINTER_URI_FRAGMENT, s)),
        "relative-json-pointer" => Str(|s| matches(&RELATIVE_JSON_POINTER, s)),
        "byte" => Str(|s| matches(&BYTE, s)),
        "binary" | "password" | "text" => Str(|_| true),
        "date-like" => Str(is_date_like),
        "int32" => Num(|n| n.fract() == 0.0 && (-2_147_483_648.0..=2_147_483_647.0).contains(&n)),
        "int64" => Num(|n| n.is_finite() && n.fract() == 0.0),
        "float" | "double" => Num(|_| true),
        _ => return None,
    })
}

/// The names of every known format (registered with the `jsonschema` validator).
pub(crate) const NAMES: &[&str] = &[
    "date",
    "time",
    "date-time",
    "duration",
    "uri",
    "uri-reference",
    "uri-template",
    "url",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "regex",
    "uuid",
    "json-pointer",
    "json-pointer-uri-fragment",
    "relative-json-pointer",
    "byte",
    "binary",
    "password",
    "text",
    "date-like",
    "int32",
    "int64",
    "float",
    "double",
];

/// The label `@segment/ajv-human-errors` uses for a format in its messages.
pub(crate) fn label(name: &str) -> &str {
    match name {
        "date-time" => "date and time",
        "time" => "time",
        "date" => "date",
        "email" => "email address",
        "hostname" => "hostname",
        "ipv4" => "IPv4 address",
        "ipv6" => "IPv6 address",
        "uri" => "URI",
        "uri-reference" => "URI Reference",
        "uri-template" => "URI-template",
        "json-pointer" => "JSON Pointer",
        "relative-json-pointer" => "relative JSON Pointer",
        "regex" => "regular expression",
        other => other,
    }
}

/// JavaScript white space (`\s`), as a character-class body.
const JS_WS: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// Translates the source of a JavaScript regular expression written for the `i` flag (and without
/// the `u` flag) into an equivalent Rust regular expression: ASCII letters match both cases and
/// nothing else, `\d`/`\s`/`\w` keep their JavaScript meaning.
pub(crate) fn js_to_rust(source: &str, case_insensitive: bool) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() * 2);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let (atom, next) = escape_atom(&chars, i);
                i = next;
                match atom {
                    Atom::Char(ch) => push_literal(&mut out, ch, case_insensitive),
                    Atom::Class(body, negated) => {
                        out.push_str(if negated { "[^" } else { "[" });
                        out.push_str(&body);
                        out.push(']');
                    }
                }
            }
            '[' => {
                i += 1;
                let mut body = String::new();
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                while let Some(&d) = chars.get(i) {
                    if d == ']' {
                        i += 1;
                        break;
                    }
                    let (atom, next) = if d == '\\' {
                        escape_atom(&chars, i)
                    } else {
                        (Atom::Char(d), i + 1)
                    };
                    i = next;
                    match atom {
                        Atom::Class(b, false) => body.push_str(&b),
                        Atom::Class(b, true) => {
                            // A negated class escape inside a class (unused by these patterns).
                            body.push_str("[^");
                            body.push_str(&b);
                            body.push(']');
                        }
                        Atom::Char(lo) => {
                            let is_range = chars.get(i) == Some(&'-')
                                && chars.get(i + 1).is_some_and(|&n| n != ']');
                            if is_range {
                                let (hi_atom, after) = match chars.get(i + 1) {
                                    Some('\\') => escape_atom(&chars, i + 1),
                                    Some(&h) => (Atom::Char(h), i + 2),
                                    None => (Atom::Char('-'), i + 1),
                                };
                                if let Atom::Char(hi) = hi_atom {
                                    i = after;
                                    push_class_range(&mut body, lo, hi, case_insensitive);
                                    continue;
                                }
                            }
                            push_class_range(&mut body, lo, lo, case_insensitive);
                        }
                    }
                }
                out.push_str(if negated { "[^" } else { "[" });
                out.push_str(&body);
                out.push(']');
            }
            c if case_insensitive && c.is_ascii_alphabetic() => {
                out.push('[');
                out.push(c.to_ascii_lowercase());
                out.push(c.to_ascii_uppercase());
                out.push(']');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

enum Atom {
    Char(char),
    /// A class body and whether it is negated.
    Class(String, bool),
}

/// Reads the escape starting at `chars[i] == '\\'`; returns the atom and the next index.
fn escape_atom(chars: &[char], i: usize) -> (Atom, usize) {
    let Some(&e) = chars.get(i + 1) else {
        return (Atom::Char('\\'), i + 1);
    };
    match e {
        'd' => (Atom::Class("0-9".into(), false), i + 2),
        'D' => (Atom::Class("0-9".into(), true), i + 2),
        's' => (Atom::Class(JS_WS.into(), false), i + 2),
        'S' => (Atom::Class(JS_WS.into(), true), i + 2),
        'w' => (Atom::Class("0-9A-Za-z_".into(), false), i + 2),
        'W' => (Atom::Class("0-9A-Za-z_".into(), true), i + 2),
        'x' => {
            let hex: String = chars.iter().skip(i + 2).take(2).collect();
            let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
            match ch {
                Some(ch) if hex.len() == 2 => (Atom::Char(ch), i + 4),
                _ => (Atom::Char('x'), i + 2),
            }
        }
        'u' if chars.get(i + 2) == Some(&'{') => {
            let hex: String = chars
                .iter()
                .skip(i + 3)
                .take_while(|c| **c != '}')
                .collect();
            let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
            (Atom::Char(ch.unwrap_or('u')), i + 4 + hex.len())
        }
        'n' => (Atom::Char('\n'), i + 2),
        'r' => (Atom::Char('\r'), i + 2),
        't' => (Atom::Char('\t'), i + 2),
        other => (Atom::Char(other), i + 2),
    }
}

fn push_literal(out: &mut String, c: char, case_insensitive: bool) {
    if case_insensitive && c.is_ascii_alphabetic() {
        out.push('[');
        out.push(c.to_ascii_lowercase());
        out.push(c.to_ascii_uppercase());
        out.push(']');
    } else {
        push_escaped(out, c);
    }
}

/// Characters that must be escaped in a Rust regex (in or out of a class).
const META: &str = r"\.+*?()|[]{}^$#&-~";

fn push_escaped(out: &mut String, c: char) {
    if META.contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_ascii_graphic() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

/// A class range `lo-hi`, plus its other-case counterpart for ASCII letter ranges.
fn push_class_range(body: &mut String, lo: char, hi: char, case_insensitive: bool) {
    let emit = |body: &mut String, a: char, b: char| {
        push_escaped(body, a);
        if a != b {
            body.push('-');
            push_escaped(body, b);
        }
    };
    emit(body, lo, hi);
    if !case_insensitive {
        return;
    }
    if lo.is_ascii_lowercase() && hi.is_ascii_lowercase() {
        emit(body, lo.to_ascii_uppercase(), hi.to_ascii_uppercase());
    } else if lo.is_ascii_uppercase() && hi.is_ascii_uppercase() {
        emit(body, lo.to_ascii_lowercase(), hi.to_ascii_lowercase());
    }
}

/// Compiles a translated pattern. The patterns are constants (a failure is a bug the unit tests
/// catch); a pattern that failed to compile rejects every value.
fn compile(source: &str, case_insensitive: bool) -> Option<Regex> {
    Regex::new(&js_to_rust(source, case_insensitive)).ok()
}

type Pattern = LazyLock<Option<Regex>>;

fn matches(re: &Pattern, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

static DATE: Pattern = LazyLock::new(|| compile(r"^(\d\d\d\d)-(\d\d)-(\d\d)$", false));
static TIME: Pattern = LazyLock::new(|| {
    compile(
        r"^(\d\d):(\d\d):(\d\d)(\.\d+)?(z|[+-]\d\d(?::?\d\d)?)?$",
        true,
    )
});
static DURATION: Pattern = LazyLock::new(|| {
    compile(
        r"^P((\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?|(\d+W)?)$",
        false,
    )
});
static URI: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:[a-z][a-z0-9+\-.]*:)(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$",
        true,
    )
});
static URI_REFERENCE: Pattern = LazyLock::new(|| {
    compile(
        r#"^(?:[a-z][a-z0-9+\-.]*:)?(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'"()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'"()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'"()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'"()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'"()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'"()*+,;=:@]|%[0-9a-f]{2})*)*)?(?:\?(?:[a-z0-9\-._~!$&'"()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'"()*+,;=:@/?]|%[0-9a-f]{2})*)?$"#,
        true,
    )
});
static URI_TEMPLATE: Pattern = LazyLock::new(|| {
    compile(
        r#"^(?:(?:[^\x00-\x20"'<>%\\^`{|}]|%[0-9a-f]{2})|\{[+#./;?&=,!@|]?(?:[a-z0-9_]|%[0-9a-f]{2})+(?::[1-9][0-9]{0,3}|\*)?(?:,(?:[a-z0-9_]|%[0-9a-f]{2})+(?::[1-9][0-9]{0,3}|\*)?)*\})*$"#,
        true,
    )
});
static URL_HEAD: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:https?|ftp):\/\/(?:\S+(?::\S*)?@)?(.+?)(?::\d{2,5})?(?:\/[^\s]*)?$",
        true,
    )
});
static URL_IP: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))$",
        false,
    )
});
static URL_DOMAIN: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)(?:\.(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)*(?:\.(?:[a-z\u{00a1}-\u{ffff}]{2,}))$",
        true,
    )
});
static URL_PRIVATE: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:(?:10|127)(?:\.\d{1,3}){3}|(?:169\.254|192\.168)(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})",
        false,
    )
});
static EMAIL: Pattern = LazyLock::new(|| {
    compile(
        r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        true,
    )
});
static HOSTNAME: Pattern = LazyLock::new(|| {
    compile(
        r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-0-9a-z]{0,61}[0-9a-z])?)*\.?$",
        true,
    )
});
static IPV4: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)$",
        false,
    )
});
static IPV6: Pattern = LazyLock::new(|| {
    compile(
        r"^((([0-9a-f]{1,4}:){7}([0-9a-f]{1,4}|:))|(([0-9a-f]{1,4}:){6}(:[0-9a-f]{1,4}|((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9a-f]{1,4}:){5}(((:[0-9a-f]{1,4}){1,2})|:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9a-f]{1,4}:){4}(((:[0-9a-f]{1,4}){1,3})|((:[0-9a-f]{1,4})?:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9a-f]{1,4}:){3}(((:[0-9a-f]{1,4}){1,4})|((:[0-9a-f]{1,4}){0,2}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9a-f]{1,4}:){2}(((:[0-9a-f]{1,4}){1,5})|((:[0-9a-f]{1,4}){0,3}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9a-f]{1,4}:){1}(((:[0-9a-f]{1,4}){1,6})|((:[0-9a-f]{1,4}){0,4}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(:(((:[0-9a-f]{1,4}){1,7})|((:[0-9a-f]{1,4}){0,5}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:)))$",
        true,
    )
});
static UUID: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$",
        true,
    )
});
static JSON_POINTER: Pattern = LazyLock::new(|| compile(r"^(?:\/(?:[^~/]|~0|~1)*)*$", false));
static JSON_POINTER_URI_FRAGMENT: Pattern = LazyLock::new(|| {
    compile(
        r"^#(?:\/(?:[a-z0-9_\-.!$&'()*+,;:=@]|%[0-9a-f]{2}|~0|~1)*)*$",
        true,
    )
});
static RELATIVE_JSON_POINTER: Pattern =
    LazyLock::new(|| compile(r"^(?:0|[1-9][0-9]*)(?:#|(?:\/(?:[^~/]|~0|~1)*)*)$", false));
static BYTE: Pattern = LazyLock::new(|| {
    compile(
        r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
        false,
    )
});
static Z_ANCHOR: Pattern = LazyLock::new(|| compile(r"[^\\]\\Z", false));

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn date(s: &str) -> bool {
    let Some(caps) = DATE.as_ref().and_then(|r| r.captures(s)) else {
        return false;
    };
    let num = |i: usize| {
        caps.get(i)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (year, month, day) = (num(1), num(2), num(3));
    let days_in_month = match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month
}

/// `ajv-formats` 2.1.1 `time`: a missing time zone is accepted even in `date-time` (the
/// `withTimeZone` test compares an absent match with `""`).
fn time(s: &str, _with_time_zone: bool) -> bool {
    let Some(caps) = TIME.as_ref().and_then(|r| r.captures(s)) else {
        return false;
    };
    let num = |i: usize| {
        caps.get(i)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .unwrap_or(99)
    };
    let (hour, minute, second) = (num(1), num(2), num(3));
    (hour <= 23 && minute <= 59 && second <= 59) || (hour == 23 && minute == 59 && second == 60)
}

fn date_time(s: &str) -> bool {
    // `str.split(/t|\s/i)` must give exactly two parts.
    let mut parts = s.split(|c: char| c == 't' || c == 'T' || super::js::is_js_whitespace(c));
    match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), None) => date(d) && time(t, true),
        _ => false,
    }
}

fn duration(s: &str) -> bool {
    // `^P(?!$)...(T(?=\d)...)`: something must follow `P`, and a digit must follow `T`.
    if s.len() < 2 || !matches(&DURATION, s) {
        return false;
    }
    match s.find('T') {
        Some(t) => s.as_bytes().get(t + 1).is_some_and(u8::is_ascii_digit),
        None => true,
    }
}

fn uri(s: &str) -> bool {
    (s.contains('/') || s.contains(':')) && matches(&URI, s)
}

fn url(s: &str) -> bool {
    let Some(host) = URL_HEAD
        .as_ref()
        .and_then(|r| r.captures(s))
        .and_then(|c| c.get(1))
    else {
        return false;
    };
    let host = host.as_str();
    (matches(&URL_IP, host) && !matches(&URL_PRIVATE, host)) || matches(&URL_DOMAIN, host)
}

fn hostname(s: &str) -> bool {
    // `(?=.{1,253}\.?$)`: at most 253 characters, plus an optional final dot.
    let n = s.chars().count();
    let length_ok = n >= 1 && (n <= 253 || (n == 254 && s.ends_with('.')));
    length_ok && matches(&HOSTNAME, s)
}

fn regex_format(s: &str) -> bool {
    !matches(&Z_ANCHOR, s) && is_valid_js_regex(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, s: &str) -> bool {
        match lookup(name) {
            Some(FormatCheck::Str(f)) => f(s),
            _ => panic!("{name} is not a string format"),
        }
    }

    #[test]
    fn every_pattern_compiles() {
        for re in [
            &DATE,
            &TIME,
            &DURATION,
            &URI,
            &URI_REFERENCE,
            &URI_TEMPLATE,
            &URL_HEAD,
            &URL_IP,
            &URL_DOMAIN,
            &URL_PRIVATE,
            &EMAIL,
            &HOSTNAME,
            &IPV4,
            &IPV6,
            &UUID,
            &JSON_POINTER,
            &JSON_POINTER_URI_FRAGMENT,
            &RELATIVE_JSON_POINTER,
            &BYTE,
            &Z_ANCHOR,
        ] {
            assert!(re.is_some(), "a format pattern failed to compile");
        }
    }

    #[test]
    fn ajv_formats_semantics() {
        let yes = [
            ("date", "2020-02-29"),
            ("time", "23:59:60"),
            ("time", "04:05:06z"),
            ("date-time", "2021-02-03 04:05:06"),
            ("date-time", "2021-02-03t04:05:06.5+01:00"),
            ("uri", "mailto:x@y.z"),
            ("uri", "HTTPS://Example.COM/a?b#c"),
            ("uri-reference", "/relative/path"),
            ("uri-reference", ""),
            ("uri-template", "http://x/{id}"),
            ("email", "Jane.Doe@Example.com"),
            ("hostname", "example.com."),
            ("ipv4", "192.168.0.1"),
            ("ipv6", "::1"),
            ("ipv6", "2001:DB8::1"),
            ("uuid", "123E4567-e89b-12d3-a456-426614174000"),
            ("uuid", "urn:uuid:123e4567-e89b-12d3-a456-426614174000"),
            ("duration", "P1Y2M3DT4H"),
            ("duration", "P2W"),
            ("json-pointer", "/a~1b/0"),
            ("relative-json-pointer", "1/a"),
            ("regex", "^a+(b|c)$"),
            ("byte", "aGk="),
            ("url", "https://example.com/x"),
        ];
        for (f, s) in yes {
            assert!(check(f, s), "{f} should accept {s:?}");
        }
        let no = [
            ("date", "2021-02-29"),
            ("date", "2021-13-01"),
            ("time", "24:00:00"),
            ("date-time", "2021-02-03"),
            ("uri", "example.com/no-scheme"),
            ("uri", "a b:c"),
            ("email", "no-at.example.com"),
            ("hostname", "-bad.com"),
            ("ipv4", "999.1.1.1"),
            ("ipv6", "1:2:3"),
            ("uuid", "not-a-uuid"),
            ("duration", "P"),
            ("duration", "PT"),
            ("regex", "a("),
            ("regex", "a\\Z"),
            ("url", "http://10.0.0.1/"),
            ("url", "example.com"),
        ];
        for (f, s) in no {
            assert!(!check(f, s), "{f} should reject {s:?}");
        }
    }

    #[test]
    fn case_folding_stays_ascii() {
        // KELVIN SIGN folds to `k` in Unicode, but not in a non-unicode JavaScript regex.
        assert!(!check("hostname", "\u{212A}.com"));
        assert!(check("hostname", "K.com"));
    }

    #[test]
    fn number_formats() {
        let Some(FormatCheck::Num(int32)) = lookup("int32") else {
            panic!("int32")
        };
        assert!(int32(5.0) && !int32(5.5) && !int32(3e9));
        assert!(lookup("nope").is_none());
        assert_eq!(label("date-time"), "date and time");
        assert_eq!(label("uuid"), "uuid");
    }
}
