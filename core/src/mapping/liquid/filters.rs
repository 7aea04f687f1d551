//! Filters with liquidjs semantics: arithmetic (`toNumber`, float division, `Infinity`),
//! `size` in UTF-16 units, `default`, `json`, `sum`, `date` (UTC), URL coding; the filters
//! the reference disables; and a pass-through for unknown filters.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use liquid_core::model::{KStringCow, State, Value as LValue, ValueView};
use liquid_core::parser::{FilterArguments, FilterReflection, ParameterReflection, ParseFilter};
use liquid_core::{Error as LError, Expression, Filter, Runtime};

use super::super::js::{self, js_number_to_string, utf16_len};
use super::view::JSON_OBJECT;

/// What a [`JsFilter`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JsKind {
    Plus,
    Minus,
    Times,
    DividedBy,
    Modulo,
    Abs,
    Ceil,
    Floor,
    Round,
    AtLeast,
    AtMost,
    Size,
    Default,
    Json,
    Jsonify,
    Sum,
    Date,
    UrlEncode,
    UrlDecode,
    Disabled,
    Identity,
}

impl JsKind {
    pub(super) const ALL: [JsKind; 19] = [
        JsKind::Plus,
        JsKind::Minus,
        JsKind::Times,
        JsKind::DividedBy,
        JsKind::Modulo,
        JsKind::Abs,
        JsKind::Ceil,
        JsKind::Floor,
        JsKind::Round,
        JsKind::AtLeast,
        JsKind::AtMost,
        JsKind::Size,
        JsKind::Default,
        JsKind::Json,
        JsKind::Jsonify,
        JsKind::Sum,
        JsKind::Date,
        JsKind::UrlEncode,
        JsKind::UrlDecode,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            JsKind::Plus => "plus",
            JsKind::Minus => "minus",
            JsKind::Times => "times",
            JsKind::DividedBy => "divided_by",
            JsKind::Modulo => "modulo",
            JsKind::Abs => "abs",
            JsKind::Ceil => "ceil",
            JsKind::Floor => "floor",
            JsKind::Round => "round",
            JsKind::AtLeast => "at_least",
            JsKind::AtMost => "at_most",
            JsKind::Size => "size",
            JsKind::Default => "default",
            JsKind::Json => "json",
            JsKind::Jsonify => "jsonify",
            JsKind::Sum => "sum",
            JsKind::Date => "date",
            JsKind::UrlEncode => "url_encode",
            JsKind::UrlDecode => "url_decode",
            JsKind::Disabled => "disabled",
            JsKind::Identity => "identity",
        }
    }
}

/// A filter implemented here (or disabled, or a pass-through), registered under `name`.
#[derive(Clone)]
pub(super) struct JsFilter {
    name: String,
    kind: JsKind,
}

impl JsFilter {
    pub(super) fn new(name: &str, kind: JsKind) -> Self {
        JsFilter {
            name: name.to_owned(),
            kind,
        }
    }
}

impl FilterReflection for JsFilter {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        "liquidjs-compatible filter"
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for JsFilter {
    fn parse(&self, arguments: FilterArguments<'_>) -> liquid_core::Result<Box<dyn Filter>> {
        let args: Vec<Expression> = arguments.positional.collect();
        let keywords: Vec<(String, Expression)> =
            arguments.keyword.map(|(k, e)| (k.to_owned(), e)).collect();
        Ok(Box::new(JsFilterRun {
            name: self.name.clone(),
            kind: self.kind,
            args,
            keywords,
        }))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct JsFilterRun {
    name: String,
    kind: JsKind,
    args: Vec<Expression>,
    keywords: Vec<(String, Expression)>,
}

impl fmt::Display for JsFilterRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// JavaScript `+value || 0` (liquidjs `toNumber`).
fn to_number(v: &dyn ValueView) -> f64 {
    let n = if let Some(s) = v.as_scalar() {
        if let Some(i) = s.to_integer() {
            i as f64
        } else if let Some(f) = s.to_float().filter(|_| s.to_bool().is_none()) {
            f
        } else if let Some(b) = s.to_bool() {
            if b { 1.0 } else { 0.0 }
        } else {
            js_string_to_number(s.to_kstr().as_str())
        }
    } else if let Some(a) = v.as_array() {
        match a.size() {
            0 => 0.0,
            1 => a.first().map_or(f64::NAN, to_number_raw),
            _ => f64::NAN,
        }
    } else {
        f64::NAN
    };
    if n.is_nan() { 0.0 } else { n }
}

fn to_number_raw(v: &dyn ValueView) -> f64 {
    match v.as_scalar() {
        Some(s) => match s.to_float() {
            Some(f) => f,
            None => js_string_to_number(s.to_kstr().as_str()),
        },
        None => f64::NAN,
    }
}

/// JavaScript `Number(string)`.
fn js_string_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    let lower = t.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            return u64::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64);
        }
    }
    if t.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        t.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// A number as a Liquid value that prints as JavaScript prints it.
