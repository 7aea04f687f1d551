//! What the simulator remembers: the public snapshot types ([`SimState`], [`DedupCounts`]) and
//! the mutable world behind the lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::config::{ConversionRule, DmpSegment, Lag, SegmentType, SimConfig};
use super::faults::FaultEngine;
use super::routes::RouteKind;

/// Most requests kept in [`SimState::requests`] by default (`SimConfig::max_recorded_requests`);
/// older ones are dropped first.
pub(crate) const MAX_RECORDED_REQUESTS: usize = 100_000;

/// A snapshot of everything the simulator saw and holds, from [`LinkedInSim::state`](super::LinkedInSim::state).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimState {
    /// All DMP segments (seeded first, then created ones in creation order).
    pub segments: Vec<DmpSegment>,
    /// Members per segment id.
    pub members: BTreeMap<u64, SegmentMembers>,
    /// Conversion events accepted (single and batch), in arrival order.
    pub conversion_events: Vec<ReceivedConversion>,
    /// Conversion rules (seeded and created), with updates applied.
    pub conversion_rules: Vec<ConversionRule>,
    /// Campaign ↔ conversion-rule associations.
    pub campaign_conversions: Vec<CampaignConversion>,
    /// Access tokens issued by the token endpoint.
    pub tokens_issued: Vec<IssuedToken>,
    /// Every request to the token endpoint, with its answer.
    pub refresh_requests: Vec<RefreshRequest>,
    /// Every request received (the most recent `SimConfig::max_recorded_requests`, by default
    /// 100 000), in arrival order.
    pub requests: Vec<RecordedRequest>,
}

impl SimState {
    /// The recorded requests of one kind.
    pub fn requests_to(&self, kind: RouteKind) -> Vec<&RecordedRequest> {
        self.requests.iter().filter(|r| r.route == kind).collect()
    }

    /// The segment of `account_id` with this `sourceSegmentId` and type.
    pub fn segment(
        &self,
        account_id: &str,
        source_segment_id: &str,
        segment_type: SegmentType,
    ) -> Option<&DmpSegment> {
        self.segments.iter().find(|s| {
            s.account_id == account_id
                && s.source_segment_id.as_deref() == Some(source_segment_id)
                && s.segment_type == segment_type
        })
    }
}

/// Members of one DMP segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentMembers {
    /// Current members: for USER segments the first user id as `IDTYPE:value`
    /// (e.g. `SHA256_EMAIL:584c…`), for COMPANY segments the `organizationUrn` if given, else the
    /// `companyWebsiteDomain`.
    pub current: BTreeSet<String>,
    /// Accepted ADD elements.
    pub adds: u64,
    /// Accepted REMOVE elements.
    pub removes: u64,
    /// Elements answered with a per-element 400.
    pub rejected: u64,
}

/// An accepted conversion event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedConversion {
    /// The rule id from `conversion`.
    pub rule_id: String,
    /// `eventId`, when sent.
    pub event_id: Option<String>,
    /// `conversionHappenedAt` (epoch ms).
    pub conversion_happened_at: i64,
    /// True when it came in a BATCH_CREATE.
    pub batch: bool,
    /// The element as sent.
    pub element: Value,
}

/// A campaign associated with a conversion rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignConversion {
    /// Campaign id.
    pub campaign_id: String,
    /// Conversion rule id.
    pub rule_id: String,
}

/// An access token the token endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The new access token.
    pub access_token: String,
    /// The refresh token it was issued for.
    pub refresh_token: String,
    /// The client that asked.
    pub client_id: String,
}

/// One call of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshRequest {
    /// The form fields, in order.
    pub form: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
    /// The OAuth `error` answered, if any (`invalid_grant`, `invalid_client`, ...).
    pub error: Option<String>,
}

/// What became of a recorded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// Still being handled (delayed, hanging before the hang was recorded, ...).
    InFlight,
    /// Answered with this status.
    Responded(u16),
    /// The connection was reset by a fault.
    Reset,
    /// A fault made it hang.
    Hung,
}

