//! The reference's `date-like` format: what `dayjs` 1.11 (running on V8) accepts as a date.
//!
//! ```text
//! let date = dayjs(data)
//! if (String(Number(data)) === data) date = dayjs.unix(Number(data))
//! return date.isValid()
//! ```
//!
//! `dayjs(string)` first tries its own pattern (`YYYY[-/]MM[-/]DD[T ]HH:mm:ss.SSS`, every part
//! after the year optional, no range checks, so `2021-13-45` is valid) unless the string ends with
//! `Z`; otherwise it calls `new Date(string)`, whose V8 parser accepts ISO dates and a wide legacy
//! syntax (`Feb 3, 2021`, `Wed, 03 Feb 2021 04:05:06 GMT`, ...). Both are reproduced here; local
//! time is taken as UTC (only validity is observable, and it differs only within a day of the
//! ±8.64e15 ms limit).

use std::sync::LazyLock;

use regex::Regex;

use super::js::{is_js_whitespace, number_to_string, string_to_number};

/// Largest time value of a JavaScript `Date` (ms).
const MAX_TIME: f64 = 8.64e15;

static DAYJS_PARSE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let ws = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";
    Regex::new(&format!(
        r"^([0-9]{{4}})[-/]?([0-9]{{1,2}})?[-/]?([0-9]{{0,2}})[Tt{ws}]*([0-9]{{1,2}})?:?([0-9]{{1,2}})?:?([0-9]{{1,2}})?[.:]?([0-9]+)?$"
    ))
    .ok()
});

/// The common `YYYY-MM-DDTHH:mm:ss[.fff]Z` form with in-range parts: what V8's ISO branch
/// accepts, recognised without tokenizing (any other form goes the general way).
fn is_plain_iso_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        let part = b.get(from..to)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':');
    let (Some(_), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0, 4),
        digits(5, 7),
        digits(8, 10),
        digits(11, 13),
        digits(14, 16),
        digits(17, 19),
    ) else {
        return false;
    };
    let rest = b.get(19..).unwrap_or(&[]);
    let fraction_ok = match rest {
        [b'Z'] => true,
        [b'.', tail @ .., b'Z'] => !tail.is_empty() && tail.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    shape
        && fraction_ok
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59
}