fn num_value(f: f64) -> LValue {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        return LValue::scalar(f as i64);
    }
    let js = js_number_to_string(f);
    if f.is_finite() && format!("{f}") == js {
        LValue::scalar(f)
    } else {
        LValue::scalar(js)
    }
}

fn shift_decimal(n: f64, exponent: i64) -> f64 {
    let s = js_number_to_string(n);
    let (mantissa, power) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let power: i64 = power.parse().unwrap_or(0);
    format!("{mantissa}e{}", power + exponent)
        .parse()
        .unwrap_or(f64::NAN)
}

/// liquidjs `round(v, digits)`.
fn js_round(v: f64, digits: f64) -> f64 {
    let arg = digits as i64;
    let scaled = shift_decimal(v.abs(), arg);
    if scaled.is_nan() || scaled > 9_007_199_254_740_991.0 {
        return v;
    }
    let rounded = shift_decimal((scaled + 0.5).floor(), -arg);
    if v < 0.0 { -rounded } else { rounded }
}

fn json_of(v: &dyn ValueView, out: &mut String, depth: usize) {
    if depth > js::MAX_VALUE_DEPTH {
        out.push_str("null");
        return;
    }
    if let Some(s) = v.as_scalar() {
        if let Some(b) = s.to_bool().filter(|_| v.type_name() == "boolean") {
            out.push_str(if b { "true" } else { "false" });
        } else if let (Some(i), true) = (s.to_integer(), v.type_name() == "whole number") {
            out.push_str(&i.to_string());
        } else if let (Some(f), true) = (s.to_float(), v.type_name() == "fractional number") {
            if f.is_finite() {
                out.push_str(&js_number_to_string(f));
            } else {
                out.push_str("null");
            }
        } else {
            js::write_json_string(s.to_kstr().as_str(), out);
        }
    } else if let Some(a) = v.as_array() {
        out.push('[');
        for (i, item) in a.values().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_of(item, out, depth + 1);
        }
        out.push(']');
    } else if let Some(o) = v.as_object() {
        out.push('{');
        let mut entries: Vec<(KStringCow<'_>, &dyn ValueView)> = o.iter().collect();
        if v.type_name() != JSON_OBJECT {
            entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        }
        for (i, (k, item)) in entries.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            js::write_json_string(k.as_str(), out);
            out.push(':');
            json_of(item, out, depth + 1);
        }
        out.push('}');
    } else {
        out.push_str("null");
    }
}