/// A request as received: method, raw path and query, headers, body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// 0-based arrival number.
    pub seq: u64,
    /// Method, upper case.
    pub method: String,
    /// Path and query exactly as on the request line (not decoded).
    pub path_and_query: String,
    /// How it was routed.
    pub route: RouteKind,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body as text (invalid UTF-8 replaced).
    pub body: String,
    /// What became of it.
    pub outcome: RequestOutcome,
}

impl RecordedRequest {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// How often each conversion event and each segment member was delivered (accepted), so tests
/// can assert "delivered exactly once".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DedupCounts {
    /// Accepted deliveries per conversion `eventId` (events without one are not counted here).
    pub conversion_events: BTreeMap<String, u32>,
    /// Accepted deliveries per segment id, then per member key (see [`SegmentMembers::current`]).
    pub members: BTreeMap<u64, BTreeMap<String, MemberDeliveries>>,
}

impl DedupCounts {
    /// Deliveries of the conversion event with this `eventId`.
    pub fn event(&self, event_id: &str) -> u32 {
        self.conversion_events.get(event_id).copied().unwrap_or(0)
    }

    /// Deliveries of `member` to segment `segment_id`.
    pub fn member(&self, segment_id: u64, member: &str) -> MemberDeliveries {
        self.members
            .get(&segment_id)
            .and_then(|m| m.get(member))
            .copied()
            .unwrap_or_default()
    }

    /// Event ids delivered more than once.
    pub fn duplicate_events(&self) -> Vec<&str> {
        self.conversion_events
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// ADD / REMOVE deliveries of one member to one segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemberDeliveries {
    /// Accepted ADD elements.
    pub adds: u32,
    /// Accepted REMOVE elements.
    pub removes: u32,
}

impl MemberDeliveries {
    /// ADDs plus REMOVEs.
    pub fn total(&self) -> u32 {
        self.adds + self.removes
    }
}

/// The state of an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenStatus {
    Active,
    Revoked,
    Expired,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenEntry {
    pub(crate) status: TokenStatus,
    pub(crate) created: Instant,
    pub(crate) lag: Lag,
    pub(crate) refused: u32,
}

impl TokenEntry {
    pub(crate) fn new(status: TokenStatus, created: Instant, lag: Lag) -> Self {
        Self {
            status,
            created,
            lag,
            refused: 0,
        }
    }
}

/// Whether something with `lag`, created at `created` and refused `refused` times, still lags.
pub(crate) fn still_lagging(lag: &Lag, created: Instant, refused: u32, now: Instant) -> bool {
    refused < lag.requests || now.saturating_duration_since(created) < lag.duration
}

#[derive(Debug, Clone)]
pub(crate) struct SegmentEntry {
    pub(crate) segment: DmpSegment,
    pub(crate) created: Instant,
    pub(crate) lag: Lag,
    pub(crate) refused: u32,
}

/// The mutable world. Lives behind one mutex; no lock is held across an await.
#[derive(Debug)]
pub(crate) struct Inner {
    /// The configuration; its seed lists (segments, rules, faults) are moved out at start.
    pub(crate) config: SimConfig,
    pub(crate) rules: Vec<ConversionRule>,
    pub(crate) segments: Vec<SegmentEntry>,
    pub(crate) members: BTreeMap<u64, SegmentMembers>,
    pub(crate) conversion_events: Vec<ReceivedConversion>,
    pub(crate) campaign_conversions: Vec<CampaignConversion>,
    pub(crate) tokens_issued: Vec<IssuedToken>,
    pub(crate) refresh_requests: Vec<RefreshRequest>,
    pub(crate) requests: VecDeque<RecordedRequest>,
    pub(crate) next_seq: u64,
    /// How many requests ended each way: the status (`"429"`), `"reset"` or `"hung"`.
    pub(crate) outcomes: BTreeMap<String, u64>,
    pub(crate) dedup: DedupCounts,
    pub(crate) access_tokens: HashMap<String, TokenEntry>,
    pub(crate) revoked_refresh_tokens: BTreeSet<String>,
    pub(crate) faults: FaultEngine,
    pub(crate) id_rng: ChaCha8Rng,
    pub(crate) next_rule_id: u64,
}

impl Inner {
    pub(crate) fn new(mut config: SimConfig, now: Instant) -> Self {
        let mut access_tokens = HashMap::new();
        for t in &config.access_tokens {
            access_tokens.insert(
                t.clone(),
                TokenEntry::new(TokenStatus::Active, now, Lag::NONE),
            );
        }
        for t in &config.revoked_access_tokens {
            access_tokens.insert(
                t.clone(),
                TokenEntry::new(TokenStatus::Revoked, now, Lag::NONE),
            );
        }
        for t in &config.expired_access_tokens {
            access_tokens.insert(
                t.clone(),
                TokenEntry::new(TokenStatus::Expired, now, Lag::NONE),
            );
        }
        let segments = std::mem::take(&mut config.segments)
            .into_iter()
            .map(|segment| SegmentEntry {
                segment,
                created: now,
                lag: Lag::NONE,
                refused: 0,
            })
            .collect();
        let rules = std::mem::take(&mut config.conversion_rules);
        let next_rule_id = rules
            .iter()
            .filter_map(|r| r.id.parse::<u64>().ok())
            .max()
            .map_or(9100, |m| m.saturating_add(1).max(9100));
        let mut id_rng = ChaCha8Rng::seed_from_u64(config.seed);
        id_rng.set_stream(1);
        let faults = FaultEngine::new(std::mem::take(&mut config.faults), config.seed, now);
        Self {
            rules,
            revoked_refresh_tokens: config.revoked_refresh_tokens.iter().cloned().collect(),
            config,
            segments,
            members: BTreeMap::new(),
            conversion_events: Vec::new(),
            campaign_conversions: Vec::new(),
            tokens_issued: Vec::new(),
            refresh_requests: Vec::new(),
            requests: VecDeque::new(),
            next_seq: 0,
            outcomes: BTreeMap::new(),
            dedup: DedupCounts::default(),
            access_tokens,
            faults,
            id_rng,
            next_rule_id,
        }
    }