/// Whether `String(Number(s))` can give back `s` (a cheap filter before computing it).
fn could_be_canonical_number(s: &str) -> bool {
    matches!(s, "NaN" | "Infinity" | "-Infinity")
        || (!s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e')))
}

/// Whether `dayjs` considers the string a valid date.
pub(crate) fn is_date_like(s: &str) -> bool {
    if is_plain_iso_utc(s) {
        return true;
    }
    if could_be_canonical_number(s) && number_to_string(string_to_number(s)) == s {
        let n = string_to_number(s);
        // dayjs.unix(n) → new Date(n * 1000)
        let ms = n * 1000.0;
        return ms.is_finite() && ms.abs() <= MAX_TIME;
    }
    let ends_with_z = s.ends_with(['z', 'Z']);
    if !ends_with_z && DAYJS_PARSE.as_ref().is_some_and(|r| r.is_match(s)) {
        // new Date(y, M, d, h, m, s, ms) with at most 4-digit years: always a valid date.
        return true;
    }
    v8_parse(s).is_some()
}

// ---------------------------------------------------------------------------------------------
// V8's `DateParser` (src/date/dateparser-inl.h): ES5 ISO strings first, then the legacy syntax.

const NONE: i64 = i64::MIN;

#[derive(Clone, Copy, Debug, PartialEq)]
enum KeywordType {
    Invalid,
    MonthName,
    TimeZoneName,
    TimeSeparator,
    AmPm,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Number {
        value: i64,
        length: usize,
    },
    Symbol(char),
    WhiteSpace,
    Keyword {
        kind: KeywordType,
        value: i64,
        length: usize,
    },
    Unknown,
    EndOfInput,
    Invalid,
}

impl Token {
    fn is_number(self) -> bool {
        matches!(self, Token::Number { .. })
    }
    fn is_fixed_number(self, n: usize) -> bool {
        matches!(self, Token::Number { length, .. } if length == n)
    }
    fn number(self) -> i64 {
        match self {
            Token::Number { value, .. } => value,
            _ => 0,
        }
    }
    fn is_symbol(self, c: char) -> bool {
        self == Token::Symbol(c)
    }
    fn is_sign(self) -> bool {
        matches!(self, Token::Symbol('+' | '-'))
    }
    fn sign(self) -> i64 {
        if self.is_symbol('-') { -1 } else { 1 }
    }
    fn is_keyword_z(self) -> bool {
        matches!(
            self,
            Token::Keyword {
                kind: KeywordType::TimeZoneName,
                value: 0,
                length: 1
            }
        )
    }
    fn is_keyword_type(self, t: KeywordType) -> bool {
        matches!(self, Token::Keyword { kind, .. } if kind == t)
    }
}

const KEYWORDS: &[(&[u8; 3], KeywordType, i64)] = &[
    (b"jan", KeywordType::MonthName, 1),
    (b"feb", KeywordType::MonthName, 2),
    (b"mar", KeywordType::MonthName, 3),
    (b"apr", KeywordType::MonthName, 4),
    (b"may", KeywordType::MonthName, 5),
    (b"jun", KeywordType::MonthName, 6),
    (b"jul", KeywordType::MonthName, 7),
    (b"aug", KeywordType::MonthName, 8),
    (b"sep", KeywordType::MonthName, 9),
    (b"oct", KeywordType::MonthName, 10),
    (b"nov", KeywordType::MonthName, 11),
    (b"dec", KeywordType::MonthName, 12),
    (b"am\0", KeywordType::AmPm, 0),
    (b"pm\0", KeywordType::AmPm, 12),
    (b"ut\0", KeywordType::TimeZoneName, 0),
    (b"utc", KeywordType::TimeZoneName, 0),
    (b"z\0\0", KeywordType::TimeZoneName, 0),
    (b"gmt", KeywordType::TimeZoneName, 0),
    (b"cdt", KeywordType::TimeZoneName, -5),
    (b"cst", KeywordType::TimeZoneName, -6),
    (b"edt", KeywordType::TimeZoneName, -4),
    (b"est", KeywordType::TimeZoneName, -5),
    (b"mdt", KeywordType::TimeZoneName, -6),
    (b"mst", KeywordType::TimeZoneName, -7),
    (b"pdt", KeywordType::TimeZoneName, -7),
    (b"pst", KeywordType::TimeZoneName, -8),
    (b"t\0\0", KeywordType::TimeSeparator, 0),
];

struct Tokenizer<'s> {
    /// The input; V8 reads UTF-16 code units, but every distinction it makes is on ASCII
    /// characters, so reading chars is equivalent.
    s: &'s str,
    pos: usize,
    next: Token,
}

impl<'s> Tokenizer<'s> {
    fn new(s: &'s str) -> Self {
        let mut t = Tokenizer {
            s,
            pos: 0,
            next: Token::EndOfInput,
        };
        t.next = t.scan();
        t
    }

