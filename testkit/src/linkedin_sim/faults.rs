//! Fault injection: which requests a fault applies to ([`RouteSelector`] + a count/time window)
//! and what happens to them ([`Fault`]).

use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::SimError;
use super::config::{duration_ms, opt_duration_ms};
use super::response::{SimResponse, default_error_body};
use super::routes::RouteKind;

/// Which requests a fault rule looks at.
///
/// Parsed from a string ([`RouteSelector::parse`]; JSON uses the same string):
/// * `"*"` — every request;
/// * a [`RouteKind`] name such as `"dmp_segment_users"` or `"conversion_events_batch_create"`;
/// * `"METHOD /path/pattern"` or just `"/path/pattern"` (any method), matched on the raw path
///   (query excluded) segment by segment: `*` inside a segment matches any characters except
///   `/`, and a final `**` segment matches whatever follows. Example:
///   `"POST /rest/dmpSegments/*/users"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RouteSelector {
    /// Every request.
    Any,
    /// Requests classified as this kind.
    Kind(RouteKind),
    /// A method (or any, when `None`) and a raw-path glob.
    Pattern {
        /// Upper-case method, e.g. `POST`.
        method: Option<String>,
        /// Path glob, e.g. `/rest/dmpSegments/*/users`.
        path: String,
    },
}

impl RouteSelector {
    /// Parses the string forms described on the type.
    ///
    /// ```
    /// use actions_testkit::linkedin_sim::{RouteKind, RouteSelector};
    ///
    /// assert_eq!(RouteSelector::parse("*").unwrap(), RouteSelector::Any);
    /// assert_eq!(
    ///     RouteSelector::parse("dmp_segment_users").unwrap(),
    ///     RouteSelector::Kind(RouteKind::DmpSegmentUsers)
    /// );
    /// assert!(RouteSelector::parse("POST /rest/conversionEvents").is_ok());
    /// assert!(RouteSelector::parse("no_such_route").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, SimError> {
        let s = s.trim();
        if s == "*" {
            return Ok(RouteSelector::Any);
        }
        if let Some(kind) = RouteKind::from_name(s) {
            return Ok(RouteSelector::Kind(kind));
        }
        let (method, path) = match s.split_once(' ') {
            Some((m, p)) => (m.trim(), p.trim()),
            None => ("*", s),
        };
        let method_ok =
            method == "*" || (!method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase()));
        if !path.starts_with('/') || !method_ok {
            return Err(SimError::Config(format!(
                "route selector {s:?}: expected \"*\", a route kind name, or \"METHOD /path\""
            )));
        }
        Ok(RouteSelector::Pattern {
            method: (method != "*").then(|| method.to_string()),
            path: path.to_string(),
        })
    }

    pub(crate) fn matches(&self, method: &str, path: &str, kind: RouteKind) -> bool {
        match self {
            RouteSelector::Any => true,
            RouteSelector::Kind(k) => *k == kind,
            RouteSelector::Pattern { method: m, path: p } => {
                m.as_deref().is_none_or(|m| m == method) && path_matches(p, path)
            }
        }
    }
}

impl From<RouteKind> for RouteSelector {
    fn from(kind: RouteKind) -> Self {
        RouteSelector::Kind(kind)
    }
}

impl TryFrom<String> for RouteSelector {
    type Error = SimError;
    fn try_from(s: String) -> Result<Self, SimError> {
        RouteSelector::parse(&s)
    }
}

impl From<RouteSelector> for String {
    fn from(r: RouteSelector) -> String {
        r.to_string()
    }
}

impl fmt::Display for RouteSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteSelector::Any => f.write_str("*"),
            RouteSelector::Kind(k) => f.write_str(k.name()),
            RouteSelector::Pattern { method, path } => {
                write!(f, "{} {path}", method.as_deref().unwrap_or("*"))
            }
        }
    }
}

