//! Conversion timestamps, read the way the reference reads `conversionHappenedAt`.
//!
//! The reference first tries JavaScript's `Number(s)`: when that is a safe integer between 0 and
//! 2100-01-01T00:00:00Z (4 102 444 800 000) it is taken as epoch **milliseconds**; otherwise the
//! string goes through `new Date(s)`. This module reproduces `Number()` exactly (whitespace
//! trimmed, `""` → 0, `0x`/`0o`/`0b` prefixes, exponents, `Infinity`) and, for dates, accepts
//! ISO-8601 (the ECMAScript date-time format and its common relaxations) and RFC 2822. Date-times
//! without an offset are taken as UTC (the reference runs on UTC machines). Anything else is not a
//! date (`None`, the reference's `NaN`).
//!
//! ```
//! use linkedin_conversions::timestamp::conversion_time;
//!
//! assert_eq!(conversion_time("1714813600000"), Some(1_714_813_600_000));
//! assert_eq!(conversion_time("2024-05-04T10:00:00Z"), Some(1_714_816_800_000));
//! assert_eq!(conversion_time("2024-05-04"), Some(1_714_780_800_000));
//! assert_eq!(conversion_time("Sat, 04 May 2024 10:00:00 GMT"), Some(1_714_816_800_000));
//! assert_eq!(conversion_time("5000000000000"), None); // beyond 2100 and not a date
//! assert_eq!(conversion_time("garbage"), None);
//! ```

/// 2100-01-01T00:00:00Z in epoch milliseconds: the largest value taken as epoch milliseconds.
pub const MAX_EPOCH_MS: i64 = 4_102_444_800_000;

/// Ninety days in milliseconds (the oldest conversion LinkedIn accepts).
pub const NINETY_DAYS_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// JavaScript's `Number(string)`; `NaN` when the text is not a numeric literal (the framework's
/// shared implementation).
pub use actions_core::js::string_to_number as js_number;

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The largest time value of a JavaScript `Date` (ms from the epoch, either way).
const MAX_TIME_MS: i64 = 8_640_000_000_000_000;

const MS_PER_DAY: i64 = 86_400_000;

/// The conversion time of a `conversionHappenedAt` value in epoch milliseconds, or `None` when
/// the reference would compute `NaN` (which it reports as `Timestamp is not a valid date.`).
pub fn conversion_time(value: &str) -> Option<i64> {
    let n = js_number(value);
    if is_safe_integer(n) && (0.0..=MAX_EPOCH_MS as f64).contains(&n) {
        // In range and integral: the cast is exact.
        return Some(n as i64);
    }
    parse_date(value)
}

fn is_safe_integer(n: f64) -> bool {
    n.is_finite() && n.trunc() == n && n.abs() <= MAX_SAFE_INTEGER
}

fn count_digits(b: &[u8], from: usize) -> usize {
    b.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_ascii_digit()).count()
    })
}

/// Parses an ISO-8601 or RFC 2822 date into epoch milliseconds (`None` = not a date).
pub fn parse_date(s: &str) -> Option<i64> {
    let t = s.trim_matches(actions_core::js::is_js_whitespace);
    let ms = match parse_iso(t) {
        Some(ms) => ms,
        None => chrono::DateTime::parse_from_rfc2822(t)
            .ok()?
            .timestamp_millis(),
    };
    (ms.abs() <= MAX_TIME_MS).then_some(ms)
}

/// A cursor over ASCII bytes.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.b.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// `YYYY[-MM[-DD]][(T|t| )HH:mm[:ss[.f+]]][Z|±HH:mm|±HHmm]` (or a `±YYYYYY` year). Date-only
/// forms and date-times without an offset are UTC.
fn parse_iso(s: &str) -> Option<i64> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = match c.peek()? {
        b'+' | b'-' => {
            let negative = c.peek() == Some(b'-');
            c.i += 1;
            let y = c.digits(6)?;
            if negative && y == 0 {
                return None;
            }
            if negative { -y } else { y }
        }
        _ => c.digits(4)?,
    };
    let mut month = 1;
    let mut day = 1;
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
        }
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut time_ms = 0;
    let mut offset_ms = 0;
    if matches!(c.peek(), Some(b'T' | b't' | b' ')) {
        c.i += 1;
        let hour = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        let minute = c.digits(2)?;
        let mut second = 0;
        let mut millis = 0;
        if c.eat(b':') {
            second = c.digits(2)?;
            if c.eat(b'.') || c.eat(b',') {
                let start = c.i;
                let fraction = count_digits(c.b, start);
                if fraction == 0 {
                    return None;
                }
                // Milliseconds are the first three digits; further digits are truncated.
                for k in 0..3 {
                    let d =
                        c.b.get(start + k)
                            .filter(|d| k < fraction && d.is_ascii_digit());
                    millis = millis * 10 + d.map_or(0, |d| i64::from(d - b'0'));
                }
                c.i += fraction;
            }
        }
        let in_range = (hour < 24 && minute < 60 && second < 60)
            || (hour == 24 && minute == 0 && second == 0 && millis == 0);
        if !in_range {
            return None;
        }
        time_ms = ((hour * 60 + minute) * 60 + second) * 1000 + millis;
        match c.peek() {
            Some(b'Z' | b'z') => c.i += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.i += 1;
                let oh = c.digits(2)?;
                c.eat(b':');
                let om = c.digits(2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let magnitude = (oh * 60 + om) * 60_000;
                offset_ms = if sign == b'+' { magnitude } else { -magnitude };
            }
            _ => {}
        }
    }
    if !c.done() {
        return None;
    }
    Some(days_from_civil(year, month, day) * MS_PER_DAY + time_ms - offset_ms)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date; a day past the month's end rolls