    pub(crate) fn snapshot(&self) -> SimState {
        SimState {
            segments: self.segments.iter().map(|s| s.segment.clone()).collect(),
            members: self.members.clone(),
            conversion_events: self.conversion_events.clone(),
            conversion_rules: self.rules.clone(),
            campaign_conversions: self.campaign_conversions.clone(),
            tokens_issued: self.tokens_issued.clone(),
            refresh_requests: self.refresh_requests.clone(),
            requests: self.requests.iter().cloned().collect(),
        }
    }

    /// Records a request and returns its sequence number.
    pub(crate) fn record(&mut self, mut request: RecordedRequest) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        request.seq = seq;
        while !self.requests.is_empty() && self.requests.len() >= self.config.max_recorded_requests
        {
            self.requests.pop_front();
        }
        if self.config.max_recorded_requests == 0 {
            return seq;
        }
        self.requests.push_back(request);
        seq
    }

    /// Sets the outcome of recorded request `seq` (if it is still kept).
    pub(crate) fn set_outcome(&mut self, seq: u64, outcome: RequestOutcome) {
        let name = match outcome {
            RequestOutcome::InFlight => None,
            RequestOutcome::Responded(status) => Some(status.to_string()),
            RequestOutcome::Reset => Some("reset".to_owned()),
            RequestOutcome::Hung => Some("hung".to_owned()),
        };
        if let Some(name) = name {
            *self.outcomes.entry(name).or_default() += 1;
        }
        let Some(first) = self.requests.front().map(|r| r.seq) else {
            return;
        };
        let Some(index) = seq.checked_sub(first).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        if let Some(r) = self.requests.get_mut(index) {
            r.outcome = outcome;
        }
    }

    /// Epoch milliseconds "now" for request validation.
    pub(crate) fn now_ms(&self) -> i64 {
        self.config.now_ms.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        })
    }
}