    /// The current character (`'\0'` at the end, as in V8).
    fn ch(&self) -> char {
        self.s
            .get(self.pos..)
            .and_then(|r| r.chars().next())
            .unwrap_or('\0')
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn advance(&mut self) {
        self.pos += self.ch().len_utf8();
    }

    fn scan(&mut self) -> Token {
        let start = self.pos;
        if self.at_end() {
            return Token::EndOfInput;
        }
        let c = self.ch();
        if c.is_ascii_digit() {
            // Leading zeros are skipped; at most 9 significant digits are kept.
            while self.ch() == '0' {
                self.advance();
            }
            let mut value: i64 = 0;
            let mut digits = 0;
            while let Some(d) = self
                .ch()
                .to_digit(10)
                .filter(|_| self.ch().is_ascii_digit())
            {
                if digits < 9 {
                    value = value * 10 + i64::from(d);
                }
                digits += 1;
                self.advance();
            }
            return Token::Number {
                value,
                length: self.pos - start,
            };
        }
        if matches!(c, ':' | '-' | '+' | '.' | ')') {
            self.advance();
            return Token::Symbol(c);
        }
        if c >= 'A' && !is_js_whitespace(c) {
            let mut prefix = [0u8; 3];
            let mut length = 0;
            while !self.at_end() && self.ch() >= 'A' && !is_js_whitespace(self.ch()) {
                if let Some(slot) = prefix.get_mut(length) {
                    let ch = self.ch();
                    *slot = if ch.is_ascii() {
                        ch.to_ascii_lowercase() as u8
                    } else {
                        0xff
                    };
                }
                length += self.ch().len_utf16();
                self.advance();
            }
            for (word, kind, value) in KEYWORDS {
                if *word == &prefix && (length <= 3 || *kind == KeywordType::MonthName) {
                    return Token::Keyword {
                        kind: *kind,
                        value: *value,
                        length,
                    };
                }
            }
            return Token::Keyword {
                kind: KeywordType::Invalid,
                value: 0,
                length,
            };
        }
        if is_js_whitespace(c) {
            while !self.at_end() && is_js_whitespace(self.ch()) {
                self.advance();
            }
            return Token::WhiteSpace;
        }
        if c == '(' {
            let mut balance = 0;
            loop {
                match self.ch() {
                    ')' => balance -= 1,
                    '(' => balance += 1,
                    _ => {}
                }
                self.advance();
                if balance <= 0 || self.at_end() {
                    break;
                }
            }
            return Token::Unknown;
        }
        self.advance();
        Token::Unknown
    }

    fn next(&mut self) -> Token {
        let current = self.next;
        self.next = self.scan();
        current
    }

    fn peek(&self) -> Token {
        self.next
    }

    fn skip_symbol(&mut self, c: char) -> bool {
        if self.next.is_symbol(c) {
            self.next();
            true
        } else {
            false
        }
    }
}

fn between(x: i64, lo: i64, hi: i64) -> bool {
    (lo..=hi).contains(&x)
}

#[derive(Default)]
struct DayComposer {
    comp: [i64; 3],
    len: usize,
    named_month: Option<i64>,
    iso: bool,
}

impl DayComposer {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn add(&mut self, n: i64) -> bool {
        match self.comp.get_mut(self.len) {
            Some(slot) => {
                *slot = n;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn write(&self) -> Option<(i64, i64, i64)> {
        if self.len == 0 {
            return None;
        }
        let part = |i: usize| {
            self.comp
                .get(i)
                .copied()
                .filter(|_| i < self.len)
                .unwrap_or(1)
        };
        let (c0, c1, c2) = (part(0), part(1), part(2));
        let (mut year, month, day) = match self.named_month {
            None if self.iso || !between(c0, 1, 31) => (c0, c1, c2),
            None => (c2, c0, c1),
            Some(m) if !between(c0, 1, 31) => (c0, m, c1),
            Some(m) => (c1, m, c0),
        };
        if !self.iso {
            if between(year, 0, 49) {
                year += 2000;
            } else if between(year, 50, 99) {
                year += 1900;
            }
        }
        (between(month, 1, 12) && between(day, 1, 31)).then_some((year, month, day))
    }
}

#[derive(Default)]
struct TimeComposer {
    comp: [i64; 4],
    len: usize,
    hour_offset: Option<i64>,
}

impl TimeComposer {
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn is_expecting(&self, n: i64) -> bool {
        match self.len {
            1 | 2 => between(n, 0, 59),
            3 => between(n, 0, 999),
            _ => false,
        }
    }
    fn add(&mut self, n: i64) -> bool {
        match self.comp.get_mut(self.len) {
            Some(slot) => {
                *slot = n;
                self.len += 1;
                true
            }
            None => false,
        }
    }
    fn add_final(&mut self, n: i64) -> bool {
        if !self.add(n) {
            return false;
        }
        self.len = 4;
        true
    }
    fn write(&self) -> Option<i64> {
        let part = |i: usize| {
            self.comp
                .get(i)
                .copied()
                .filter(|_| i < self.len)
                .unwrap_or(0)
        };
        let (mut hour, minute, second, ms) = (part(0), part(1), part(2), part(3));
        if let Some(offset) = self.hour_offset {
            if !between(hour, 0, 12) {
                return None;
            }
            hour = hour % 12 + offset;
        }
        let ok = between(hour, 0, 23)
            && between(minute, 0, 59)
            && between(second, 0, 59)
            && between(ms, 0, 999);
        if !ok && (hour != 24 || minute != 0 || second != 0 || ms != 0) {
            return None;
        }
        Some(((hour * 60 + minute) * 60 + second) * 1000 + ms)
    }
}

struct TimeZoneComposer {
    sign: i64,
    hour: i64,
    minute: i64,
}

impl TimeZoneComposer {
    fn new() -> Self {
        TimeZoneComposer {
            sign: NONE,
            hour: NONE,
            minute: NONE,
        }
    }
    fn set(&mut self, offset_hours: i64) {
        self.sign = if offset_hours < 0 { -1 } else { 1 };
        self.hour = offset_hours.abs();
        self.minute = 0;
    }
    fn is_expecting(&self, n: i64) -> bool {
        self.hour != NONE && self.minute == NONE && between(n, 0, 59)
    }
    fn is_utc(&self) -> bool {
        self.hour == 0 && self.minute == 0
    }
    fn is_empty(&self) -> bool {
        self.hour == NONE
    }
    /// The UTC offset in seconds, `None` for local time, `Err` when out of range.
    fn write(&self) -> Result<Option<i64>, ()> {
        if self.sign == NONE {
            return Ok(None);
        }
        let hour = if self.hour == NONE { 0 } else { self.hour };
        let minute = if self.minute == NONE { 0 } else { self.minute };
        let total = hour * 3600 + minute * 60;
        if total > (1 << 30) - 1 {
            return Err(());
        }
        Ok(Some(if self.sign < 0 { -total } else { total }))
    }
}

fn read_milliseconds(token: Token) -> i64 {
    let Token::Number { value, length } = token else {
        return 0;
    };
    match length {
        1 => value * 100,
        2 => value * 10,
        3 => value,
        _ => {
            let mut length = length.min(9);
            let mut factor = 1;
            while length > 3 {
                factor *= 10;
                length -= 1;
            }
            value / factor
        }
    }
}

/// The ES5 ISO part of V8's parser; returns the first token it did not handle.
fn parse_es5(
    scanner: &mut Tokenizer,
    day: &mut DayComposer,
    time: &mut TimeComposer,
    tz: &mut TimeZoneComposer,
) -> Token {
    if scanner.peek().is_sign() {
        let sign_token = scanner.next();
        if !scanner.peek().is_fixed_number(6) {
            return sign_token;
        }
        let year = scanner.next().number();
        if sign_token.sign() < 0 && year == 0 {
            return sign_token;
        }
        day.add(sign_token.sign() * year);
    } else if scanner.peek().is_fixed_number(4) {
        day.add(scanner.next().number());
    } else {
        return scanner.next();
    }
    if scanner.skip_symbol('-') {
        if !scanner.peek().is_fixed_number(2) || !between(scanner.peek().number(), 1, 12) {
            return scanner.next();
        }
        day.add(scanner.next().number());
        if scanner.skip_symbol('-') {
            if !scanner.peek().is_fixed_number(2) || !between(scanner.peek().number(), 1, 31) {
                return scanner.next();
            }
            day.add(scanner.next().number());
        }
    }
    if !scanner.peek().is_keyword_type(KeywordType::TimeSeparator) {
        if scanner.peek() != Token::EndOfInput {
            return scanner.next();
        }
    } else {
        scanner.next();
        if !scanner.peek().is_fixed_number(2) || !between(scanner.peek().number(), 0, 24) {
            return Token::Invalid;
        }
        let hour_is_24 = scanner.peek().number() == 24;
        time.add(scanner.next().number());
        if !scanner.skip_symbol(':') {
            return Token::Invalid;
        }
        if !scanner.peek().is_fixed_number(2)
            || !between(scanner.peek().number(), 0, 59)
            || (hour_is_24 && scanner.peek().number() > 0)
        {
            return Token::Invalid;
        }
        time.add(scanner.next().number());
        if scanner.skip_symbol(':') {
            if !scanner.peek().is_fixed_number(2)
                || !between(scanner.peek().number(), 0, 59)
                || (hour_is_24 && scanner.peek().number() > 0)
            {
                return Token::Invalid;
            }
            time.add(scanner.next().number());
            if scanner.skip_symbol('.') {
                if !scanner.peek().is_number() || (hour_is_24 && scanner.peek().number() > 0) {
                    return Token::Invalid;
                }
                time.add(read_milliseconds(scanner.next()));
            }
        }
        if scanner.peek().is_keyword_z() {
            scanner.next();
            tz.set(0);
        } else if scanner.peek().is_sign() {
            tz.sign = scanner.next().sign();
            if scanner.peek().is_fixed_number(4) {
                let hourmin = scanner.next().number();
                let (hour, min) = (hourmin / 100, hourmin % 100);
                if !between(hour, 0, 23) || !between(min, 0, 59) {
                    return Token::Invalid;
                }
                tz.hour = hour;
                tz.minute = min;
            } else {
                if !scanner.peek().is_fixed_number(2) || !between(scanner.peek().number(), 0, 23) {
                    return Token::Invalid;
                }
                tz.hour = scanner.next().number();
                if !scanner.skip_symbol(':') {
                    return Token::Invalid;
                }
                if !scanner.peek().is_fixed_number(2) || !between(scanner.peek().number(), 0, 59) {
                    return Token::Invalid;
                }
                tz.minute = scanner.next().number();
            }
        }
        if scanner.peek() != Token::EndOfInput {
            return Token::Invalid;
        }
    }
    if tz.is_empty() && time.is_empty() {
        tz.set(0);
    }
    day.iso = true;
    Token::EndOfInput
}

/// `new Date(s)` in V8: the time value in ms, `None` for an invalid date.
pub(crate) fn v8_parse(s: &str) -> Option<f64> {
    let mut scanner = Tokenizer::new(s);
    let mut day = DayComposer::default();
    let mut time = TimeComposer::default();
    let mut tz = TimeZoneComposer::new();

    let mut token = parse_es5(&mut scanner, &mut day, &mut time, &mut tz);
    if token == Token::Invalid {
        return None;
    }
    let mut has_read_number = !day.is_empty();
    while token != Token::EndOfInput {
        match token {
            Token::Number { value: n, .. } => {
                has_read_number = true;
                if scanner.skip_symbol(':') {
                    if scanner.skip_symbol(':') {
                        if !time.is_empty() {
                            return None;
                        }
                        time.add(n);
                        time.add(0);
                    } else {
                        if !time.add(n) {
                            return None;
                        }
                        if scanner.peek().is_symbol('.') {
                            scanner.next();
                        }
                    }
                } else if scanner.skip_symbol('.') && time.is_expecting(n) {
                    // V8 consumes the '.' even when the number is not a time part.
                    time.add(n);
                    if !scanner.peek().is_number() {
                        return None;
                    }
                    let ms = read_milliseconds(scanner.next());
                    time.add_final(ms);
                } else if tz.is_expecting(n) {
                    tz.minute = n;
                } else if time.is_expecting(n) {
                    time.add_final(n);
                    let peek = scanner.peek();
                    let ok = peek == Token::EndOfInput
                        || peek == Token::WhiteSpace
                        || peek.is_keyword_z()
                        || peek.is_sign();
                    if !ok {
                        return None;
                    }
                } else {
                    if !day.add(n) {
                        return None;
                    }
                    scanner.skip_symbol('-');
                }
            }
            Token::Keyword { kind, value, .. } => {
                if kind == KeywordType::AmPm && !time.is_empty() {
                    time.hour_offset = Some(value);
                } else if kind == KeywordType::MonthName {
                    day.named_month = Some(value);
                    scanner.skip_symbol('-');
                } else if kind == KeywordType::TimeZoneName && has_read_number {
                    tz.set(value);
                } else {
                    if has_read_number {
                        return None;
                    }
                    if scanner.peek().is_number() {
                        return None;
                    }
                }
            }
            t if t.is_sign() && (tz.is_utc() || !time.is_empty()) => {
                tz.sign = t.sign();
                let mut n = 0;
                let mut length = 0;
                if let Token::Number { value, length: l } = scanner.peek() {
                    scanner.next();
                    n = value;
                    length = l;
                }
                has_read_number = true;
                if scanner.peek().is_symbol(':') {
                    tz.hour = n;
                    tz.minute = NONE;
                } else if length == 1 || length == 2 {
                    tz.hour = n;
                    tz.minute = 0;
                } else if length == 3 || length == 4 {
                    tz.hour = n / 100;
                    tz.minute = n % 100;
                } else {
                    return None;
                }
            }
            t if (t.is_sign() || t.is_symbol(')')) && has_read_number => return None,
            _ => {}
        }
        token = scanner.next();
    }

    let (year, month, day_of_month) = day.write()?;
    let time_ms = time.write()?;
    let offset = tz.write().ok()?;
    let days = days_from_civil(year, month) + (day_of_month - 1) as f64;
    let mut t = days * 86_400_000.0 + time_ms as f64;
    if let Some(offset) = offset {
        t -= offset as f64 * 1000.0;
    }
    (t.is_finite() && t.abs() <= MAX_TIME).then_some(t)
}

/// Days from 1970-01-01 to the first day of `month` (1-12) of `year` (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64) -> f64 {
    let y = if month <= 2 { year - 1 } else { year } as f64;
    let m = month as f64;
    let era = (y / 400.0).floor();
    let yoe = y - era * 400.0;
    let mp = (m + 9.0) % 12.0;
    let doy = (153.0 * mp + 2.0) / 5.0;
    let doy = doy.floor();
    let doe = yoe * 365.0 + (yoe / 4.0).floor() - (yoe / 100.0).floor() + doy;
    era * 146_097.0 + doe - 719_468.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dayjs_accepts_what_the_vectors_accept() {
        for s in [
            "2021-02-03T04:05:06.000Z",
            "2021-02-03",
            "2021-02-03 04:05",
            "Feb 3, 2021",
            "Wed, 03 Feb 2021 04:05:06 GMT",
            "0",
            "-1",
            "12.5",
            "2021-13-45",
            "123",
            "2021-02-03T04:05:06+01:00",
            "3 February 2021 10:00 pm",
            "2021/2/3",
            "Thu Feb 04 2021 00:00:00 GMT+0000 (Coordinated Universal Time)",
            "20210203",
        ] {
            assert!(is_date_like(s), "{s:?} should be date-like");
        }
        for s in [
            "abc",
            "not a date",
            " ",
            "",
            "yesterday-ish",
            "a",
            "true",
            "nope",
            "NaN",
            "99999999999999",
            "2021-02-30Tfoo",
            "Feb 2021 x",
            "31/12/2020Z",
        ] {
            assert!(!is_date_like(s), "{s:?} should not be date-like");
        }
    }

    #[test]
    fn the_iso_fast_path_agrees_with_the_parser() {
        for s in [
            "2026-11-23T10:15:30.000Z",
            "2026-11-23T10:15:30Z",
            "2026-02-31T23:59:59.1234Z",
            "2026-13-23T10:15:30Z",
            "2026-11-00T10:15:30Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:60:30Z",
            "2026-11-23T10:15:30.Z",
            "2026-11-23 10:15:30Z",
        ] {
            if is_plain_iso_utc(s) {
                assert!(v8_parse(s).is_some(), "{s} is valid for V8 too");
            }
            assert_eq!(is_date_like(s), v8_parse(s).is_some(), "{s}");
        }
    }

    #[test]
    fn v8_fills_missing_year_and_range_checks() {
        // `new Date("Feb 3")` is 3 Feb 2001 in V8.
        let t = v8_parse("Feb 3").unwrap();
        assert_eq!(t, 981_158_400_000.0);
        assert_eq!(v8_parse("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(v8_parse("Jan 1 1970 00:00:01 GMT+0100"), Some(-3_599_000.0));
        assert!(v8_parse("Feb 32 2021").is_none());
        assert!(v8_parse("13/01/2021").is_none());
        assert!(v8_parse("2021-02-03T25:00Z").is_none());
    }
}