/// into the next month, as JavaScript's `MakeDay` does.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (day - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_follows_javascript() {
        assert_eq!(js_number(""), 0.0);
        assert_eq!(js_number("  \n"), 0.0);
        assert_eq!(js_number(" 42 "), 42.0);
        assert_eq!(js_number("0x10"), 16.0);
        assert_eq!(js_number("0b101"), 5.0);
        assert_eq!(js_number("0o17"), 15.0);
        assert_eq!(js_number("1e12"), 1e12);
        assert_eq!(js_number("-1.5"), -1.5);
        assert_eq!(js_number(".5"), 0.5);
        assert_eq!(js_number("5."), 5.0);
        assert_eq!(js_number("+Infinity"), f64::INFINITY);
        for nan in [
            "inf", "NaN", "infinity", "1e", "0x", "-0x10", "1_000", "12abc", ".", "e5", "1 2",
        ] {
            assert!(js_number(nan).is_nan(), "{nan}");
        }
    }

    #[test]
    fn epoch_milliseconds_within_range() {
        assert_eq!(conversion_time("1714813600000"), Some(1_714_813_600_000));
        assert_eq!(conversion_time(" 1714813600000\t"), Some(1_714_813_600_000));
        assert_eq!(conversion_time("0x10"), Some(16));
        assert_eq!(conversion_time("1e12"), Some(1_000_000_000_000));
        assert_eq!(conversion_time("4102444800000"), Some(MAX_EPOCH_MS));
        // Seconds are taken as milliseconds (1970), as in the reference.
        assert_eq!(conversion_time("1714813600"), Some(1_714_813_600));
        // Beyond 2100, fractional or negative: not epoch ms, and not dates either.
        assert_eq!(conversion_time("4102444800001"), None);
        assert_eq!(conversion_time("1714813600.5"), None);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_date("2024-05-04"), Some(1_714_780_800_000));
        assert_eq!(parse_date("2024-05-04T10:00:00Z"), Some(1_714_816_800_000));
        assert_eq!(parse_date("2024-05-04T10:00:00"), Some(1_714_816_800_000));
        assert_eq!(parse_date("2024-05-04 10:00:00"), Some(1_714_816_800_000));
        assert_eq!(parse_date("2024-05-04T10:00Z"), Some(1_714_816_800_000));
        assert_eq!(
            parse_date("2024-05-04T10:00:00.123Z"),
            Some(1_714_816_800_123)
        );
        assert_eq!(
            parse_date("2024-05-04T10:00:00.1239Z"),
            Some(1_714_816_800_123)
        );
        assert_eq!(
            parse_date("2024-05-04T10:00:00.5Z"),
            Some(1_714_816_800_500)
        );
        assert_eq!(
            parse_date("2026-10-30T10:15:00+02:00"),
            Some(1_793_348_100_000)
        );
        assert_eq!(
            parse_date("2026-10-30T10:15:00+0200"),
            Some(1_793_348_100_000)
        );
        assert_eq!(parse_date("2024-05"), Some(1_714_521_600_000));
        assert_eq!(parse_date("2024"), Some(1_704_067_200_000));
        assert_eq!(parse_date("+002024-05-04"), Some(1_714_780_800_000));
        assert_eq!(parse_date("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_date("2024-05-04T24:00:00Z"), Some(1_714_867_200_000));
        // Day overflow rolls into the next month, as V8 does.
        assert_eq!(parse_date("2021-02-31"), parse_date("2021-03-03"));
        for bad in [
            "2024-13-01",
            "2024-05-32",
            "2024-05-04T25:00:00Z",
            "2024-05-04T10:60:00Z",
            "2024-05-04T10",
            "2024-05-04T10:00:00.Z",
            "2024-05-04Z",
            "-000000-01-01",
            "May 4, 2024",
            "garbage",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc2822_dates() {
        assert_eq!(
            parse_date("Sat, 04 May 2024 10:00:00 GMT"),
            Some(1_714_816_800_000)
        );
        assert_eq!(
            parse_date("Sat, 04 May 2024 12:00:00 +0200"),
            Some(1_714_816_800_000)
        );
    }
}