/// Segment-wise glob: `*` within a segment, a final `**` for "anything after".
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return pat.next().is_none(),
            (Some(p), Some(s)) => {
                if !segment_matches(p.as_bytes(), s.as_bytes()) {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// `*`-wildcard match of one segment (iterative, linear backtracking).
fn segment_matches(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = s.get(si) {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&pc) if pc == c => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&b| b == b'*')
}

/// One fault rule: a selector, an optional window (by request count and/or time since the rule
/// was installed) and the fault.
///
/// Counting: every request the selector matches advances the rule's counter. The first
/// `after_requests` matching requests are skipped, then at most `max_requests` are affected; with
/// `start`/`end`, only requests arriving in `[start, end)` after installation are affected.
/// Rules are evaluated in order; latency adds up, the first rule that answers (or resets/hangs)
/// wins, and a request no rule answers reaches the simulated API.
///
/// ```
/// use std::time::Duration;
/// use actions_testkit::linkedin_sim::{CannedResponse, Fault, FaultRule, RouteKind, Step};
///
/// // The next 3 batch conversion uploads answer 429, 500, then go through.
/// let rule = FaultRule::new(
///     RouteKind::ConversionEventsBatchCreate,
///     Fault::Sequence(vec![
///         Step::Respond(CannedResponse::status(429)),
///         Step::Respond(CannedResponse::status(500)),
///     ]),
/// );
/// // Every request to /rest/me is 200 ms slower during the first 5 seconds.
/// let slow = FaultRule::new(RouteKind::Me, Fault::Latency(Duration::from_millis(200)))
///     .until_time(Duration::from_secs(5));
/// # let _ = (rule, slow);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Which requests the rule looks at.
    pub route: RouteSelector,
    /// Matching requests to let through before the rule applies.
    #[serde(default)]
    pub after_requests: u64,
    /// How many matching requests (after `after_requests`) the rule applies to; `None` = all.
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// The rule applies from this long after installation (JSON: `start_ms`).
    #[serde(default, rename = "start_ms", with = "opt_duration_ms")]
    pub start: Option<Duration>,
    /// The rule stops applying this long after installation (JSON: `end_ms`).
    #[serde(default, rename = "end_ms", with = "opt_duration_ms")]
    pub end: Option<Duration>,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule that applies `fault` to every request `route` selects.
    pub fn new(route: impl Into<RouteSelector>, fault: Fault) -> Self {
        Self {
            route: route.into(),
            after_requests: 0,
            max_requests: None,
            start: None,
            end: None,
            fault,
        }
    }

    /// Let the first `n` matching requests through.
    pub fn after_requests(mut self, n: u64) -> Self {
        self.after_requests = n;
        self
    }

    /// Apply to at most `n` matching requests.
    pub fn max_requests(mut self, n: u64) -> Self {
        self.max_requests = Some(n);
        self
    }

    /// Apply only from `d` after installation.
    pub fn from_time(mut self, d: Duration) -> Self {
        self.start = Some(d);
        self
    }

    /// Stop applying `d` after installation.
    pub fn until_time(mut self, d: Duration) -> Self {
        self.end = Some(d);
        self
    }
}

/// What a fault rule does to a request it applies to.
///
/// JSON (externally tagged, snake_case): `{"respond": {"status": 503}}`, `{"latency": 250}`
/// (milliseconds), `"reset"`, `"hang"`, `{"sequence": [{"respond": {"status": 429}}, "pass"]}`,
/// `{"rate_limit": {"budget": 10, "window_ms": 1000}}`, `{"error_rate": {"rate": 0.2}}`,
/// `{"sometimes": {"rate": 0.01, "step": "reset"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this response instead of the API.
    Respond(CannedResponse),
    /// Delay the request, then let later rules and the API handle it.
    Latency(#[serde(with = "duration_ms")] Duration),
    /// Close the connection without answering (TCP reset).
    Reset,
    /// Never answer: the request hangs until the client gives up or the simulator stops.
    Hang,
    /// The i-th affected request gets step i; once the steps run out requests pass through.
    Sequence(Vec<Step>),
    /// A fixed-window request budget; requests over budget answer 429.
    RateLimit(RateLimit),
    /// Fail a fraction of requests with a 5xx chosen by the seeded RNG.
    ErrorRate(ErrorRate),
    /// Apply a step (a reset, a hang, a latency spike, an answer) to a fraction of the requests
    /// chosen by the seeded RNG.
    Sometimes(Sometimes),
}

/// Apply `step` to `rate` (0.0–1.0) of the requests, chosen by the seeded RNG.
///
/// ```
/// use actions_testkit::linkedin_sim::{Fault, FaultRule, RouteSelector, Sometimes, Step};
///
/// // One request in a hundred loses its connection, one in five hundred never gets an answer.
/// let resets = FaultRule::new(RouteSelector::Any, Fault::Sometimes(Sometimes::new(0.01, Step::Reset)));
/// let hangs = FaultRule::new(RouteSelector::Any, Fault::Sometimes(Sometimes::new(0.002, Step::Hang)));
/// # let _ = (resets, hangs);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sometimes {
    /// Fraction of the requests the step applies to (NaN counts as 0).
    pub rate: f64,
    /// What happens to them.
    pub step: Step,
}

impl Sometimes {
    /// `step` for `rate` of the requests.
    pub fn new(rate: f64, step: Step) -> Self {
        Self { rate, step }
    }
}