/// `encodeURIComponent(s).replace(/%20/g, '+')`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(char::from(b)),
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `decodeURIComponent`; `None` for malformed input (liquidjs throws `URIError`).
fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// liquidjs `new Date(value)` for the `date` filter (UTC).
fn to_date(v: &dyn ValueView) -> Option<DateTime<Utc>> {
    let s = v.as_scalar()?;
    if let (Some(i), true) = (s.to_integer(), v.type_name() == "whole number") {
        return Utc.timestamp_opt(i, 0).single();
    }
    if let (Some(f), true) = (s.to_float(), v.type_name() == "fractional number") {
        return Utc.timestamp_millis_opt((f * 1000.0) as i64).single();
    }
    let text = s.to_kstr().into_owned();
    let text = text.as_str().trim();
    if text == "now" || text == "today" {
        return Some(Utc::now());
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return Utc.timestamp_opt(text.parse().ok()?, 0).single();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(text) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
}

fn format_date(d: &DateTime<Utc>, fmt: &str) -> Option<String> {
    use std::fmt::Write as _;
    let items: Vec<chrono::format::Item<'_>> = chrono::format::StrftimeItems::new(fmt).collect();
    if items
        .iter()
        .any(|i| matches!(i, chrono::format::Item::Error))
    {
        return None;
    }
    let mut out = String::new();
    write!(out, "{}", d.format_with_items(items.into_iter())).ok()?;
    Some(out)
}

impl Filter for JsFilterRun {
    fn evaluate(
        &self,
        input: &dyn ValueView,
        runtime: &dyn Runtime,
    ) -> liquid_core::Result<LValue> {
        let mut args = Vec::with_capacity(self.args.len());
        for a in &self.args {
            args.push(a.evaluate(runtime)?);
        }
        let arg = |i: usize| args.as_slice().get(i).map(|a| to_number(a.as_view()));
        let x = || to_number(input);
        Ok(match self.kind {
            JsKind::Disabled => {
                return Err(LError::with_msg(format!(
                    "filter \"{}\" is disabled",
                    self.name
                )));
            }
            JsKind::Identity => input.to_value(),
            JsKind::Plus => num_value(x() + arg(0).unwrap_or(0.0)),
            JsKind::Minus => num_value(x() - arg(0).unwrap_or(0.0)),
            JsKind::Times => num_value(x() * arg(0).unwrap_or(0.0)),
            JsKind::DividedBy => {
                let d = arg(0).unwrap_or(0.0);
                let integer = args
                    .as_slice()
                    .get(1)
                    .is_some_and(|a| a.query_state(State::Truthy));
                if integer {
                    num_value((x() / d).floor())
                } else {
                    num_value(x() / d)
                }
            }
            JsKind::Modulo => {
                let m = arg(0).unwrap_or(0.0);
                num_value(((x() % m) + m) % m)
            }
            JsKind::Abs => num_value(x().abs()),
            JsKind::Ceil => num_value(x().ceil()),
            JsKind::Floor => num_value(x().floor()),
            JsKind::Round => num_value(js_round(x(), arg(0).unwrap_or(0.0))),
            JsKind::AtLeast => num_value(x().max(arg(0).unwrap_or(0.0))),
            JsKind::AtMost => num_value(x().min(arg(0).unwrap_or(0.0))),
            JsKind::Size => {
                if let Some(a) = input.as_array() {
                    LValue::scalar(a.size())
                } else if let (Some(s), true) = (input.as_scalar(), input.type_name() == "string") {
                    LValue::scalar(utf16_len(s.to_kstr().as_str()) as i64)
                } else {
                    LValue::scalar(0i64)
                }
            }
            JsKind::Default => {
                let fallback = args
                    .as_slice()
                    .first()
                    .map_or(LValue::Nil, |a| a.to_value());
                let allow_false = self.keywords.iter().any(|(k, e)| {
                    k == "allow_false"
                        && e.try_evaluate(runtime)
                            .is_some_and(|v| v.query_state(State::Truthy))
                });
                let is_string = input.type_name() == "string";
                if input.as_array().is_some() || is_string {
                    if input.query_state(State::Empty) {
                        fallback
                    } else {
                        input.to_value()
                    }
                } else if allow_false && input.as_scalar().and_then(|s| s.to_bool()) == Some(false)
                {
                    LValue::scalar(false)
                } else if !input.query_state(State::Truthy) {
                    fallback
                } else {
                    input.to_value()
                }
            }
            JsKind::Json | JsKind::Jsonify => {
                let mut out = String::new();
                json_of(input, &mut out, 0);
                LValue::scalar(out)
            }
            JsKind::Sum => {
                let property = args.as_slice().first().map(|a| a.to_kstr().into_owned());
                let items: Vec<&dyn ValueView> = match input.as_array() {
                    Some(a) => a.values().collect(),
                    None if input.is_nil() => Vec::new(),
                    None => vec![input],
                };
                let mut total = 0.0;
                for item in items {
                    let value = match &property {
                        Some(p) => item.as_object().and_then(|o| o.get(p.as_str())),
                        None => Some(item),
                    };
                    let n = value.map_or(f64::NAN, to_number_raw);
                    if !n.is_nan() {
                        total += n;
                    }
                }
                num_value(total)
            }
            JsKind::UrlEncode => LValue::scalar(url_encode(input.to_kstr().as_str())),
            JsKind::UrlDecode => {
                let text = input.to_kstr().as_str().replace('+', " ");
                match url_decode(&text) {
                    Some(s) => LValue::scalar(s),
                    None => return Err(LError::with_msg("URI malformed")),
                }
            }
            JsKind::Date => {
                let fmt = args.as_slice().first().map(|a| a.to_kstr().into_owned());
                match (to_date(input), fmt) {
                    (Some(d), Some(fmt)) => match format_date(&d, fmt.as_str()) {
                        Some(s) => LValue::scalar(s),
                        None => input.to_value(),
                    },
                    _ => input.to_value(),
                }
            }
        })
    }
}