/// A probability from a configured rate: NaN is 0, the rest is clamped to 0.0–1.0.
fn probability(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// One step of a [`Fault::Sequence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Let the request through.
    Pass,
    /// Answer with this response.
    Respond(CannedResponse),
    /// Delay, then let it through.
    Latency(#[serde(with = "duration_ms")] Duration),
    /// Close the connection without answering.
    Reset,
    /// Never answer.
    Hang,
}

/// A response a fault sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    /// HTTP status (an invalid code is sent as 500).
    pub status: u16,
    /// Body; defaults to LinkedIn's error body for the status.
    #[serde(default)]
    pub body: CannedBody,
    /// Extra headers (invalid names or values are skipped).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
}

impl CannedResponse {
    /// `status` with LinkedIn's JSON error body for it (e.g. 429 `QUOTA_EXCEEDED`,
    /// 500 `{"status":500,"message":"Internal Server Error"}`).
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: CannedBody::LinkedIn,
            headers: IndexMap::new(),
        }
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            body: CannedBody::Json(body),
            ..Self::status(status)
        }
    }

    /// `status` with a `text/plain` body (e.g. 429 `Too Many Requests`).
    pub fn text(status: u16, text: &str) -> Self {
        Self {
            body: CannedBody::Text(text.into()),
            ..Self::status(status)
        }
    }

    /// `status` with no body at all.
    pub fn empty(status: u16) -> Self {
        Self {
            body: CannedBody::Empty,
            ..Self::status(status)
        }
    }

    /// 401 with `serviceErrorCode` 65601 (`REVOKED_ACCESS_TOKEN`).
    pub fn revoked_token() -> Self {
        Self::json(401, super::response::TokenError::Revoked.response_body())
    }

    /// 401 with `serviceErrorCode` 65602 (`EXPIRED_ACCESS_TOKEN`).
    pub fn expired_token() -> Self {
        Self::json(401, super::response::TokenError::Expired.response_body())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    pub(crate) fn to_response(&self) -> SimResponse {
        let status = if (100..=999).contains(&self.status) {
            self.status
        } else {
            500
        };
        let mut resp = match &self.body {
            CannedBody::LinkedIn => SimResponse::json(status, &default_error_body(status)),
            CannedBody::Json(v) => SimResponse::json(status, v),
            CannedBody::Text(t) => SimResponse::text(status, t),
            CannedBody::Empty => SimResponse::empty(status),
        };
        for (k, v) in &self.headers {
            resp = resp.with_header(k, v.clone());
        }
        resp
    }
}

/// Body of a [`CannedResponse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CannedBody {
    /// LinkedIn's JSON error body for the status (JSON: `"linkedin"`).
    #[default]
    #[serde(rename = "linkedin")]
    LinkedIn,
    /// This JSON value.
    Json(Value),
    /// This text, as `text/plain`.
    Text(String),
    /// No body.
    Empty,
}

/// A fixed-window request budget: at most `budget` requests per `window` (windows start when the
/// rule is installed); the rest answer 429.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub budget: u32,
    /// Window length (JSON: `window_ms`); zero means one window for ever.
    #[serde(rename = "window_ms", with = "duration_ms")]
    pub window: Duration,
    /// Whether and how to send `Retry-After`.
    #[serde(default)]
    pub retry_after: RetryAfter,
    /// Send `X-RateLimit-Limit` (the budget), `X-RateLimit-Remaining` (0) and
    /// `X-RateLimit-Reset` (seconds until the window ends, rounded up).
    #[serde(default)]
    pub rate_limit_headers: bool,
    /// Answer with the plain-text body `Too Many Requests` instead of LinkedIn's JSON.
    #[serde(default)]
    pub plain_text: bool,
}

impl RateLimit {
    /// `budget` requests per `window`, JSON body, no extra headers.
    pub fn new(budget: u32, window: Duration) -> Self {
        Self {
            budget,
            window,
            retry_after: RetryAfter::None,
            rate_limit_headers: false,
            plain_text: false,
        }
    }

    /// Sets the `Retry-After` behaviour.
    pub fn retry_after(mut self, r: RetryAfter) -> Self {
        self.retry_after = r;
        self
    }

    /// Adds the `X-RateLimit-*` headers.
    pub fn with_rate_limit_headers(mut self) -> Self {
        self.rate_limit_headers = true;
        self
    }

    /// Uses the plain-text `Too Many Requests` body.
    pub fn plain_text(mut self) -> Self {
        self.plain_text = true;
        self
    }

    fn response(&self, until_reset: Duration) -> SimResponse {
        let mut resp = if self.plain_text {
            SimResponse::text(429, "Too Many Requests")
        } else {
            SimResponse::json(429, &default_error_body(429))
        };
        let reset_secs = until_reset.as_secs() + u64::from(until_reset.subsec_nanos() > 0);
        match self.retry_after {
            RetryAfter::None => {}
            RetryAfter::UntilReset => {
                resp = resp.with_header("retry-after", reset_secs.max(1).to_string())
            }
            RetryAfter::Seconds(s) => resp = resp.with_header("retry-after", s.to_string()),
        }
        if self.rate_limit_headers {
            resp = resp
                .with_header("x-ratelimit-limit", self.budget.to_string())
                .with_header("x-ratelimit-remaining", "0")
                .with_header("x-ratelimit-reset", reset_secs.to_string());
        }
        resp
    }
}

/// `Retry-After` on rate-limited answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// No `Retry-After` header.
    #[default]
    None,
    /// Seconds until the current window ends (rounded up, at least 1).
    UntilReset,
    /// A fixed number of seconds.
    Seconds(u64),
}

/// Fail `rate` (0.0–1.0) of the requests, each with a status drawn from `statuses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    /// Fraction of requests that fail.
    pub rate: f64,
    /// Statuses to choose from (uniformly); default `[500]`.
    #[serde(default = "default_statuses")]
    pub statuses: Vec<u16>,
}

fn default_statuses() -> Vec<u16> {
    vec![500]
}

impl ErrorRate {
    /// Fail `rate` of the requests with 500.
    pub fn new(rate: f64) -> Self {
        Self {
            rate,
            statuses: default_statuses(),
        }
    }
}

/// What the fault rules decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Pass,
    Respond(SimResponse),
    Reset,
    Hang,
}

/// The decision for one request: total delay, then the outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub(crate) delay: Duration,
    pub(crate) outcome: Outcome,
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    installed: Instant,
    seen: u64,
    applied: u64,
    bucket: u64,
    bucket_count: u64,
}

impl RuleState {
    fn new(rule: FaultRule, now: Instant) -> Self {
        Self {
            rule,
            installed: now,
            seen: 0,
            applied: 0,
            bucket: 0,
            bucket_count: 0,
        }
    }
}

/// The installed rules with their counters, and the seeded RNG for error rates.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    rules: Vec<RuleState>,
    rng: ChaCha8Rng,
}

impl FaultEngine {
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64, now: Instant) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(2);
        Self {
            rules: rules.into_iter().map(|r| RuleState::new(r, now)).collect(),
            rng,
        }
    }

    pub(crate) fn replace(&mut self, rules: Vec<FaultRule>, now: Instant) {
        self.rules = rules.into_iter().map(|r| RuleState::new(r, now)).collect();
    }

    pub(crate) fn push(&mut self, rule: FaultRule, now: Instant) {
        self.rules.push(RuleState::new(rule, now));
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|r| r.rule.clone()).collect()
    }

    pub(crate) fn evaluate(
        &mut self,
        method: &str,
        path: &str,
        kind: RouteKind,
        now: Instant,
    ) -> Decision {
        let mut delay = Duration::ZERO;
        let terminal = |delay, outcome| Decision { delay, outcome };
        for state in &mut self.rules {
            let rule = &state.rule;
            if !rule.route.matches(method, path, kind) {
                continue;
            }
            let index = state.seen;
            state.seen += 1;
            if index < rule.after_requests {
                continue;
            }
            if rule
                .max_requests
                .is_some_and(|max| index - rule.after_requests >= max)
            {
                continue;
            }
            let elapsed = now.saturating_duration_since(state.installed);
            if rule.start.is_some_and(|s| elapsed < s) || rule.end.is_some_and(|e| elapsed >= e) {
                continue;
            }
            let applied = state.applied;
            state.applied += 1;
            let step = match &rule.fault {
                Fault::Respond(c) => Step::Respond(c.clone()),
                Fault::Latency(d) => Step::Latency(*d),
                Fault::Reset => Step::Reset,
                Fault::Hang => Step::Hang,
                Fault::Sequence(steps) => usize::try_from(applied)
                    .ok()
                    .and_then(|i| steps.get(i))
                    .cloned()
                    .unwrap_or(Step::Pass),
                Fault::RateLimit(rl) => {
                    let window = rl.window.as_nanos();
                    let bucket = elapsed
                        .as_nanos()
                        .checked_div(window)
                        .map_or(0, |b| u64::try_from(b).unwrap_or(u64::MAX));
                    if bucket != state.bucket {
                        state.bucket = bucket;
                        state.bucket_count = 0;
                    }
                    state.bucket_count += 1;
                    if state.bucket_count <= u64::from(rl.budget) {
                        Step::Pass
                    } else {
                        let into = elapsed.as_nanos().checked_rem(window).unwrap_or(0);
                        let left = window.saturating_sub(into);
                        let left = Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX));
                        return terminal(delay, Outcome::Respond(rl.response(left)));
                    }
                }
                Fault::Sometimes(sometimes) => {
                    if self.rng.random::<f64>() < probability(sometimes.rate) {
                        sometimes.step.clone()
                    } else {
                        Step::Pass
                    }
                }
                Fault::ErrorRate(er) => {
                    if self.rng.random::<f64>() < probability(er.rate) {
                        let status = match er.statuses.len() {
                            0 => 500,
                            n => er
                                .statuses
                                .get(self.rng.random_range(0..n))
                                .copied()
                                .unwrap_or(500),
                        };
                        Step::Respond(CannedResponse::status(status))
                    } else {
                        Step::Pass
                    }
                }
            };
            match step {
                Step::Pass => {}
                Step::Latency(d) => delay += d,
                Step::Respond(c) => return terminal(delay, Outcome::Respond(c.to_response())),
                Step::Reset => return terminal(delay, Outcome::Reset),
                Step::Hang => return terminal(delay, Outcome::Hang),
            }
        }
        terminal(delay, Outcome::Pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_segments() {
        assert!(path_matches(
            "/rest/dmpSegments/*/users",
            "/rest/dmpSegments/123/users"
        ));
        assert!(!path_matches(
            "/rest/dmpSegments/*/users",
            "/rest/dmpSegments/1/2/users"
        ));
        assert!(path_matches("/rest/**", "/rest/a/b/c"));
        assert!(path_matches("/rest/conv*", "/rest/conversionEvents"));
        assert!(!path_matches("/rest/conv*", "/rest/dmpSegments"));
        assert!(path_matches("/rest/*Events", "/rest/conversionEvents"));
    }

    #[test]
    fn window_by_count() {
        let now = Instant::now();
        let rule = FaultRule::new(
            RouteSelector::Any,
            Fault::Respond(CannedResponse::status(503)),
        )
        .after_requests(1)
        .max_requests(2);
        let mut engine = FaultEngine::new(vec![rule], 1, now);
        let statuses: Vec<Option<u16>> = (0..5)
            .map(|_| {
                match engine
                    .evaluate("GET", "/rest/me", RouteKind::Me, now)
                    .outcome
                {
                    Outcome::Respond(r) => Some(r.status),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(statuses, vec![None, Some(503), Some(503), None, None]);
    }

    #[test]
    fn sometimes_applies_its_step_to_about_its_rate_of_requests() {
        let now = Instant::now();
        let rule = FaultRule::new(
            RouteSelector::Any,
            Fault::Sometimes(Sometimes::new(0.25, Step::Reset)),
        );
        let count = |seed| {
            let mut engine = FaultEngine::new(vec![rule.clone()], seed, now);
            (0..4000)
                .filter(|_| {
                    engine
                        .evaluate("POST", "/rest/conversionEvents", RouteKind::Me, now)
                        .outcome
                        == Outcome::Reset
                })
                .count()
        };
        let resets = count(5);
        // 4000 draws at 0.25: 1000 expected, the standard deviation is about 27.
        assert!((850..1150).contains(&resets), "{resets} resets");
        assert_eq!(count(5), resets, "the same seed draws the same requests");
        let never = FaultRule::new(
            RouteSelector::Any,
            Fault::Sometimes(Sometimes::new(f64::NAN, Step::Hang)),
        );
        let mut engine = FaultEngine::new(vec![never], 1, now);
        assert!((0..100).all(|_| {
            engine
                .evaluate("GET", "/rest/me", RouteKind::Me, now)
                .outcome
                == Outcome::Pass
        }));
        let json = serde_json::json!({"route": "*", "fault": {"sometimes": {"rate": 0.5, "step": "hang"}}});
        let parsed: FaultRule = serde_json::from_value(json).expect("valid");
        assert_eq!(
            parsed.fault,
            Fault::Sometimes(Sometimes::new(0.5, Step::Hang))
        );
    }

    #[test]
    fn selectors_serialize_as_strings() {
        let rule = FaultRule::new(
            RouteSelector::parse("POST /rest/dmpSegments/*/users").expect("valid"),
            Fault::Reset,
        );
        let json = serde_json::to_value(&rule).expect("serialisable");
        assert_eq!(json["route"], "POST /rest/dmpSegments/*/users");
        assert_eq!(json["fault"], "reset");
        let back: FaultRule = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, rule);
    }
}
